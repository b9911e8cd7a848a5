package signcli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
)

var poolJSONFlag = &cli.BoolFlag{Name: "json", Usage: "machine-readable output"}

func poolCommand() *cli.Command {
	return &cli.Command{
		Name:  "pool",
		Usage: "license pools: a partner's OEM keys converted into CALs shared by new keys",
		Description: "A pool holds the CALs of OEM keys sold to one licensee for one product. Keys added\n" +
			"to a pool no longer activate on their own; keys issued from it are OEM keys whose\n" +
			"quotas come out of the pool, and activate offline as any other.",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "make a new, empty pool",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{ledgerFlag, operatorFlag, poolJSONFlag},
				Action: poolAction(1, 1, "pool create takes one pool name", func(c *cli.Context, ps *signer.Pools) error {
					st, err := ps.Create(c.Context, operator(c), c.Args().First())
					if err != nil {
						return poolCommandError(err)
					}
					fmt.Fprintf(os.Stderr, "olr-sign: created pool %s; add keys sold with olr-sign pool add %s KEY...\n", st.Name, st.Name)
					if c.Bool("json") {
						return cliutil.PrintJSON(signer.ViewPool(st))
					}
					return nil
				}),
			},
			{
				Name:      "add",
				Usage:     "convert OEM keys sold into the pool's CALs (they no longer activate on their own)",
				ArgsUsage: "NAME KEY...",
				Flags:     []cli.Flag{ledgerFlag, operatorFlag, poolJSONFlag},
				Action: poolAction(2, -1, "pool add takes a pool name and one or more license keys", func(c *cli.Context, ps *signer.Pools) error {
					args := c.Args().Slice()
					st, err := ps.Add(c.Context, operator(c), args[0], args[1:]...)
					if err != nil {
						return poolCommandError(err)
					}
					fmt.Fprintf(os.Stderr, "olr-sign: added %d keys to pool %s\n", len(args)-1, st.Name)
					return printPool(c, st)
				}),
			},
			{
				Name:      "show",
				Usage:     "show a pool: CALs per module (total, allocated, available), its sources and the keys issued",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{ledgerFlag, poolJSONFlag},
				Action: poolAction(1, 1, "pool show takes one pool name", func(c *cli.Context, ps *signer.Pools) error {
					st, err := ps.Show(c.Context, c.Args().First())
					if err != nil {
						return poolCommandError(err)
					}
					return printPool(c, st)
				}),
			},
			{
				Name:  "list",
				Usage: "list the pools with their CALs",
				Flags: []cli.Flag{ledgerFlag, poolJSONFlag},
				Action: poolAction(0, 0, "pool list takes no arguments", func(c *cli.Context, ps *signer.Pools) error {
					pools, err := ps.List(c.Context)
					if err != nil {
						return err
					}
					views := make([]*signer.PoolView, 0, len(pools))
					for _, st := range pools {
						views = append(views, signer.ViewPool(st))
					}
					if c.Bool("json") {
						return cliutil.PrintJSON(views)
					}
					tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "POOL\tLICENSEE\tPRODUCT\tSOURCES\tISSUED\tAVAILABLE")
					for _, v := range views {
						var avail []string
						for _, m := range v.Modules {
							avail = append(avail, m.Module+" "+m.Available.String())
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", v.Name, orDash(v.Licensee), orDash(v.Product),
							len(v.Sources), len(v.Issued), orDash(strings.Join(avail, ", ")))
					}
					return tw.Flush()
				}),
			},
			{
				Name:      "issue-key",
				Usage:     "record a new OEM key whose quotas come out of the pool; prints the key",
				ArgsUsage: "NAME",
				Description: "The key gets the pool's product and licensee (or --licensee), the languages every\n" +
					"source has (or --language), and expires when the pool's first source does.\n" +
					"A pool that lacks the CALs asked for refuses, with the numbers.",
				Flags: []cli.Flag{ledgerFlag, operatorFlag, poolJSONFlag,
					&cli.StringSliceFlag{Name: "module", Aliases: []string{"m"}, Required: true,
						Usage: "`NAME=QUOTA` taken from the pool, such as obm=30 or mobile=unlimited (repeat for each module)"},
					&cli.StringFlag{Name: "licensee", DefaultText: "the pool's licensee", Usage: "who the key is sold to, exactly as requests will name it"},
					&cli.StringSliceFlag{Name: "language", DefaultText: "all of the pool's", Usage: "a language `TAG` the key carries, among the pool's; repeatable"},
					&cli.StringFlag{Name: "key", DefaultText: "a new random OEM-XXXX-XXXX-XXXX-XXXX", Usage: "name the new key `KEY`"},
				},
				Action: poolAction(1, 1, "pool issue-key takes one pool name", func(c *cli.Context, ps *signer.Pools) error {
					spec, err := poolKeySpec(c)
					if err != nil {
						return err
					}
					k, st, err := ps.IssueKey(c.Context, operator(c), c.Args().First(), spec)
					if err != nil {
						return poolCommandError(err)
					}
					fmt.Fprintf(os.Stderr, "olr-sign: issued key %s from pool %s for %s: %s; left in the pool: %s\n",
						k.Key, st.Name, safetext.Quote(k.Licensee), quotaList(k.Modules), availableList(st))
					if c.Bool("json") {
						return cliutil.PrintJSON(struct {
							Key  *ledger.SoldKey  `json:"key"`
							Pool *signer.PoolView `json:"pool"`
						}{k, signer.ViewPool(st)})
					}
					fmt.Println(k.Key)
					return nil
				}),
			},
			{
				Name:      "release",
				Usage:     "give the CALs of a key issued from a pool back to it (never activated, or its licenses revoked)",
				ArgsUsage: "KEY",
				Flags:     []cli.Flag{ledgerFlag, operatorFlag, poolJSONFlag},
				Action: poolAction(1, 1, "pool release takes one license key", func(c *cli.Context, ps *signer.Pools) error {
					key := c.Args().First()
					st, err := ps.Release(c.Context, operator(c), key)
					if err != nil {
						return poolCommandError(err)
					}
					fmt.Fprintf(os.Stderr, "olr-sign: released key %s: its CALs are back in pool %s; it no longer activates\n", key, st.Name)
					return printPool(c, st)
				}),
			},
		},
	}
}

