package signcli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

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
			k, l, err := signingFromLedger(c, anchorOutput, readLedger)
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
