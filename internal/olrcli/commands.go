package olrcli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/internal/tpmreq"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/store"
)

func fingerprintCommand() *cli.Command {
	return &cli.Command{
		Name:        "fingerprint",
		Usage:       "show the hardware factors this machine would send, with their source",
		Flags:       []cli.Flag{jsonFlag, tpmFlag, rootFlag},
		Subcommands: []*cli.Command{diffCommand()},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cliutil.BadArgs(c, "fingerprint takes no arguments")
			}
			m, err := collect(c)
			if err != nil {
				return err
			}
			defer m.Close()
			t := tpmDetailsOf(m.TPM())
			if c.Bool("json") {
				return cliutil.PrintJSON(savedFingerprint{Fingerprint: *m.Fingerprint, TPM: t})
			}
			printFingerprint(os.Stdout, m.Fingerprint, t)
			return nil
		},
	}
}

func requestCommand() *cli.Command {
	return &cli.Command{
		Name:      "request",
		Usage:     "write the encrypted activation request for the vendor",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "vendor", Required: true, Usage: "the vendor's age recipient, or a `FILE` holding it (vendor.key.recipient)"},
			&cli.StringFlag{Name: "licensee", Required: true, Usage: "licensee `NAME`, exactly as on the receipt (case sensitive)"},
			&cli.StringFlag{Name: "key", Required: true, EnvVars: []string{"OLR_LICENSE_KEY"}, Usage: "license `KEY`, exactly as on the receipt (case sensitive)"},
			productFlag,
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "req.olr", Usage: "write the request to `FILE` (- for standard output)"},
			&cli.BoolFlag{Name: "binary", Usage: "write a binary age file instead of ASCII armor"},
			qrFlag, tpmFlag, rootFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cliutil.Usagef("request takes no arguments (did you mean -o %s?)", c.Args().First())
			}
			recipients, err := vendorRecipients(c.String("vendor"))
			if err != nil {
				return err
			}
			m, err := collect(c)
			if err != nil {
				return err
			}
			defer m.Close()
			fp := m.Fingerprint
			req, err := olr.NewRequest(c.String("product"), c.String("licensee"), c.String("key"), hostnameOf(c.String("root")), "olr "+cliutil.Version(), fp, time.Now())
			if err != nil {
				return cliutil.Usagef("%v", err)
			}
			if err := tpmreq.Attach(c.Context, m, req); err != nil {
				return cliutil.WithHint(err, cliutil.ExitUsage, "run with --tpm none to make a request without the TPM (its license cannot be bound to the TPM)")
			}
			data, err := olr.EncryptRequestCompressed(req, recipients, false)
			if err != nil {
				return cliutil.Usagef("cannot encrypt the request: %v", err)
			}
			bin := data
			if !c.Bool("binary") {
				if data, err = armored(bin); err != nil {
					return err
				}
			}
			out := c.String("output")
			if c.Bool("qr") && out == "-" {
				return cliutil.Usagef("--qr prints to standard output: write the request to a file with -o FILE")
			}
			if c.Bool("binary") && out == "-" && term.IsTerminal(int(os.Stdout.Fd())) {
				return cliutil.Usagef("refusing to write binary output to a terminal; drop --binary or use -o FILE")
			}
			if err := cliutil.WriteOutput(out, data, 0o644); err != nil {
				return err
			}
			if out != "-" {
				fmt.Fprintf(os.Stderr, "olr: wrote %s (request %s, %d factors); send it to the vendor\n", out, req.ID, len(fp.Factors))
			}
			if c.Bool("qr") {
				return printQR(os.Stdout, bin, req.ID)
			}
			return nil
		},
	}
}

