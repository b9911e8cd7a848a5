package signcli

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
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

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:        "keys",
		Usage:       "the license keys sold, in the ledger",
		Subcommands: []*cli.Command{keysImportCommand(), keysListCommand(), keysShowCommand()},
	}
}

func keysImportCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "import keys sold from a CSV or JSON export of the sales system",
		ArgsUsage: "FILE.csv|FILE.json",
		Description: "CSV columns: license_key,licensee,type,product,modules,languages,expires,maintenance\n" +
			"with modules like obm=50;acb=20;mobile=unlimited, languages like en;zh-TW, dates YYYY-MM-DD.\n" +
			"JSON: an array of objects with the same fields. All or nothing; re-importing is safe.",
		Flags: []cli.Flag{ledgerFlag, operatorFlag,
			&cli.BoolFlag{Name: "create", Usage: "make a new ledger if there is no file at the ledger's path (never over an existing file)"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cliutil.BadArgs(c, "keys import takes one file")
			}
			path := c.Args().First()
			data, err := cliutil.ReadInput(path, "key export", ledger.MaxImportBytes)
			if err != nil {
				return err
			}
			if safetext.LooksSecret(string(data)) {
				return cliutil.WithHint(fmt.Errorf("%s holds secret key material, not a sales export: refusing to read it", path), cliutil.ExitUsage,
					"give the CSV or JSON export of the keys sold; nothing of the file is shown")
			}
			var keys []ledger.SoldKey
			if strings.HasPrefix(strings.TrimSpace(string(data)), "[") {
				keys, err = ledger.ImportJSON(strings.NewReader(string(data)))
			} else {
				keys, err = ledger.ImportCSV(strings.NewReader(string(data)))
			}
			if err != nil {
				return cliutil.Usagef("%s: %v", path, err)
			}
			access := writeLedger
			if c.Bool("create") {
				access = writeOrCreateLedger
			}
			l, err := openLedger(c, access)
			if err != nil {
				return err
			}
			defer l.Close()
			var res *ledger.ImportResult
			err = updateLedger(c, l, func(tx *ledger.Tx) error {
				res, err = tx.ImportKeys(filepath.Base(path), keys)
				return err
			})
			if err != nil {
				if le := ledgerError(l.Path(), err); le != err {
					return le
				}
				return cliutil.Usagef("%s: %v", path, err)
			}
			fmt.Fprintf(os.Stderr, "olr-sign: %s: %d keys new, %d updated, %d unchanged, in %s\n",
				path, len(res.Created), len(res.Updated), len(res.Unchanged), l.Path())
			return nil
		},
	}
}

func keysListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the keys sold, with their activation",
		Flags: []cli.Flag{ledgerFlag, &cli.BoolFlag{Name: "json", Usage: "machine-readable output"}},
		Action: func(c *cli.Context) error {
			l, err := openLedger(c, readLedger)
			if err != nil {
				return err
			}
			defer l.Close()
			type row struct {
				ledger.SoldKey
				Activation *ledger.Activation `json:"activation,omitempty"`
			}
			var rows []row
			err = l.View(c.Context, func(tx *ledger.Tx) error {
				keys, err := tx.Keys()
				for _, k := range keys {
					a, aerr := tx.ActiveActivation(k.Key)
					if aerr != nil && !errors.Is(aerr, ledger.ErrNotFound) {
						return aerr
					}
					rows = append(rows, row{k, a})
				}
				return err
			})
			if err != nil {
				return ledgerError(l.Path(), err)
			}
			if c.Bool("json") {
				return cliutil.PrintJSON(rows)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tLICENSEE\tTYPE\tPRODUCT\tACTIVATION")
			for _, r := range rows {
				act := "-"
				if r.Activation != nil {
					act = fmt.Sprintf("license %s since %s", r.Activation.LicenseID, r.Activation.Created.UTC().Format(time.DateOnly))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Key, r.Licensee, r.Type, r.Product, act)
			}
			return tw.Flush()
		},
	}
}

func keysShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show one key: what was sold, its activations, licenses and transfers",
		ArgsUsage: "LICENSE_KEY",
		Flags:     []cli.Flag{ledgerFlag, &cli.BoolFlag{Name: "json", Usage: "machine-readable output"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cliutil.BadArgs(c, "keys show takes one license key")
			}
			l, err := openLedger(c, readLedger)
			if err != nil {
				return err
			}
			defer l.Close()
			h, err := readKeyHistory(c, l, c.Args().First())
			if errors.Is(err, ledger.ErrNotFound) {
				return cliutil.Refusedf("no such key in the ledger (keys are case sensitive)")
			}
			if err != nil {
				return ledgerError(l.Path(), err)
			}
			if c.Bool("json") {
				for i := range h.Licenses {
					h.Licenses[i].File = nil
				}
				return cliutil.PrintJSON(h)
			}
			printKeyHistory(h)
			return nil
		},
	}
}

// keyHistory is what keys show prints.
type keyHistory struct {
	Key         *ledger.SoldKey
	Activations []ledger.Activation
	Licenses    []ledger.IssuedLicense
	Transfers   []ledger.Transfer
}

func readKeyHistory(c *cli.Context, l *ledger.Ledger, key string) (*keyHistory, error) {
	var h keyHistory
	err := l.View(c.Context, func(tx *ledger.Tx) error {
		var err error
		if h.Key, err = tx.Key(key); err != nil {
			return err
		}
		if h.Activations, err = tx.Activations(h.Key.Key); err != nil {
			return err
		}
		if h.Licenses, err = tx.Licenses(h.Key.Key); err != nil {
			return err
		}
		h.Transfers, err = tx.Transfers(h.Key.Key)
		return err
	})
	return &h, err
}

func printKeyHistory(h *keyHistory) {
	k := h.Key
	fmt.Printf("key:         %s\nlicensee:    %s\ntype:        %s\nproduct:     %s\n", k.Key, k.Licensee, k.Type, k.Product)
	var mods []string
	for name, q := range k.Modules {
		mods = append(mods, name+" "+q.String())
	}
	fmt.Printf("modules:     %s\nlanguages:   %s\n", strings.Join(sorted(mods), ", "), strings.Join(k.Languages, ", "))
	for _, a := range h.Activations {
		fmt.Printf("activation:  %s license %s request %s (%s)\n", a.Created.UTC().Format(time.RFC3339), a.LicenseID, a.RequestID, a.State)
	}
	for _, li := range h.Licenses {
		fmt.Printf("license:     %s issued %s by %s (%s)\n", li.ID, li.Issued.UTC().Format(time.RFC3339), li.Operator, li.Status)
	}
	for _, t := range h.Transfers {
		fmt.Printf("transfer:    %s %s -> %s by %s: %s\n", t.Time.UTC().Format(time.RFC3339), t.FromLicense, t.ToLicense, t.Operator, t.Reason)
	}
}

func ledgerCommand() *cli.Command {
	return &cli.Command{
		Name:        "ledger",
		Usage:       "make, check and anchor the ledger",
		Subcommands: []*cli.Command{ledgerInitCommand(), ledgerVerifyCommand(), ledgerAnchorCommand(), ledgerCopyCommand()},
	}
}

func ledgerInitCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "make a new, empty ledger (never over an existing file)",
		Flags: []cli.Flag{ledgerFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cliutil.BadArgs(c, "ledger init takes no arguments")
			}
			l, err := openLedger(c, createLedger)
			if err != nil {
				return err
			}
			defer l.Close()
			fmt.Fprintf(os.Stderr, "olr-sign: made a new ledger at %s; import the keys sold with olr-sign keys import\n", l.Path())
			return nil
		},
	}
}

func ledgerVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check the audit chain: detects edited, reordered or deleted records, and with --anchor a cut tail or an older copy",
		Description: "--anchor takes the head as olr-sign prints it after every write (SEQ:HASH), or a signed anchor\n" +
			"file written by olr-sign ledger anchor (checked against --trust FILE); repeatable.",
		Flags: []cli.Flag{ledgerFlag,
			&cli.StringSliceFlag{Name: "anchor", Usage: "the chain must still hold this record: `SEQ:HASH` or a signed anchor FILE; repeatable"},
			&cli.StringFlag{Name: "trust", Usage: "trust bundle `FILE` (vendor.key.trust) that signed anchor files are checked against"}},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cliutil.BadArgs(c, "ledger verify takes no arguments")
			}
			anchors, err := anchorsFromFlags(c)
			if err != nil {
				return err
			}
			l, err := openLedger(c, readLedger)
			if err != nil {
				return err
			}
			defer l.Close()
			if err := l.Verify(c.Context, anchors...); err != nil {
				var ce *ledger.ChainError
				if errors.As(err, &ce) {
					return cliutil.Refusedf("%s: %v", l.Path(), err)
				}
				return ledgerError(l.Path(), err)
			}
			h, err := l.Head(c.Context)
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("ledger %s: %d audit records, chain intact, head %s", l.Path(), h.Seq, h)
			if len(anchors) > 0 {
				msg += fmt.Sprintf(", %d anchors found", len(anchors))
			}
			fmt.Println(msg)
			return nil
		},
	}
}

// anchorsFromFlags reads --anchor: SEQ:HASH, or a signed anchor file.
func anchorsFromFlags(c *cli.Context) ([]ledger.Anchor, error) {
	var anchors []ledger.Anchor
	var trust *olr.Trust
	for _, v := range c.StringSlice("anchor") {
		if a, err := ledger.ParseAnchor(v); err == nil {
			anchors = append(anchors, a)
			continue
		} else if _, serr := os.Stat(v); serr != nil {
			return nil, cliutil.Usagef("--anchor: %v (and no file of that name)", err)
		}
		if trust == nil {
			tpath := c.String("trust")
			if tpath == "" {
				return nil, cliutil.WithHint(fmt.Errorf("--anchor %s: a signed anchor file needs the trust bundle to check it", v), cliutil.ExitUsage,
					"give it with --trust vendor.key.trust")
			}
			data, err := cliutil.ReadInput(tpath, "trust bundle", olr.MaxTrustSize)
			if err != nil {
				return nil, err
			}
			if trust, err = olr.ParseTrust(data); err != nil {
				return nil, cliutil.Usagef("%s: %v", tpath, err)
			}
		}
		data, err := cliutil.ReadInput(v, "ledger anchor", olr.MaxAnchorSize)
		if err != nil {
			return nil, err
		}
		a, err := olr.ParseLedgerAnchor(data, trust)
		var fe *olr.FormatError
		switch {
		case errors.As(err, &fe):
			return nil, cliutil.Usagef("--anchor %s: %v", v, err)
		case err != nil:
			// Well formed, but not signed by a trusted key: a forgery
			// or another vendor's anchor.
			return nil, cliutil.Refusedf("--anchor %s: %v", v, err)
		}
		anchors = append(anchors, ledger.Anchor{Seq: int64(a.Seq), Hash: a.Hash[:]})
	}
	return anchors, nil
}

