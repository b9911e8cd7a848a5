package signcli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/signer/ledger"
)

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
			var rows []keyRow
			err = l.View(c.Context, func(tx *ledger.Tx) error {
				keys, err := tx.Keys()
				for _, k := range keys {
					a, aerr := tx.ActiveActivation(k.Key)
					if aerr != nil && !errors.Is(aerr, ledger.ErrNotFound) {
						return aerr
					}
					rows = append(rows, keyRow{k, a})
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

// keyRow is one line of keys list.
type keyRow struct {
	ledger.SoldKey
	Activation *ledger.Activation
}

// MarshalJSON writes the sale as the ledger writes it, with the active
// activation, if any, as one more member: the sale's own MarshalJSON
// would otherwise stand for the whole row and leave the activation out.
func (r keyRow) MarshalJSON() ([]byte, error) {
	sale, err := json.Marshal(r.SoldKey)
	if err != nil || r.Activation == nil {
		return sale, err
	}
	act, err := json.Marshal(r.Activation)
	if err != nil {
		return nil, err
	}
	out := append(sale[:len(sale)-1:len(sale)-1], `,"activation":`...)
	return append(append(out, act...), '}'), nil
}

// keyHistory is what keys show prints.
type keyHistory struct {
	Key         *ledger.SoldKey        `json:"key"`
	Activations []ledger.Activation    `json:"activations"`
	Licenses    []ledger.IssuedLicense `json:"licenses"`
	Transfers   []ledger.Transfer      `json:"transfers"`
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

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
