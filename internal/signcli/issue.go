package signcli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
)

func issueCommand() *cli.Command {
	return &cli.Command{
		Name:      "issue",
		Usage:     "issue license.olr for an activation request",
		ArgsUsage: "req.olr",
		Flags: []cli.Flag{
			identityFlag,
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "write the license to `FILE` (- for standard output)"},
			&cli.StringFlag{Name: "entitlement", Aliases: []string{"e"}, Usage: "JSON `FILE` of what was sold (type, licensee, key, modules, languages, dates)"},
			&cli.StringFlag{Name: "type", DefaultText: "oem, or the entitlement's", Usage: "license `TYPE` of the key: oem, meter, active-pool, evaluation"},
			&cli.StringSliceFlag{Name: "module", Aliases: []string{"m"}, Usage: "module and quota, `NAME=QUOTA` (obm=50, mobile=unlimited); repeatable"},
			&cli.StringSliceFlag{Name: "language", Usage: "supported language `TAG` (en, zh-TW); repeatable"},
			&cli.StringFlag{Name: "expires", DefaultText: "never", Usage: "last valid `DATE` (YYYY-MM-DD)"},
			&cli.StringFlag{Name: "maintenance", Usage: "end of maintenance `DATE` (YYYY-MM-DD)"},
			&cli.IntFlag{Name: "grace-days", Value: int(olr.DefaultGrace.Hours() / 24), Usage: "grace period in `DAYS` after the hardware drifts"},
			&cli.StringSliceFlag{Name: "require", Usage: "factor `KIND` that must match when recorded (e.g. tpm-ek); repeatable"},
			&cli.IntFlag{Name: "threshold", Value: fingerprint.DefaultPolicy().Threshold, Usage: "`PERCENT` of the recorded weight that must match"},
			&cli.StringFlag{Name: "product", Usage: "refuse requests for another product than `NAME`"},
			ledgerFlag, operatorFlag, forceFlag,
			&cli.BoolFlag{Name: "no-ledger", Usage: "issue from the entitlement flags without a ledger: one key, one machine is NOT enforced"},
			&cli.StringFlag{Name: "transfer", Usage: "move the key to this new machine, revoking its license on the old one; `REASON` is recorded"},
			&cli.StringFlag{Name: "batch", Usage: "answer every request (*.olr) in `DIR`, writing the licenses into the -o directory"},
			&cli.StringFlag{Name: "allow-weak", Usage: "issue even when the request has no strong factor (only IP addresses and the machine-id, or a container), so that the license installs on every clone; `REASON` is recorded in the ledger"},
			tpmBindFlag, ekRootsFlag, allowUnattestedFlag,
		},
		Action: runIssue,
	}
}

// entitlementFlags are the flags that say what was sold; with a ledger,
// what was sold comes from the ledger and these are refused.
var entitlementFlags = []string{"entitlement", "type", "module", "language", "expires", "maintenance"}

func runIssue(c *cli.Context) error {
	opts, err := issueOptions(c)
	if err != nil {
		return err
	}
	if !c.Bool("no-ledger") {
		for _, f := range entitlementFlags {
			if c.IsSet(f) {
				return cliutil.WithHint(fmt.Errorf("--%s: with a ledger, what was sold comes from the ledger", f), cliutil.ExitUsage,
					"import the keys sold with olr-sign keys import, or issue without a ledger with --no-ledger")
			}
		}
		if c.IsSet("batch") {
			return runIssueBatch(c, opts)
		}
		return runIssueLedger(c, opts)
	}
	switch {
	case c.IsSet("transfer"):
		return cliutil.Usagef("--transfer needs the ledger: it records where the key was activated")
	case c.IsSet("batch"):
		return cliutil.Usagef("--batch needs the ledger: a re-run must find the requests already answered")
	}
	fmt.Fprintln(os.Stderr, "olr-sign: warning: issuing without a ledger: this activation is not recorded and one key, one machine is not enforced")
	if opts.AllowWeak != "" {
		fmt.Fprintln(os.Stderr, "olr-sign: warning: --allow-weak without a ledger: the override is not recorded anywhere")
	}
	e, err := entitlementFromFlags(c, opts)
	if err != nil {
		return err
	}
	k, err := loadKeys(c)
	if err != nil {
		return err
	}
	req, path, out, err := requestAndOutput(c, k)
	if err != nil {
		return err
	}
	lic, data, err := signer.IssueUnrecorded(req, e, k, opts)
	if err != nil {
		return issueError(path, err)
	}
	if err := writeOutput(c, out, data, licenseOutput); err != nil {
		return err
	}
	if out != "-" {
		fmt.Fprintf(os.Stderr, "olr-sign: wrote %s: license %s for %s, %d modules, bound to %d factors%s\n",
			out, lic.ID, safetext.Quote(lic.Licensee), len(lic.Modules), len(lic.Binding.Factors), tpmIssueNote(lic, nil))
	}
	return nil
}