func ledgerAnchorCommand() *cli.Command {
	return &cli.Command{
		Name:  "anchor",
		Usage: "write the ledger's head, signed by the vendor's signing key, to keep away from the ledger",
		Flags: []cli.Flag{identityFlag, ledgerFlag, forceFlag,
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "write the anchor to `FILE` (- for standard output)"}},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cliutil.BadArgs(c, "ledger anchor takes no arguments")
			}
			if err := checkOutput(c, c.String("output"), anchorOutput); err != nil && c.String("output") != "-" {
				return err
			}
			k, err := loadKeys(c)
			if err != nil {
				return err
			}
			l, err := openLedger(c, readLedger)
			if err != nil {
				return err
			}
			defer l.Close()
			if err := l.Verify(c.Context); err != nil {
				return cliutil.Refusedf("%s: %v: refusing to vouch for a ledger that does not verify", l.Path(), err)
			}
			h, err := l.Head(c.Context)
			if err != nil {
				return err
			}
			if h.Seq == 0 {
				return cliutil.Usagef("%s: the ledger has no record yet to anchor", l.Path())
			}
			data, err := olr.SignLedgerAnchor(&olr.LedgerAnchor{KeyID: k.KeyID, Issued: time.Now().UTC().Truncate(time.Second),
				Seq: uint64(h.Seq), Hash: h.Hash}, k.Signing)
			if err != nil {
				return err
			}
			if err := writeOutput(c, c.String("output"), data, anchorOutput); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "olr-sign: anchored the ledger's head %s, signed by key %s\n", h, k.KeyID)
			return nil
		},
	}
}

func revokeCommand() *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke an issued license",
		ArgsUsage: "LICENSE_ID",
		Flags: []cli.Flag{ledgerFlag, operatorFlag,
			&cli.StringFlag{Name: "reason", Required: true, Usage: "why, recorded in the ledger"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cliutil.BadArgs(c, "revoke takes one license ID")
			}
			l, err := openLedger(c, writeLedger)
			if err != nil {
				return err
			}
			defer l.Close()
			id := c.Args().First()
			err = updateLedger(c, l, func(tx *ledger.Tx) error {
				_, err := tx.Revoke(id, c.String("reason"))
				return err
			})
			switch {
			case errors.Is(err, ledger.ErrNotFound):
				return cliutil.Usagef("license %s is not in the ledger", safetext.Quote(id))
			case errors.Is(err, ledger.ErrBusy), errors.Is(err, ledger.ErrDiskFull):
				return ledgerError(l.Path(), err)
			case err != nil:
				return cliutil.Refusedf("revoke %s: %v", safetext.Quote(id), err)
			}
			fmt.Fprintf(os.Stderr, "olr-sign: revoked %s; publish a new list with olr-sign crl\n", id)
			return nil
		},
	}
}

func crlCommand() *cli.Command {
	return &cli.Command{
		Name:  "crl",
		Usage: "write the signed revocation list of every revoked license",
		Flags: []cli.Flag{identityFlag, ledgerFlag, operatorFlag, forceFlag,
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "write the list to `FILE` (- for standard output)"}},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cliutil.BadArgs(c, "crl takes no arguments")
			}
			out := c.String("output")
			if err := checkOutput(c, out, crlOutput); err != nil && out != "-" {
				return err
			}
			k, err := loadKeys(c)
			if err != nil {
				return err
			}
			l, err := openLedger(c, writeLedger)
			if err != nil {
				return err
			}
			defer l.Close()
			var data []byte
			var crl *olr.RevocationList
			err = updateLedger(c, l, func(tx *ledger.Tx) error {
				revs, err := tx.Revocations()
				if err != nil {
					return err
				}
				n, err := tx.NextCRLNumber()
				if err != nil {
					return err
				}
				crl = &olr.RevocationList{KeyID: olr.KeyIDOf(k.Signing.Public().(ed25519.PublicKey)), Number: n, Issued: tx.Now().UTC().Truncate(time.Second)}
				for _, r := range revs {
					crl.Revoked = append(crl.Revoked, r.LicenseID)
				}
				crl.Revoked = sorted(crl.Revoked)
				data, err = olr.SignRevocationList(crl, k.Signing)
				return err
			})
			if err != nil {
				return ledgerError(l.Path(), err)
			}
			if err := writeOutput(c, out, data, crlOutput); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "olr-sign: wrote revocation list number %d with %d licenses\n", crl.Number, len(crl.Revoked))
			return nil
		},
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
