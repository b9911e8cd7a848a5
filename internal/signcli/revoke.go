package signcli

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
)

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
			k, l, err := signingFromLedger(c, crlOutput, writeLedger)
			if err != nil {
				return err
			}
			defer l.Close()
			var data []byte
			var crl *olr.RevocationList
			err = updateLedger(c, l, func(tx *ledger.Tx) (err error) {
				crl, data, err = signer.PublishCRL(tx, k)
				return err
			})
			if err != nil {
				return ledgerError(l.Path(), err)
			}
			if err := writeOutput(c, c.String("output"), data, crlOutput); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "olr-sign: wrote revocation list number %d with %d licenses\n", crl.Number, len(crl.Revoked))
			return nil
		},
	}
}
