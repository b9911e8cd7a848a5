package olr

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A FormatError reports a malformed file: where, and what. Wrapped in a
// VerifyError it reads "license malformed: line 3: ...".
type FormatError struct {
	Line int // 1-based line of the file; 0 when not about one line
	Msg  string
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// ErrUnsupportedFormat is wrapped by the error of a license or revocation
// list whose format line names a version this code does not read: a file
// from a later olr, not a damaged one.
var ErrUnsupportedFormat = errors.New("unsupported format")

// ErrKeyNotValid is wrapped by the error of a license or revocation list
// issued outside the validity window of the key that signed it.
var ErrKeyNotValid = errors.New("outside the validity window of its signing key")

// signedDoc describes one armored, signed text format: license.olr or a
// revocation list. Both share the layout BEGIN line, body, "signature:"
// line, END line, and differ in markers, format tag, size and label.
type signedDoc struct {
	name   string // for errors: "license"
	begin  string
	end    string
	format string
	// newer is a later format this code reads too; empty for none.
	newer string
	max   int
	label string
}

var licenseDoc = &signedDoc{name: "license", begin: licenseBegin, end: licenseEnd, format: licenseFormat,
	newer: licenseFormatV2, max: MaxLicenseSize, label: licenseSigLabel}

// message returns what the signature covers: the label, then the exact
// body bytes from the "format:" line through the newline before the
// "signature:" line.
func (d *signedDoc) message(body []byte) []byte {
	m := make([]byte, 0, len(d.label)+len(body))
	return append(append(m, d.label...), body...)
}

// seal wraps a body and its signature in the armor.
func (d *signedDoc) seal(body []byte, key ed25519.PrivateKey) []byte {
	sig := ed25519.Sign(key, d.message(body))
	var b bytes.Buffer
	b.WriteString(d.begin)
	b.Write(body)
	b.WriteString(signatureField + base64.RawStdEncoding.EncodeToString(sig) + "\n")
	b.WriteString(d.end)
	return b.Bytes()
}

// unpaste undoes what copy and paste, mail programs and Windows editors
// do to a text file, and nothing more: CRLF line endings become LF, and
// blank lines before and after the armor are dropped (the END line keeps
// its LF, or gets it back). Spaces, tabs and lone CRs are not forgiven, so
// every single-byte change of a license still fails: the signature covers
// the LF form.
func unpaste(data []byte) []byte {
	if bytes.Contains(data, []byte("\r\n")) {
		data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	}
	trimmed := bytes.Trim(data, "\n")
	if len(trimmed) == 0 {
		return nil
	}
	if len(trimmed)+1 == len(data) && data[len(data)-1] == '\n' && data[0] != '\n' {
		return data // the usual case: nothing to undo
	}
	return append(trimmed[:len(trimmed):len(trimmed)], '\n')
}

// split checks the armor and returns the body (the signed bytes) and the
// signature, without interpreting the body beyond its first two lines: the
// format line and the key ID, which are needed to pick the key.
func (d *signedDoc) split(data []byte) (body, sig []byte, id KeyID, err error) {
	if len(data) > d.max {
		return nil, nil, id, &FormatError{Msg: fmt.Sprintf("file is larger than %d bytes", d.max)}
	}
	data = unpaste(data)
	if len(data) == 0 {
		return nil, nil, id, &FormatError{Msg: "file is empty"}
	}
	if !bytes.HasPrefix(data, []byte(strings.TrimSpace(d.begin))) {
		return nil, nil, id, &FormatError{Line: 1, Msg: fmt.Sprintf("not an olr %s: it does not start with %q", d.name, strings.TrimSpace(d.begin))}
	}
	if bytes.IndexByte(data, '\r') >= 0 {
		return nil, nil, id, &FormatError{Msg: "stray CR character: the file was altered"}
	}
	if !bytes.HasPrefix(data, []byte(d.begin)) {
		return nil, nil, id, &FormatError{Line: 1, Msg: fmt.Sprintf("want %q alone on the first line", strings.TrimSpace(d.begin))}
	}
	if !bytes.HasSuffix(data, []byte(d.end)) {
		return nil, nil, id, &FormatError{Msg: fmt.Sprintf("file does not end with %q", strings.TrimSpace(d.end))}
	}
	if len(data) < len(d.begin)+len(d.end) {
		return nil, nil, id, &FormatError{Msg: "no signature line"}
	}
	inner := data[len(d.begin) : len(data)-len(d.end)]
	// Every line between the markers ends in LF. The last one is the
	// signature; no other may look like a signature or an armor line, so
	// that two files pasted one after the other are malformed rather
	// than a signature that fails.
	var sigLine []byte
	for line, start := 2, 0; start < len(inner); line++ {
		n := bytes.IndexByte(inner[start:], '\n') + 1
		if n == 0 {
			return nil, nil, id, &FormatError{Line: line, Msg: fmt.Sprintf("want %q alone on the last line", strings.TrimSpace(d.end))}
		}
		text := inner[start : start+n]
		switch {
		case start+n == len(inner):
			if !bytes.HasPrefix(text, []byte(signatureField)) {
				return nil, nil, id, &FormatError{Line: line, Msg: fmt.Sprintf("want the signature line right before %q", strings.TrimSpace(d.end))}
			}
			body, sigLine = inner[:start], text[len(signatureField):len(text)-1]
		case bytes.HasPrefix(text, []byte("signature:")):
			return nil, nil, id, &FormatError{Line: line, Msg: "a signature line before the last line: two files pasted together?"}
		case bytes.HasPrefix(text, []byte("-----")):
			return nil, nil, id, &FormatError{Line: line, Msg: "an armor line inside the file: two files pasted together?"}
		}
		start += n
	}
	if sigLine == nil {
		return nil, nil, id, &FormatError{Msg: "no signature line"}
	}
	sig, err = decodeB64(string(sigLine), ed25519.SignatureSize)
	if err != nil {
		return nil, nil, id, &FormatError{Msg: "signature: " + err.Error()}
	}
	first, rest, _ := bytes.Cut(body, []byte("\n"))
	if v, ok := bytes.CutPrefix(first, []byte("format: ")); !ok {
		return nil, nil, id, &FormatError{Line: 2, Msg: fmt.Sprintf("want \"format: %s\"", d.format)}
	} else if string(v) != d.format && (d.newer == "" || string(v) != d.newer) {
		reads := d.format
		if d.newer != "" {
			reads += " and " + d.newer
		}
		return nil, nil, id, fmt.Errorf("%s: %w %s (this olr reads %s)", d.name, ErrUnsupportedFormat, quoteShort(string(v)), reads)
	}
	second, _, _ := bytes.Cut(rest, []byte("\n"))
	v, ok := bytes.CutPrefix(second, []byte("key-id: "))
	if !ok {
		return nil, nil, id, &FormatError{Line: 3, Msg: `want "key-id: ..."`}
	}
	if id, err = ParseKeyID(string(v)); err != nil {
		return nil, nil, id, &FormatError{Line: 3, Msg: fmt.Sprintf("key ID %s is not 16 lower-case hex digits", quoteShort(string(v)))}
	}
	return body, sig, id, nil
}

// authenticate splits data and verifies its signature with the trusted
// key it names.
func (d *signedDoc) authenticate(data []byte, trust *Trust) (body []byte, key *TrustedKey, err error) {
	body, sig, id, err := d.split(data)
	if err != nil {
		return nil, nil, err
	}
	key, ok := trust.Key(id)
	if !ok {
		return nil, nil, fmt.Errorf("%w (key %s)", ErrUnknownKey, id)
	}
	if !ed25519.Verify(key.Public, d.message(body), sig) {
		return nil, nil, ErrBadSignature
	}
	return body, key, nil
}

// quoteShort quotes at most 64 bytes of s for an error message: s comes
// from the file, and a message must stay short and printable.
func quoteShort(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "..."
	}
	return strconv.Quote(s)
}
