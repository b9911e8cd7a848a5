// Package signcli is the olr-sign command: it runs at the vendor, makes
// the vendor's keys, opens activation requests (req.olr) and issues signed
// licenses (license.olr) for OEM keys.
package signcli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
)

// Main runs the command with the process arguments and exits.
func Main() { cliutil.Run(NewApp(), os.Args) }

var identityFlag = &cli.StringFlag{Name: "identity", Aliases: []string{"i"}, Required: true,
	EnvVars: []string{"OLR_VENDOR_KEY"}, Usage: "vendor key `FILE` written by keygen"}

// NewApp returns the command-line application.
func NewApp() *cli.App {
	app := &cli.App{
		Name:            "olr-sign",
		Usage:           "issue offline licenses for activation requests (vendor side)",
		HideHelpCommand: true,
		Commands: []*cli.Command{
			keygenCommand(),
			inspectCommand(),
			issueCommand(),
			auditCommand(),
			keysCommand(),
			ledgerCommand(),
			revokeCommand(),
			crlCommand(),
			serveCommand(),
			usersCommand(),
			poolCommand(),
		},
	}
	cliutil.EnableCompletion(app)
	return app
}

func keygenCommand() *cli.Command {
	return &cli.Command{
		Name:  "keygen",
		Usage: "make a new vendor key set",
		Description: "Writes FILE (the age identity that opens requests; `age -d -i FILE req.olr` works),\n" +
			"FILE.sign (the license signing key), and the public FILE.recipient and FILE.trust.\n" +
			"Existing files are never overwritten.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "write the key to `FILE`"},
			&cli.BoolFlag{Name: "x25519", Usage: "use a classic X25519 request key instead of the post-quantum hybrid (ML-KEM-768 + X25519)"},
			&cli.StringFlag{Name: "rotate", Usage: "replace the signing key whose trust bundle is `OLD.trust`: the new bundle keeps the old keys, valid until now"},
			&cli.BoolFlag{Name: "unencrypted", Usage: "write the secret key files without a passphrase (anyone who can read them can sign licenses)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cliutil.BadArgs(c, "keygen takes no arguments")
			}
			k, err := signer.GenerateKeys(!c.Bool("x25519"), time.Now())
			if err != nil {
				return err
			}
			if old := c.String("rotate"); old != "" {
				data, err := cliutil.ReadInput(old, "trust bundle", olr.MaxTrustSize)
				if err != nil {
					return err
				}
				t, err := olr.ParseTrust(data)
				if err != nil {
					return cliutil.Usagef("%s: %v", old, err)
				}
				if err := k.Rotate(t); err != nil {
					return cliutil.Usagef("%s: %v", old, err)
				}
			}
			out := c.String("output")
			if out == "-" || strings.TrimSpace(out) == "" {
				return cliutil.Usagef("keygen writes key files: -o needs a file name, not %q", out)
			}
			// Refuse an existing key before asking for a passphrase.
			for _, p := range []string{out, signer.SigningPath(out), signer.RecipientPath(out), signer.TrustPath(out)} {
				if _, err := os.Lstat(p); err == nil {
					return cliutil.Usagef("%s already exists; refusing to overwrite a key", p)
				}
			}
			pass := ""
			if !c.Bool("unencrypted") {
				if pass, err = cliutil.Passphrase("Passphrase for the new vendor key: ", true); err != nil {
					return err
				}
				if pass == "" {
					return cliutil.WithHint(errors.New("empty passphrase"), cliutil.ExitUsage,
						"use --unencrypted to write the key without a passphrase")
				}
			}
			if err := signer.WriteKeys(out, k, pass); err != nil {
				return cliutil.Code(err, cliutil.ExitUsage)
			}
			fmt.Fprintf(os.Stderr, "olr-sign: wrote %s and %s (secret: keep them on the vendor's signing machine)\n", out, signer.SigningPath(out))
			fmt.Fprintf(os.Stderr, "olr-sign: wrote %s and %s (public: give them to the machine side)\n", signer.RecipientPath(out), signer.TrustPath(out))
			fmt.Printf("# request recipient (olr request --vendor)\n%s\n# trust bundle (olr import --trust)\n%s", k.Recipient, k.Trust().Marshal())
			return nil
		},
	}
}