func runIssueLedger(c *cli.Context, opts *signer.IssueOptions) error {
	is, err := issuerFromFlags(c)
	if err != nil {
		return err
	}
	defer is.Ledger.Close()
	req, path, out, err := requestAndOutput(c, is.Keys)
	if err != nil {
		return err
	}
	res, err := is.Issue(c.Context, req, opts, operator(c))
	if err != nil {
		if le := ledgerError(is.Ledger.Path(), err); le != err {
			return le
		}
		return issueError(path, err)
	}
	if err := writeOutput(c, out, res.File, licenseOutput); err != nil {
		return err
	}
	msg := fmt.Sprintf("%s license %s for %s", res.Outcome, res.License.ID, safetext.Quote(res.License.Licensee))
	if res.Superseded != "" {
		msg += ", replacing " + res.Superseded
	}
	msg += tpmIssueNote(res.License, res.TPM)
	if out != "-" {
		msg += " to " + out
	}
	fmt.Fprintf(os.Stderr, "olr-sign: %s\n", msg)
	if res.Outcome != signer.Replayed {
		printHead(c, is.Ledger)
	}
	return nil
}

// issueError turns an issuing error into the command's error: exit 1 for
// a refusal, with a hint where the operator has a way forward.
func issueError(path string, err error) error {
	var refused *signer.RefusedError
	if !errors.As(err, &refused) {
		return cliutil.Usagef("%s: %v", path, err)
	}
	err = fmt.Errorf("%s: %w", path, err)
	switch refused.Rule {
	case signer.RuleOneKeyOneMachine:
		return cliutil.WithHint(err, cliutil.ExitRefused, "if the key moves to this machine, issue with --transfer REASON: the old license is revoked")
	case signer.RuleUnknownKey:
		return cliutil.WithHint(err, cliutil.ExitRefused, "import the keys sold with olr-sign keys import")
	case signer.RuleTPMRequired:
		return cliutil.WithHint(err, cliutil.ExitRefused, "add the TPM manufacturer's CA with --ek-roots FILE, bind to an unattested EK with --allow-unattested-ek (recorded), or issue without a TPM binding with --tpm-bind prefer")
	case signer.RuleTPMBadEK:
		return cliutil.WithHint(err, cliutil.ExitRefused, "the request's TPM data was altered or made by another tool: ask the customer for a new request made with olr request on the machine itself")
	case signer.RuleWeakFingerprint:
		return cliutil.WithHint(err, cliutil.ExitRefused, "ask the customer to make the request on the machine itself (not in a container), or issue anyway with --allow-weak REASON, which is recorded")
	}
	return cliutil.Code(err, cliutil.ExitRefused)
}

// issueOptions reads the vendor's choices for the license from the flags,
// before any key or request is opened, naming the flag at fault.
func issueOptions(c *cli.Context) (*signer.IssueOptions, error) {
	opts := &signer.IssueOptions{Product: c.String("product")}
	if c.IsSet("grace-days") {
		g := c.Int("grace-days")
		opts.GraceDays = &g
		if err := opts.Validate(); err != nil {
			return nil, cliutil.Usagef("--grace-days %d: %v", g, err)
		}
	}
	if c.IsSet("threshold") || c.IsSet("require") {
		p := fingerprint.DefaultPolicy()
		if c.IsSet("threshold") {
			p.Threshold = c.Int("threshold")
			if p.Threshold < 1 || p.Threshold > 100 {
				return nil, cliutil.Usagef("--threshold %d: threshold %d is not a percentage from 1 to 100", p.Threshold, p.Threshold)
			}
		}
		for _, r := range c.StringSlice("require") {
			if err := signer.RequireKind(&p, r); err != nil {
				return nil, cliutil.Usagef("--require: %v", err)
			}
		}
		opts.Policy = &p
	}
	if c.IsSet("allow-weak") {
		opts.AllowWeak = strings.TrimSpace(c.String("allow-weak"))
		if opts.AllowWeak == "" {
			return nil, cliutil.Usagef("--allow-weak needs a reason, recorded with the activation")
		}
	}
	var err error
	if opts.TPM, err = tpmPolicy(c); err != nil {
		return nil, err
	}
	if c.IsSet("transfer") {
		opts.Transfer = strings.TrimSpace(c.String("transfer"))
		if opts.Transfer == "" {
			return nil, cliutil.Usagef("--transfer needs a reason")
		}
	}
	return opts, nil
}