// poolAction checks the number of arguments (max -1: no limit), opens
// the ledger and runs fn with the pools of the ledger.
func poolAction(minArgs, maxArgs int, usage string, fn func(c *cli.Context, ps *signer.Pools) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.NArg() < minArgs || maxArgs >= 0 && c.NArg() > maxArgs {
			return cliutil.BadArgs(c, "%s", usage)
		}
		l, err := openLedger(c, writeLedger)
		if err != nil {
			return err
		}
		defer l.Close()
		return fn(c, &signer.Pools{Ledger: l})
	}
}

// poolKeySpec reads what issue-key asks for from its flags.
func poolKeySpec(c *cli.Context) (*signer.PoolKeySpec, error) {
	spec := &signer.PoolKeySpec{Key: c.String("key"), Licensee: c.String("licensee"), Modules: map[string]ledger.Quota{}}
	if c.IsSet("key") && spec.Key == "" {
		return nil, cliutil.Usagef("--key needs a license key")
	}
	if c.IsSet("licensee") && spec.Licensee == "" {
		return nil, cliutil.Usagef("--licensee needs a name")
	}
	for _, m := range c.StringSlice("module") {
		name, qs, ok := strings.Cut(m, "=")
		if !ok {
			return nil, cliutil.Usagef("--module %s: want NAME=QUOTA, such as obm=30", safetext.Quote(m))
		}
		if !olr.ValidModuleName(name) {
			return nil, cliutil.Usagef("--module %s: a module name is lower-case letters, digits and '-', such as obm or vmware-vm", safetext.Quote(m))
		}
		q, err := olr.ParseQuota(qs)
		if err != nil {
			return nil, cliutil.Usagef("--module %s: %v", safetext.Quote(m), err)
		}
		if _, dup := spec.Modules[name]; dup {
			return nil, cliutil.Usagef("--module: %s is given twice", name)
		}
		spec.Modules[name] = ledger.Quota(q)
	}
	if c.IsSet("language") {
		spec.Languages = c.StringSlice("language")
		for _, l := range spec.Languages {
			if !olr.ValidLanguageTag(l) {
				return nil, cliutil.Usagef("--language %s is not a language tag like en or zh-TW", safetext.Quote(l))
			}
		}
	}
	return spec, nil
}

