package signcli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/gctune"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/signer"
)

// runIssueBatch is olr-sign issue --batch DIR -o OUTDIR: every request in
// DIR answered through the ledger, the licenses written into OUTDIR as
// NAME.license.olr. Exit 0 when all are answered, 1 when some are refused,
// 2 when some cannot be read (or on a usage error).
func runIssueBatch(c *cli.Context, opts *signer.IssueOptions) error {
	in, out := c.String("batch"), c.String("output")
	switch {
	case c.NArg() > 0:
		return cliutil.BadArgs(c, "with --batch, issue takes no request file: it answers every *.olr file in %s", in)
	case c.IsSet("transfer"):
		return cliutil.Usagef("--transfer moves one key and cannot be used with --batch")
	case out == "-":
		return cliutil.Usagef("with --batch, -o names a directory for the licenses")
	}
	if fi, err := os.Stat(in); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return cliutil.Usagef("--batch %s: %v", in, unwrapPath(err))
	}
	if fi, err := os.Stat(out); err == nil && !fi.IsDir() {
		return cliutil.Usagef("-o %s: not a directory (with --batch, -o names a directory)", out)
	}
	is, err := issuerFromFlags(c)
	if err != nil {
		return err
	}
	defer is.Ledger.Close()
	b := &signer.Batch{Issuer: is, Operator: operator(c), Options: *opts}
	var bar *progressBar
	if term.IsTerminal(int(os.Stderr.Fd())) {
		bar = &progressBar{w: os.Stderr}
		b.Progress = bar.update
	}
	defer gctune.Batch()()
	start := time.Now()
	res, err := b.Run(c.Context, in, out)
	bar.clear()
	if res != nil {
		printBatchSummary(os.Stderr, res, out, time.Since(start))
	}
	if res != nil && res.Answered() > 0 {
		printHead(c, is.Ledger)
	}
	if errors.Is(err, signer.ErrOutDirBusy) {
		return cliutil.WithHint(fmt.Errorf("-o %s: %w", out, err), cliutil.ExitUsage, "wait for it to finish, or write into another directory")
	}
	if err != nil {
		if le := ledgerError(is.Ledger.Path(), err); le != err {
			return le
		}
		return cliutil.Usagef("batch stopped: %v", err)
	}
	switch {
	case len(res.Errors) > 0:
		return cliutil.Code(fmt.Errorf("%d of %d requests could not be read", len(res.Errors), res.Total), cliutil.ExitUsage)
	case len(res.Refused) > 0:
		return cliutil.Refusedf("%d of %d requests refused", len(res.Refused), res.Total)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// printBatchSummary writes the summary of a batch. File names come from
// the request directory and messages may hold what requests said: both
// are quoted or sanitised, so that a name holding a newline cannot forge
// a summary line, nor an escape sequence act on the terminal.
func printBatchSummary(w io.Writer, r *signer.BatchResult, out string, took time.Duration) {
	fmt.Fprintf(w, "olr-sign: %d requests in %s: %d issued, %d re-issued, %d replayed, %d refused, %d errors; %d license files written to %s\n",
		r.Total, took.Round(time.Millisecond), r.Issued, r.Reissued, r.Replayed, len(r.Refused), len(r.Errors), r.Written, safetext.Sanitize(out))
	rules, byRule := r.RefusedByRule()
	for _, rule := range rules {
		es := byRule[rule]
		fmt.Fprintf(w, "olr-sign: refused (%s): %d: %s\n", rule, len(es), fileList(es))
		for _, e := range es {
			fmt.Fprintf(w, "olr-sign:   %s: %s\n", safetext.Field(e.File), safetext.Sanitize(e.Refused.Msg))
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "olr-sign: errors: %d: %s\n", len(r.Errors), fileList(r.Errors))
		for _, e := range r.Errors {
			fmt.Fprintf(w, "olr-sign:   %s: %s\n", safetext.Field(e.File), safetext.Sanitize(unwrapPath(e.Err).Error()))
		}
	}
}

// fileList names the files of es, quoted, at most maxListed of them.
func fileList(es []signer.BatchEntry) string {
	const maxListed = 20
	names := make([]string, 0, min(len(es), maxListed))
	for i, e := range es {
		if i == maxListed {
			names = append(names, fmt.Sprintf("and %d more", len(es)-maxListed))
			break
		}
		names = append(names, safetext.Field(e.File))
	}
	return strings.Join(names, ", ")
}

// progressBar draws "[#####.....] 512/10000 5%" on one terminal line,
// at most ten times a second.
type progressBar struct {
	w    io.Writer
	mu   sync.Mutex
	last time.Time
	drew bool
}

const barWidth = 30

func (p *progressBar) update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if done != total && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	filled := 0
	if total > 0 {
		filled = done * barWidth / total
	}
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %d%%", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled),
		done, total, done*100/max(total, 1))
	p.drew = true
}

// clear erases the bar so the summary starts on a clean line.
func (p *progressBar) clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drew {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