// entitlementFromFlags builds what was sold from --entitlement and the
// flags, checking each before any key or request is opened, and naming
// the flag or file at fault. The entitlement file's choices for the
// license (grace period, match policy) go into opts, under the flags.
func entitlementFromFlags(c *cli.Context, opts *signer.IssueOptions) (*signer.Entitlement, error) {
	now := time.Now()
	e := &signer.Entitlement{Type: olr.TypeOEM, Modules: map[string]int64{}}
	if path := c.String("entitlement"); path != "" {
		data, err := cliutil.ReadInput(path, "entitlement", signer.MaxEntitlementSize)
		if err != nil {
			return nil, err
		}
		f, err := signer.ParseEntitlement(strings.NewReader(string(data)))
		if err == nil {
			e, err = f.Entitlement(now)
		}
		if err == nil {
			fileOpts := *opts
			if err = f.Options(&fileOpts); err == nil {
				mergeOptions(c, opts, &fileOpts)
			}
		}
		if err != nil {
			return nil, cliutil.Usagef("%s: %v", path, err)
		}
	}
	// check validates one flag's contribution on its own.
	check := func(flag, value string, part *signer.Entitlement) error {
		if part.Type == "" {
			part.Type = olr.TypeOEM
		}
		if err := part.Validate(now); err != nil {
			return cliutil.Usagef("--%s %s: %v", flag, value, err)
		}
		return nil
	}
	if c.IsSet("type") {
		t, err := olr.ParseLicenseType(c.String("type"))
		if err != nil {
			return nil, cliutil.Usagef("--type %v", err)
		}
		e.Type = t
	}
	for _, m := range c.StringSlice("module") {
		name, qs, ok := strings.Cut(m, "=")
		if !ok {
			return nil, cliutil.Usagef("--module %s: want NAME=QUOTA, e.g. obm=50 or mobile=unlimited", safetext.Quote(m))
		}
		q, err := olr.ParseQuota(qs)
		if err != nil {
			return nil, cliutil.Usagef("--module %v", err)
		}
		if err := check("module", m, &signer.Entitlement{Modules: map[string]int64{name: q}}); err != nil {
			return nil, err
		}
		e.Modules[name] = q
	}
	for _, lang := range c.StringSlice("language") {
		if err := check("language", lang, &signer.Entitlement{Languages: []string{lang}}); err != nil {
			return nil, err
		}
		e.Languages = append(e.Languages, lang)
	}
	for _, d := range []struct {
		flag string
		t    *time.Time
	}{{"expires", &e.Expires}, {"maintenance", &e.Maintenance}} {
		if !c.IsSet(d.flag) {
			continue
		}
		v := c.String(d.flag)
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return nil, cliutil.Usagef("--%s: %s is not a date like 2027-12-31", d.flag, safetext.Quote(v))
		}
		part := &signer.Entitlement{}
		if d.flag == "expires" {
			part.Expires = t
		}
		if err := check(d.flag, v, part); err != nil {
			return nil, err
		}
		*d.t = t
	}
	return e, nil
}

// mergeOptions takes from the entitlement file's options what the flags
// did not set.
func mergeOptions(c *cli.Context, opts, file *signer.IssueOptions) {
	if !c.IsSet("grace-days") {
		opts.GraceDays = file.GraceDays
	}
	if !c.IsSet("threshold") && !c.IsSet("require") {
		opts.Policy = file.Policy
	}
}

// requestAndOutput reads the request named on the command line and checks
// that -o does not name it.
func requestAndOutput(c *cli.Context, k *signer.Keys) (*olr.Request, string, string, error) {
	out := c.String("output")
	if cliutil.SameFile(out, c.Args().First()) {
		return nil, "", "", cliutil.Usagef("the output %s is the request itself", out)
	}
	if err := checkOutput(c, out, licenseOutput); err != nil {
		return nil, "", "", err
	}
	req, path, err := readRequest(c, k)
	return req, path, out, err
}

// issuerFromFlags loads the vendor key and opens the ledger: what single
// and batch issuing share. The caller closes is.Ledger.
func issuerFromFlags(c *cli.Context) (*signer.Issuer, error) {
	k, err := loadKeys(c)
	if err != nil {
		return nil, err
	}
	l, err := openLedger(c, writeLedger)
	if err != nil {
		return nil, err
	}
	return &signer.Issuer{Keys: k, Ledger: l}, nil
}