// poolCommandError gives a pool command's error its exit code: 1 for a
// refusal (the pool lacks CALs, a key may not be pooled or released), 2
// for a name the ledger does not know or a value it refuses.
func poolCommandError(err error) error {
	var refused *signer.RefusedError
	var ve *ledger.ValidationError
	switch {
	case errors.As(err, &refused):
		if refused.Rule == signer.RulePoolShort {
			return cliutil.WithHint(err, cliutil.ExitRefused, "add keys sold to the pool (olr-sign pool add), or release keys issued from it that are not in use (olr-sign pool release)")
		}
		return cliutil.Code(err, cliutil.ExitRefused)
	case errors.Is(err, ledger.ErrNotFound):
		return cliutil.Usagef("%s (names and keys are case sensitive)", strings.TrimPrefix(err.Error(), "ledger: "))
	case errors.Is(err, ledger.ErrDuplicate), errors.As(err, &ve):
		return cliutil.Usagef("%s", strings.TrimPrefix(err.Error(), "ledger: "))
	}
	return err
}

// printPool prints a pool: as JSON with --json, else as text.
func printPool(c *cli.Context, st *ledger.PoolState) error {
	v := signer.ViewPool(st)
	if c.Bool("json") {
		return cliutil.PrintJSON(v)
	}
	return writePool(os.Stdout, v)
}

func writePool(w io.Writer, v *signer.PoolView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	expires, maint := "never", "none"
	if v.Expires != "" {
		expires = v.Expires + " (when the first source does)"
	}
	if v.Maintenance != "" {
		maint = "until " + v.Maintenance
	}
	fmt.Fprintf(tw, "pool:\t%s\nlicensee:\t%s\nproduct:\t%s\n", v.Name, orDash(v.Licensee), orDash(v.Product))
	fmt.Fprintf(tw, "new keys:\tlanguages %s; expire %s; maintenance %s\n", orDash(strings.Join(v.Languages, ", ")), expires, maint)
	tw.Flush()
	if len(v.Modules) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MODULE\tTOTAL\tALLOCATED\tAVAILABLE")
		for _, m := range v.Modules {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Module, m.Total, m.Allocated, m.Available)
		}
		tw.Flush()
	}
	for _, part := range []struct {
		title string
		keys  []signer.PoolKeyView
	}{{"SOURCE", v.Sources}, {"ISSUED KEY", v.Issued}} {
		if len(part.keys) == 0 {
			continue
		}
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\tLICENSEE\tMODULES\tEXPIRES\tSTATE\n", part.title)
		for _, k := range part.keys {
			state := k.State
			if k.Released != nil {
				state += " " + k.Released.Format(time.DateOnly)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Key, k.Licensee, quotaList(k.Modules), orDash(k.Expires), state)
		}
		tw.Flush()
	}
	return nil
}

// quotaList writes modules as "acb 10, obm 30", by name.
func quotaList(m map[string]ledger.Quota) string {
	var s []string
	for name, q := range m {
		s = append(s, name+" "+q.String())
	}
	slices.Sort(s)
	return orDash(strings.Join(s, ", "))
}

func availableList(st *ledger.PoolState) string {
	var s []string
	for _, m := range st.Modules {
		s = append(s, m.Name+" "+m.Available.String())
	}
	return orDash(strings.Join(s, ", "))
}
