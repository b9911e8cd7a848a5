package olrcli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/store"
)

var crlFlag = &cli.StringFlag{Name: "crl",
	Usage: "also apply the vendor's revocation list `FILE` (revoked.olr) when it is newer than the installed one; it is not installed"}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check the installed license (or --license FILE) on this machine",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "license", Usage: "verify `FILE` instead of the installed license (read-only)"},
			&cli.StringFlag{Name: "at", Usage: "judge at `TIME` (2027-01-31, RFC 3339, or +15d) without recording anything"},
			&cli.BoolFlag{Name: "explain", Usage: "show every factor and the match score"},
			crlFlag, trustFlag, stateFlag, productFlag, tpmFlag, whatIfRootFlag, jsonFlag,
		},
		Action: func(c *cli.Context) error { return runVerify(c, true) },
	}
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the installed license, its modules and its state",
		Flags: []cli.Flag{crlFlag, trustFlag, stateFlag, productFlag, tpmFlag, whatIfRootFlag, jsonFlag,
			&cli.StringFlag{Name: "at", Usage: "judge at `TIME` without recording anything"}},
		Action: func(c *cli.Context) error { return runVerify(c, false) },
	}
}

// reasoned is an error that ended a command before a verdict, with the
// reason its --json output gives (none for a usage error).
type reasoned struct {
	reason olr.Reason
	error
}

func (r reasoned) Unwrap() error { return r.error }

// withJSONFailure runs a command whose --json output must be JSON for
// every outcome: a failure before any verdict (an unreadable file, a
// fingerprint that cannot be read, a bad flag) prints an invalid result
// naming the error.
func withJSONFailure(c *cli.Context, run func(printed *bool) error) error {
	printed := false
	err := run(&printed)
	if err != nil && c.Bool("json") && !printed {
		j := &jsonResult{Status: olr.Invalid, Error: err.Error()}
		var r reasoned
		if errors.As(err, &r) {
			j.Reason = r.reason
		}
		cliutil.PrintJSON(j)
	}
	return err
}

// runVerify is olr verify (isVerify) and olr status: status always shows
// every factor and the recorded state; verify does with --explain.
func runVerify(c *cli.Context, isVerify bool) error {
	return withJSONFailure(c, func(printed *bool) error {
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
		crl, err := readCRL(c, st, trust)
		if err != nil {
			return err
		}
		m, err := collect(c)
		if err != nil {
			return reasoned{olr.ReasonFingerprintFailed, err}
		}
		defer m.Close()
		fp := m.Fingerprint
		opts := &olr.VerifyOptions{Product: c.String("product"), Revocations: crl, TPM: m.Prover()}
		var res *olr.Result
		path := c.String("license")
		var state *store.State
		if path != "" {
			lic, rerr := cliutil.ReadInput(path, "license", olr.MaxLicenseSize)
			if rerr != nil {
				return reasoned{olr.ReasonMalformed, rerr}
			}
			res, err = st.VerifyFile(lic, trust, fp, at, opts)
		} else {
			// --at and --root judge what would be, recording nothing: the
			// state belongs to this machine at the present time.
			if c.IsSet("at") || c.String("root") != "" {
				res, err = st.Evaluate(trust, fp, at, opts)
			} else {
				res, err = st.Check(trust, fp, at, opts)
			}
			state, _ = st.State()
			path = filepath.Join(st.Dir, store.LicenseFile)
		}
		*printed = true
		if root := c.String("root"); root != "" && c.String("license") == "" {
			fmt.Fprintf(os.Stderr, "olr: warning: judged against %s, not this machine; nothing is recorded\n", root)
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
	})
}

// readCRL reads --crl: a revocation list applied to this check only. One
// older than the installed list is refused, as olr import refuses it.
func readCRL(c *cli.Context, st *store.Store, trust *olr.Trust) (*olr.RevocationList, error) {
	path := c.String("crl")
	if path == "" {
		return nil, nil
	}
	data, err := cliutil.ReadInput(path, "revocation list", olr.MaxCRLSize)
	if err != nil {
		return nil, err
	}
	list, err := olr.ParseRevocationList(data, trust)
	if err != nil {
		return nil, cliutil.Usagef("%s: %v", path, err)
	}
	// A missing or damaged installed list fails the check itself, with
	// its own hint; here only an older list given is refused.
	if inst, err := st.Revocations(trust); err == nil && inst != nil && inst.Number > list.Number {
		return nil, cliutil.WithHint(fmt.Errorf("%s: %w (number %d, installed %d)", path, store.ErrOlderRevocations, list.Number, inst.Number),
			cliutil.ExitRefused, "give the vendor's latest revoked.olr, or leave --crl out to use the installed one")
	}
	return list, nil
}

// verifyExit turns a verification failure into exit 1 (refused), or 2
// for a file that is not a license at all or a damaged state.
func verifyExit(path string, res *olr.Result, err error) error {
	code := cliutil.ExitRefused
	if res.Reason == olr.ReasonMalformed || res.Reason == olr.ReasonUnsupported {
		code = cliutil.ExitUsage
	}
	hint := store.Hint(err)
	var se *store.StateError
	if errors.As(err, &se) {
		path = "" // the error names the file
	}
	if hint == "" {
		hint = verdictHint(res)
	}
	if path != "" {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return cliutil.WithHint(err, code, hint)
}

// verdictHint says what to do about a verdict.
func verdictHint(res *olr.Result) string {
	switch res.Reason {
	case olr.ReasonHardwareMismatch:
		return mismatchHint(res.Match)
	case olr.ReasonUntrustedKey:
		return "check --trust: the license was signed by a key that bundle does not hold"
	case olr.ReasonClockRollback:
		return "set the system clock to the current time"
	case olr.ReasonTPMUnavailable, olr.ReasonTPMMismatch:
		return tpmHint(res.Reason)
	case olr.ReasonGraceExpired:
		if drifted(res.Match) {
			return "the hardware changed; make a new request with olr request and send it to the vendor"
		}
		return "make a new request with olr request and send it to the vendor"
	}
	return ""
}

// mismatchHint explains a failed hardware match. It says the hardware
// changed only when some weighed hardware factor still matches: a license
// that weighs none of its factors (one olr-sign refuses to issue), or a
// machine that shares only unweighed factors, an address or a machine-id
// with it, is not this machine drifted.
func mismatchHint(m *fingerprint.Report) string {
	switch {
	case m == nil:
		return ""
	case m.Total == 0:
		return "the license's match policy weighs none of its factors, so no machine can match it; ask the vendor to issue it again"
	case len(m.RequiredUnmatched) > 0:
		return fmt.Sprintf("the license requires the %s factor to match: restore that hardware, or make a new request with olr request", m.RequiredUnmatched[0])
	case drifted(m):
		return "this machine's hardware changed since the license was issued; make a new request with olr request and send req.olr to the vendor"
	}
	return "this license was issued for another machine; run olr request here and send req.olr to the vendor"
}

// drifted reports whether a failed match still matches some hardware
// factor that the policy weighs, other than an address or a machine-id:
// the machine changed, rather than being another one.
func drifted(m *fingerprint.Report) bool {
	if m == nil {
		return false
	}
	for _, k := range m.Kinds {
		if k.Matched && k.Weight > 0 && k.Kind != fingerprint.KindIP && k.Kind != fingerprint.KindMachineID {
			return true
		}
	}
	return false
}