// vendorRecipients parses --vendor: a recipient, or a file of recipients.
func vendorRecipients(v string) ([]age.Recipient, error) {
	if strings.HasPrefix(v, "age1") {
		r, err := olr.ParseRecipients(v)
		if err != nil {
			return nil, cliutil.Usagef("--vendor: %v", err)
		}
		return r, nil
	}
	data, err := cliutil.ReadInput(v, "vendor recipient file", 64<<10)
	if err != nil {
		return nil, err
	}
	r, err := olr.ParseRecipients(string(data))
	if err != nil && strings.Contains(string(data), "AGE-SECRET-KEY") {
		return nil, cliutil.WithHint(fmt.Errorf("%s: this is the vendor's secret key, not its recipient", v), cliutil.ExitUsage,
			"use vendor.key.recipient, and remove the secret key from this machine: it must stay with the vendor")
	}
	if err != nil {
		return nil, cliutil.Usagef("%s: %v", v, err)
	}
	return r, nil
}

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "verify license.olr against this machine and install it (or install the vendor's revoked.olr)",
		ArgsUsage: "license.olr|revoked.olr",
		Flags:     []cli.Flag{trustFlag, stateFlag, productFlag, tpmFlag, refusedRootFlag, jsonFlag},
		Action:    runImport,
	}
}

func runImport(c *cli.Context) error {
	return withJSONFailure(c, func(printed *bool) error {
		if c.NArg() != 1 {
			return cliutil.BadArgs(c, "import takes one license file (- for standard input)")
		}
		if err := refuseRoot(c, "to check a license against an image or a saved tree without installing it, use olr verify --license FILE --root DIR"); err != nil {
			return err
		}
		path := c.Args().First()
		lic, err := cliutil.ReadInput(path, "license", olr.MaxCRLSize)
		if err != nil {
			return reasoned{olr.ReasonMalformed, err}
		}
		st := storeOf(c)
		trust, trustData, err := loadTrust(c, st)
		if err != nil {
			return err
		}
		if bytes.HasPrefix(bytes.TrimLeft(lic, "\r\n"), []byte("-----BEGIN OLR REVOCATION LIST-----")) {
			return importRevocations(path, lic, st, trust)
		}
		if len(lic) > olr.MaxLicenseSize {
			return reasoned{olr.ReasonMalformed, cliutil.Usagef("license %s is too large (more than %d bytes): is it the right file?", path, olr.MaxLicenseSize)}
		}
		m, err := collect(c)
		if err != nil {
			return reasoned{olr.ReasonFingerprintFailed, err}
		}
		defer m.Close()
		res, err := st.Install(lic, trust, m.Fingerprint, time.Now(), &olr.VerifyOptions{Product: c.String("product"), TPM: m.Prover()})
		*printed = true
		if c.Bool("json") {
			cliutil.PrintJSON(resultJSON(res, nil))
		} else {
			printResult(os.Stdout, res, false)
		}
		if err != nil {
			return verifyExit(path, res, err)
		}
		if c.IsSet("trust") {
			if err := safefile.Replace(filepath.Join(st.Dir, trustFile), trustData, 0o644); err != nil {
				return cliutil.Usagef("license installed, but saving the trust bundle failed: %v", err)
			}
		}
		if !c.Bool("json") {
			fmt.Fprintf(os.Stderr, "olr: installed license %s in %s\n", res.License.ID, st.Dir)
		}
		return nil
	})
}

// importRevocations installs the vendor's revocation list; the installed
// license is checked against it from then on.
func importRevocations(path string, data []byte, st *store.Store, trust *olr.Trust) error {
	list, err := st.InstallRevocations(data, trust)
	var se *store.StateError
	switch {
	case errors.Is(err, store.ErrOlderRevocations):
		return cliutil.Refusedf("%s: %v", path, err)
	case errors.As(err, &se):
		return cliutil.WithHint(err, cliutil.ExitUsage, se.Hint)
	case err != nil:
		return cliutil.Usagef("%s: %v", path, err)
	}
	fmt.Fprintf(os.Stderr, "olr: installed revocation list %d (%d licenses revoked) in %s\n", list.Number, len(list.Revoked), st.Dir)
	if s, err := st.State(); err == nil && list.IsRevoked(s.LicenseID) {
		fmt.Fprintf(os.Stderr, "olr: warning: the installed license %s is revoked\n", s.LicenseID)
	}
	return nil
}

// hostnameOf names the machine a request is for: under --root, the image's
// /etc/hostname, not the name of the machine running olr.
func hostnameOf(root string) string {
	name := ""
	if root != "" {
		if data, err := safefile.ReadFile(filepath.Join(root, "etc", "hostname"), 4096); err == nil {
			name = strings.TrimSpace(string(data))
		}
	} else {
		name, _ = os.Hostname()
	}
	if olr.CheckText(name) != nil {
		return "unknown"
	}
	return name
}
