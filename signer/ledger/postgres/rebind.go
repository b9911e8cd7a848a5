package postgres

import "strconv"

// Rebind rewrites a statement written with SQLite's placeholders (?,
// and ?N for the Nth argument) into PostgreSQL's ($1, $2, …, and $N).
// The ledger writes each statement once, for both engines, in SQLite's
// form; a ? inside a quoted string or identifier is left alone.
func Rebind(query string) string {
	out := make([]byte, 0, len(query)+8)
	n := 0
	var quote byte // the quote character we are inside, or 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			j := i + 1
			for j < len(query) && '0' <= query[j] && query[j] <= '9' {
				j++
			}
			out = append(out, '$')
			if j > i+1 {
				out = append(out, query[i+1:j]...)
				i = j - 1
			} else {
				n++
				out = strconv.AppendInt(out, int64(n), 10)
			}
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

// Rebind is the package's Rebind, for the ledger's engine interface.
func (e *Engine) Rebind(query string) string { return Rebind(query) }
