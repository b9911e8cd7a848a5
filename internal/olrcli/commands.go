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
			fp, tc, err := collectTPM(c)
			if err != nil {
				return err
			}
			t := tpmDetailsOf(tc)
			if c.Bool("json") {
				return cliutil.PrintJSON(savedFingerprint{Fingerprint: *fp, TPM: t})
			}
			printFingerprint(os.Stdout, fp, t)
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
			fp, err := collect(c)
			if err != nil {
				return err
			}
			req, err := olr.NewRequest(c.String("product"), c.String("licensee"), c.String("key"), hostnameOf(c.String("root")), "olr "+cliutil.Version(), fp, time.Now())
			if err != nil {
				return cliutil.Usagef("%v", err)
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
		Flags:     []cli.Flag{trustFlag, stateFlag, productFlag, tpmFlag, rootFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cliutil.BadArgs(c, "import takes one license file (- for standard input)")
			}
			path := c.Args().First()
			lic, err := cliutil.ReadInput(path, "license", olr.MaxCRLSize)
			if err != nil {
				return err
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
				return cliutil.Usagef("license %s is too large (more than %d bytes): is it the right file?", path, olr.MaxLicenseSize)
			}
			fp, err := collect(c)
			if err != nil {
				return err
			}
			res, err := st.Install(lic, trust, fp, time.Now(), &olr.VerifyOptions{Product: c.String("product")})
			if err != nil {
				if c.Bool("json") {
					cliutil.PrintJSON(resultJSON(res, nil))
				} else {
					printResult(os.Stdout, res, false)
				}
				return verifyExit(path, res, err)
			}
			if c.IsSet("trust") {
				if err := safefile.Replace(filepath.Join(st.Dir, trustFile), trustData, 0o644); err != nil {
					return cliutil.Usagef("license installed, but saving the trust bundle failed: %v", err)
				}
			}
			if c.Bool("json") {
				return cliutil.PrintJSON(resultJSON(res, nil))
			}
			printResult(os.Stdout, res, false)
			fmt.Fprintf(os.Stderr, "olr: installed license %s in %s\n", res.License.ID, st.Dir)
			return nil
		},
	}
}

// importRevocations installs the vendor's revocation list; the installed
// license is checked against it from then on.
func importRevocations(path string, data []byte, st *store.Store, trust *olr.Trust) error {
	list, err := st.InstallRevocations(data, trust)
	if errors.Is(err, store.ErrOlderRevocations) {
		return cliutil.Refusedf("%s: %v", path, err)
	}
	if err != nil {
		return cliutil.Usagef("%s: %v", path, err)
	}
	fmt.Fprintf(os.Stderr, "olr: installed revocation list %d (%d licenses revoked) in %s\n", list.Number, len(list.Revoked), st.Dir)
	if s, err := st.State(); err == nil && list.IsRevoked(s.LicenseID) {
		fmt.Fprintf(os.Stderr, "olr: warning: the installed license %s is revoked\n", s.LicenseID)
	}
	return nil
}

