package signcli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/signer/ledger"
)

var (
	ledgerFlag = &cli.StringFlag{Name: "ledger", EnvVars: []string{"OLR_LEDGER"},
		DefaultText: "~/.local/share/olr/ledger.db", Usage: "the ledger: an SQLite `FILE` or a postgres:// URL"}
	operatorFlag = &cli.StringFlag{Name: "operator", EnvVars: []string{"OLR_OPERATOR"},
		DefaultText: "the OS user", Usage: "`NAME` recorded with every action"}
)

func ledgerPath(c *cli.Context) (string, error) {
	if p := c.String("ledger"); p != "" {
		return p, nil
	}
	p, err := ledger.DefaultPath()
	if err != nil {
		return "", cliutil.Usagef("%v", err)
	}
	return p, nil
}

// ledgerAccess says how a command opens the ledger.
type ledgerAccess int

const (
	// readLedger: read only, no lock taken; works on a read-only copy.
	readLedger ledgerAccess = iota
	// writeLedger: an existing ledger, for reading and writing.
	writeLedger
	// createLedger: a new ledger, refusing any existing file.
	createLedger
	// writeOrCreateLedger: an existing ledger, or a new one if there is
	// no file at the path at all (keys import --create).
	writeOrCreateLedger
)

// ledgerWaitEnv names the environment variable that sets how long a
// command waits for another olr-sign holding the ledger's write lock
// (a Go duration, for each of the ledger's few attempts).
const ledgerWaitEnv = "OLR_LEDGER_WAIT"

// openLedger opens the ledger at --ledger (or the default path). Only
// createLedger and writeOrCreateLedger make a new one, so that a typo in
// --ledger, or a ledger deleted or truncated to nothing, never issues
// against an empty ledger that has forgotten every activation.
func openLedger(c *cli.Context, access ledgerAccess) (*ledger.Ledger, error) {
	path, err := ledgerPath(c)
	if err != nil {
		return nil, err
	}
	return openLedgerPath(path, access)
}

func openLedgerPath(path string, access ledgerAccess) (*ledger.Ledger, error) {
	var opts []ledger.Option
	if v := os.Getenv(ledgerWaitEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, cliutil.Usagef("%s=%s: not a duration like 30s", ledgerWaitEnv, safetext.Quote(v))
		}
		opts = append(opts, ledger.WithBusyTimeout(d))
	}
	if access == writeOrCreateLedger {
		access = writeLedger
		if ledger.IsPostgresURL(path) {
			// A database without a ledger's schema is made one.
			l, err := ledger.Open(path, opts...)
			if !errors.Is(err, ledger.ErrNotInitialised) {
				if err != nil {
					return nil, ledgerOpenError(path, err)
				}
				return l, nil
			}
			access = createLedger
		} else if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			access = createLedger
		}
	}
	var l *ledger.Ledger
	var err error
	switch access {
	case readLedger:
		l, err = ledger.OpenReadOnly(path, opts...)
	case writeLedger:
		l, err = ledger.Open(path, opts...)
	case createLedger:
		l, err = ledger.Create(path, opts...)
	}
	if err != nil {
		if le := ledgerError(path, err); le != err {
			return nil, le
		}
		return nil, ledgerOpenError(path, err)
	}
	return l, nil
}

// ledgerOpenError explains why a ledger did not open, with what to do.
func ledgerOpenError(path string, err error) error {
	path = ledger.Redacted(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return cliutil.WithHint(fmt.Errorf("no ledger at %s", path), cliutil.ExitUsage,
			"make one with olr-sign ledger init (or olr-sign keys import --create FILE), or give --ledger FILE")
	case errors.Is(err, fs.ErrExist):
		return cliutil.WithHint(fmt.Errorf("%s already exists: refusing to make a new ledger over it", path), cliutil.ExitUsage,
			"a ledger is made only where no file is; if this one is damaged, restore it from a backup")
	case errors.Is(err, ledger.ErrNotInitialised), errors.Is(err, ledger.ErrNotLedger):
		return cliutil.WithHint(fmt.Errorf("%s: %w", path, err), cliutil.ExitUsage,
			"this file is not a usable olr ledger (empty, truncated or another file); restore the ledger from a backup: olr-sign never starts a new ledger over an existing file")
	}
	return cliutil.Usagef("%s: %v", path, err)
}

// ledgerError is the command's error for a ledger operation that failed.
func ledgerError(path string, err error) error {
	path = ledger.Redacted(path)
	switch {
	case errors.Is(err, ledger.ErrBusy):
		return cliutil.WithHint(err, cliutil.ExitUsage, "try again when the other olr-sign is done, or wait longer with "+ledgerWaitEnv+"=2m")
	case errors.Is(err, ledger.ErrDiskFull):
		return cliutil.WithHint(fmt.Errorf("%s: %w", path, err), cliutil.ExitUsage, "nothing was recorded; free space on the disk of the ledger and try again")
	case errors.Is(err, ledger.ErrCannotWrite):
		return cliutil.WithHint(fmt.Errorf("%s: %w", path, err), cliutil.ExitUsage, "nothing was recorded; commands that only read (keys list, ledger verify, audit --ledger) work on a read-only copy")
	}
	return err
}

// operator is who is recorded as acting: --operator, else the OS user.
func operator(c *cli.Context) string {
	if o := strings.TrimSpace(c.String("operator")); o != "" {
		return o
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// printHead prints the ledger's head after a write, as a short anchor
// for the operator to note or publish (see olr-sign ledger verify
// --anchor).
func printHead(c *cli.Context, l *ledger.Ledger) {
	h, err := l.Head(c.Context)
	if err != nil {
		fmt.Fprintf(os.Stderr, "olr-sign: warning: cannot read the ledger's head: %v\n", err)
		return
	}
	fmt.Fprintf(os.Stderr, "olr-sign: ledger head %s (note it to detect a rollback later: olr-sign ledger verify --anchor %s)\n", h, h)
}

// updateLedger runs fn in one write transaction for the operator and
// prints the head once it is committed.
func updateLedger(c *cli.Context, l *ledger.Ledger, fn func(*ledger.Tx) error) error {
	if err := l.Update(c.Context, operator(c), fn); err != nil {
		return err
	}
	printHead(c, l)
	return nil
}
