package signcli

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/signer/portal"
)

// passwordEnv supplies a new account password to scripts.
const passwordEnv = "OLR_USER_PASSWORD"

func usersCommand() *cli.Command {
	return &cli.Command{
		Name:  "users",
		Usage: "the support desk's accounts, in the ledger",
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add an account",
				ArgsUsage: "NAME",
				Description: "Roles: support (inspect requests, issue licenses), admin (also transfer, revoke,\n" +
					"publish the revocation list, import keys), auditor (read only).\n" +
					"The password is asked twice on the terminal, or read from " + passwordEnv + ".",
				Flags: []cli.Flag{ledgerFlag, operatorFlag,
					&cli.StringFlag{Name: "role", Required: true, Usage: "`ROLE`: support, admin or auditor"}},
				Action: func(c *cli.Context) error {
					name, err := accountName(c)
					if err != nil {
						return err
					}
					role, err := portal.ParseRole(c.String("role"))
					if err != nil {
						return cliutil.Usagef("--role: %v", err)
					}
					// The password first: a refusal leaves no new ledger behind.
					hash, err := newPasswordHash(name)
					if err != nil {
						return err
					}
					return changeAccount(c, name, true, func(a *portal.Account) error {
						a.Role, a.PasswordHash = role, hash
						return nil
					})
				},
			},
			changeCommand("passwd", "set an account's password (ends its sessions)",
				func(a *portal.Account) (err error) {
					a.PasswordHash, err = newPasswordHash(a.Name)
					return err
				}),
			changeCommand("disable", "disable an account (ends its sessions; accounts are never deleted)",
				func(a *portal.Account) error {
					a.Disabled = true
					return nil
				}),
			{
				Name:  "list",
				Usage: "list the accounts",
				Flags: []cli.Flag{ledgerFlag, &cli.BoolFlag{Name: "json", Usage: "machine-readable output"}},
				Action: func(c *cli.Context) error {
					l, err := openLedger(c, readLedger)
					if err != nil {
						return err
					}
					defer l.Close()
					list, err := portal.LedgerAccounts(l).ListAccounts(c.Context)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						if list == nil {
							list = []portal.Account{}
						}
						return cliutil.PrintJSON(list)
					}
					tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tUPDATED")
					for _, a := range list {
						state := "enabled"
						if a.Disabled {
							state = "disabled"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, a.Role, state, a.Updated.UTC().Format(time.RFC3339))
					}
					return tw.Flush()
				},
			},
		},
	}
}

// accountName is the one argument of the users subcommands.
func accountName(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", cliutil.BadArgs(c, "%s takes one account name", c.Command.FullName())
	}
	name := c.Args().First()
	if err := portal.CheckName(name); err != nil {
		return "", cliutil.Usagef("%v", err)
	}
	return name, nil
}

// changeCommand is a users subcommand that applies change to an existing
// account.
func changeCommand(name, usage string, change func(*portal.Account) error) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "NAME",
		Flags:     []cli.Flag{ledgerFlag, operatorFlag},
		Action: func(c *cli.Context) error {
			account, err := accountName(c)
			if err != nil {
				return err
			}
			return changeAccount(c, account, false, change)
		},
	}
}

// newPasswordHash asks for the account's new password and returns its
// hash.
func newPasswordHash(name string) (string, error) {
	pw, err := cliutil.Password(passwordEnv, "New password for "+name+": ")
	if err != nil {
		return "", err
	}
	if err := portal.CheckPassword(pw); err != nil {
		return "", cliutil.Usagef("%v", err)
	}
	return portal.HashPassword(pw), nil
}

// changeAccount applies change to the named account (a new one when
// create) and stores it in the ledger, audited under the operator.
func changeAccount(c *cli.Context, name string, create bool, change func(*portal.Account) error) error {
	l, err := openLedger(c, writeLedger)
	if err != nil {
		return err
	}
	defer l.Close()
	store := portal.LedgerAccounts(l)
	a, err := store.Account(c.Context, name)
	switch {
	case create && err == nil:
		return cliutil.Usagef("account %s already exists (olr-sign users passwd %s sets its password)", name, name)
	case create && errors.Is(err, portal.ErrNoAccount):
		a = &portal.Account{Name: name}
	case errors.Is(err, portal.ErrNoAccount):
		return cliutil.Usagef("no account %s in %s", name, l.Path())
	case err != nil:
		return err
	}
	if err := change(a); err != nil {
		return err
	}
	if err := store.PutAccount(c.Context, operator(c), a); err != nil {
		return cliutil.Usagef("account %s: %v", name, err)
	}
	verb := map[bool]string{true: "added", false: "updated"}[create]
	fmt.Fprintf(os.Stderr, "olr-sign: %s account %s (%s) in %s\n", verb, name, a.Role, l.Path())
	return nil
}