// verifyExit turns a verification failure into exit 1 (refused), or 2
// for a file that is not a license at all.
func verifyExit(path string, res *olr.Result, err error) error {
	code := cliutil.ExitRefused
	if res.Reason == olr.ReasonMalformed || res.Reason == olr.ReasonUnsupported {
		code = cliutil.ExitUsage
	}
	var hint string
	switch res.Reason {
	case olr.ReasonHardwareMismatch:
		switch m := res.Match; {
		case m != nil && len(m.RequiredUnmatched) > 0:
			hint = fmt.Sprintf("the license requires the %s factor to match: restore that hardware, or make a new request with olr request", m.RequiredUnmatched[0])
		case m != nil && m.Partial:
			hint = "this machine's hardware changed since the license was issued; make a new request with olr request and send req.olr to the vendor"
		default:
			hint = "this license was issued for another machine; run olr request here and send req.olr to the vendor"
		}
	case olr.ReasonUntrustedKey:
		hint = "check --trust: the license was signed by a key that bundle does not hold"
	case olr.ReasonClockRollback:
		hint = "set the system clock to the current time"
	case olr.ReasonGraceExpired:
		hint = "the hardware changed; make a new request with olr request and send it to the vendor"
	}
	if path != "" {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return cliutil.WithHint(err, code, hint)
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check the installed license (or --license FILE) on this machine",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "license", Usage: "verify `FILE` instead of the installed license (read-only)"},
			&cli.StringFlag{Name: "at", Usage: "judge at `TIME` (2027-01-31, RFC 3339, or +15d) without recording anything"},
			&cli.BoolFlag{Name: "explain", Usage: "show every factor and the match score"},
			trustFlag, stateFlag, productFlag, tpmFlag, rootFlag, jsonFlag,
		},
		Action: func(c *cli.Context) error { return runVerify(c, true) },
	}
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the installed license, its modules and its state",
		Flags: []cli.Flag{trustFlag, stateFlag, productFlag, tpmFlag, rootFlag, jsonFlag,
			&cli.StringFlag{Name: "at", Usage: "judge at `TIME` without recording anything"}},
		Action: func(c *cli.Context) error { return runVerify(c, false) },
	}
}

// runVerify is olr verify (isVerify) and olr status: status always shows
// every factor and the recorded state; verify does with --explain.
func runVerify(c *cli.Context, isVerify bool) error {
	if c.NArg() > 0 {
		return cliutil.BadArgs(c, "%s takes no arguments (use --license FILE)", c.Command.Name)
	}
	now := time.Now()
	at, err := parseAt(c.String("at"), now)
	if err != nil {
		return err
	}
	st := storeOf(c)
	trust, _, err := loadTrust(c, st)
	if err != nil {
		return err
	}
	fp, err := collect(c)
	if err != nil {
		return err
	}
	opts := &olr.VerifyOptions{Product: c.String("product")}
	var res *olr.Result
	path := c.String("license")
	var state *store.State
	if path != "" {
		lic, rerr := cliutil.ReadInput(path, "license", olr.MaxLicenseSize)
		if rerr != nil {
			return rerr
		}
		res, err = olr.Verify(lic, trust, fp, at, opts)
	} else {
		if c.IsSet("at") {
			res, err = st.Evaluate(trust, fp, at, opts)
		} else {
			res, err = st.Check(trust, fp, at, opts)
		}
		state, _ = st.State()
		path = filepath.Join(st.Dir, store.LicenseFile)
		if res.Reason == olr.ReasonNotInstalled {
			if c.Bool("json") {
				cliutil.PrintJSON(resultJSON(res, nil))
			}
			return cliutil.WithHint(err, cliutil.ExitRefused, "install one with olr import license.olr")
		}
	}
	if c.Bool("json") {
		cliutil.PrintJSON(resultJSON(res, state))
	} else {
		printResult(os.Stdout, res, !isVerify || c.Bool("explain"))
		if state != nil && !isVerify {
			fmt.Printf("installed:   %s\n", state.Installed.Format(time.RFC3339))
			fmt.Printf("last check:  %s\n", state.LastSeen.Format(time.RFC3339))
		}
	}
	if err != nil {
		return verifyExit(path, res, err)
	}
	if res.Status == olr.Grace {
		fmt.Fprintf(os.Stderr, "olr: warning: this machine no longer matches its license; it stops working at %s unless a new license is imported\n",
			res.GraceUntil.Format(time.RFC3339))
	}
	return nil
}

// hostnameOf names the machine a request is for: under --root, the image's
// /etc/hostname, not the name of the machine running olr.
func hostnameOf(root string) string {
	name := ""
	if root != "" {
		if data, err := os.ReadFile(filepath.Join(root, "etc", "hostname")); err == nil {
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
