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
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

var (
	ledgerFlag = &cli.StringFlag{Name: "ledger", EnvVars: []string{"OLR_LEDGER"},
		Usage: "the ledger: an SQLite `FILE` (default ~/.local/share/olr/ledger.db) or a postgres:// URL"}
	operatorFlag = &cli.StringFlag{Name: "operator", EnvVars: []string{"OLR_OPERATOR"},
		Usage: "`NAME` recorded with every action (default: the OS user)"}
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

// openLedger opens the ledger; create allows making a new one (keys
// import), otherwise a missing ledger is an error with a hint, so that a
// typo in --ledger never issues against an empty ledger.
func openLedger(c *cli.Context, create bool) (*ledger.Ledger, error) {
	path, err := ledgerPath(c)
	if err != nil {
		return nil, err
	}
	if !create && !ledger.IsPostgresURL(path) {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, cliutil.WithHint(fmt.Errorf("no ledger at %s", path), cliutil.ExitUsage,
				"import the keys sold first with olr-sign keys import, or give --ledger FILE")
		}
	}
	l, err := ledger.Open(path)
	if err != nil {
		return nil, cliutil.Usagef("%v", err)
	}
	return l, nil
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

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "the license keys sold, in the ledger",
		Subcommands: []*cli.Command{
			{
				Name:      "import",
				Usage:     "import keys sold from a CSV or JSON export of the sales system",
				ArgsUsage: "FILE.csv|FILE.json",
				Description: "CSV columns: license_key,licensee,type,product,modules,languages,expires,maintenance\n" +
					"with modules like obm=50;acb=20;mobile=unlimited, languages like en;zh-TW, dates YYYY-MM-DD.\n" +
					"JSON: an array of objects with the same fields. All or nothing; re-importing is safe.",
				Flags: []cli.Flag{ledgerFlag, operatorFlag},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return cliutil.BadArgs(c, "keys import takes one file")
					}
					path := c.Args().First()
					data, err := cliutil.ReadInput(path, "key export", 64<<20)
					if err != nil {
						return err
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
					l, err := openLedger(c, true)
					if err != nil {
						return err
					}
					defer l.Close()
					var res *ledger.ImportResult
					err = l.Update(c.Context, operator(c), func(tx *ledger.Tx) error {
						res, err = tx.ImportKeys(filepath.Base(path), keys)
						return err
					})
					if err != nil {
						return cliutil.Usagef("%s: %v", path, err)
					}
					fmt.Fprintf(os.Stderr, "olr-sign: %s: %d keys new, %d updated, %d unchanged, in %s\n",
						path, len(res.Created), len(res.Updated), len(res.Unchanged), l.Path())
					return nil
				},
			},
			{
				Name:  "list",
				Usage: "list the keys sold, with their activation",
				Flags: []cli.Flag{ledgerFlag, &cli.BoolFlag{Name: "json", Usage: "machine-readable output"}},
				Action: func(c *cli.Context) error {
					l, err := openLedger(c, false)
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
						return err
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
			},
			{
				Name:      "show",
				Usage:     "show one key: what was sold, its activations, licenses and transfers",
				ArgsUsage: "LICENSE_KEY",
				Flags:     []cli.Flag{ledgerFlag, &cli.BoolFlag{Name: "json", Usage: "machine-readable output"}},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return cliutil.BadArgs(c, "keys show takes one license key")
					}
					l, err := openLedger(c, false)
					if err != nil {
						return err
					}
					defer l.Close()
					var out struct {
						Key         *ledger.SoldKey
						Activations []ledger.Activation
						Licenses    []ledger.IssuedLicense
						Transfers   []ledger.Transfer
					}
					err = l.View(c.Context, func(tx *ledger.Tx) error {
						var err error
						if out.Key, err = tx.Key(c.Args().First()); err != nil {
							return err
						}
						if out.Activations, err = tx.Activations(out.Key.Key); err != nil {
							return err
						}
						if out.Licenses, err = tx.Licenses(out.Key.Key); err != nil {
							return err
						}
						out.Transfers, err = tx.Transfers(out.Key.Key)
						return err
					})
					if errors.Is(err, ledger.ErrNotFound) {
						return cliutil.Refusedf("no such key in the ledger (keys are case sensitive)")
					}
					if err != nil {
						return err
					}
					if c.Bool("json") {
						for i := range out.Licenses {
							out.Licenses[i].File = nil
						}
						return cliutil.PrintJSON(out)
					}
					k := out.Key
					fmt.Printf("key:         %s\nlicensee:    %s\ntype:        %s\nproduct:     %s\n", k.Key, k.Licensee, k.Type, k.Product)
					var mods []string
					for name, q := range k.Modules {
						mods = append(mods, name+" "+q.String())
					}
					fmt.Printf("modules:     %s\nlanguages:   %s\n", strings.Join(sorted(mods), ", "), strings.Join(k.Languages, ", "))
					for _, a := range out.Activations {
						fmt.Printf("activation:  %s license %s request %s (%s)\n", a.Created.UTC().Format(time.RFC3339), a.LicenseID, a.RequestID, a.State)
					}
					for _, li := range out.Licenses {
						fmt.Printf("license:     %s issued %s by %s (%s)\n", li.ID, li.Issued.UTC().Format(time.RFC3339), li.Operator, li.Status)
					}
					for _, t := range out.Transfers {
						fmt.Printf("transfer:    %s %s -> %s by %s: %s\n", t.Time.UTC().Format(time.RFC3339), t.FromLicense, t.ToLicense, t.Operator, t.Reason)
					}
					return nil
				},
			},
		},
	}
}

func ledgerCommand() *cli.Command {
	return &cli.Command{
		Name:  "ledger",
		Usage: "check the ledger",
		Subcommands: []*cli.Command{{
			Name:  "verify",
			Usage: "check the audit chain: detects edited, reordered or deleted records",
			Flags: []cli.Flag{ledgerFlag},
			Action: func(c *cli.Context) error {
				l, err := openLedger(c, false)
				if err != nil {
					return err
				}
				defer l.Close()
				if err := l.Verify(c.Context); err != nil {
					return cliutil.Refusedf("%s: %v", l.Path(), err)
				}
				h, err := l.Head(c.Context)
				if err != nil {
					return err
				}
				fmt.Printf("ledger %s: %d audit records, chain intact, head %x\n", l.Path(), h.Seq, h.Hash)
				return nil
			},
		}, ledgerCopyCommand()},
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
			l, err := openLedger(c, false)
			if err != nil {
				return err
			}
			defer l.Close()
			id := c.Args().First()
			err = l.Update(c.Context, operator(c), func(tx *ledger.Tx) error {
				_, err := tx.Revoke(id, c.String("reason"))
				return err
			})
			if errors.Is(err, ledger.ErrNotFound) {
				return cliutil.Usagef("license %s is not in the ledger", id)
			}
			if err != nil {
				return cliutil.Refusedf("revoke %s: %v", id, err)
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
		Flags: []cli.Flag{identityFlag, ledgerFlag, operatorFlag,
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "write the list to `FILE`"}},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cliutil.BadArgs(c, "crl takes no arguments")
			}
			k, err := loadKeys(c)
			if err != nil {
				return err
			}
			l, err := openLedger(c, false)
			if err != nil {
				return err
			}
			defer l.Close()
			var data []byte
			var crl *olr.RevocationList
			err = l.Update(c.Context, operator(c), func(tx *ledger.Tx) error {
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
				return err
			}
			if err := cliutil.WriteOutput(c.String("output"), data, 0o644); err != nil {
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
