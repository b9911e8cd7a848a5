// Package signcli is the olr-sign command: it runs at the vendor, makes
// the vendor's keys, opens activation requests (req.olr) and issues signed
// licenses (license.olr) for OEM keys.
package signcli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"
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
	return &cli.App{
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
		},
	}
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

func loadKeys(c *cli.Context) (*signer.Keys, error) {
	path := c.String("identity")
	k, err := signer.LoadKeys(path, func() (string, error) {
		return cliutil.Passphrase("Passphrase for "+path+": ", false)
	})
	var ce *cliutil.Error
	if errors.As(err, &ce) {
		return nil, err
	}
	if err != nil {
		return nil, cliutil.Usagef("cannot load vendor key: %v", err)
	}
	return k, nil
}

func readRequest(c *cli.Context, k *signer.Keys) (*olr.Request, string, error) {
	if c.NArg() != 1 {
		return nil, "", cliutil.BadArgs(c, "%s takes one request file (- for standard input)", c.Command.Name)
	}
	path := c.Args().First()
	data, err := cliutil.ReadInput(path, "request", olr.MaxRequestSize)
	if err != nil {
		return nil, path, err
	}
	req, err := olr.DecryptRequest(data, []age.Identity{k.Identity})
	if errors.Is(err, olr.ErrWrongVendorKey) {
		return nil, path, cliutil.WithHint(fmt.Errorf("%s: %w", path, err), cliutil.ExitUsage,
			"the machine used another vendor recipient; check which key its --vendor named")
	}
	if err != nil {
		return nil, path, cliutil.Usagef("%s: %v", path, err)
	}
	return req, path, nil
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "decrypt and show an activation request",
		ArgsUsage: "req.olr",
		Flags:     []cli.Flag{identityFlag, &cli.BoolFlag{Name: "json", Usage: "print the decrypted request as JSON"}},
		Action: func(c *cli.Context) error {
			k, err := loadKeys(c)
			if err != nil {
				return err
			}
			req, _, err := readRequest(c, k)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(req)
			}
			printRequest(req)
			return nil
		},
	}
}

func printRequest(r *olr.Request) {
	fmt.Printf("request:   %s\n", r.ID)
	fmt.Printf("created:   %s\n", r.Created)
	fmt.Printf("product:   %s\n", r.Product)
	fmt.Printf("licensee:  %s\n", r.Licensee)
	fmt.Printf("key:       %s\n", r.LicenseKey)
	fmt.Printf("hostname:  %s\n", r.Hostname)
	fmt.Printf("tool:      %s\n", r.Tool)
	m := r.Fingerprint.Machine
	kind := m.Class
	if m.Detail != "" {
		kind += " (" + m.Detail + ")"
	}
	fmt.Printf("machine:   %s\n", kind)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSTABILITY\tVALUE\tSOURCE")
	for _, f := range r.Fingerprint.Factors {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Kind, f.Kind.Stability(), f.Value, f.Source)
	}
	tw.Flush()
	for _, n := range r.Fingerprint.Notes {
		fmt.Printf("note: %s\n", n)
	}
}

func issueCommand() *cli.Command {
	return &cli.Command{
		Name:      "issue",
		Usage:     "issue license.olr for an activation request",
		ArgsUsage: "req.olr",
		Flags: []cli.Flag{
			identityFlag,
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "write the license to `FILE` (- for standard output)"},
			&cli.StringFlag{Name: "entitlement", Aliases: []string{"e"}, Usage: "JSON `FILE` of what was sold (type, licensee, key, modules, languages, dates)"},
			&cli.StringFlag{Name: "type", Usage: "license type of the key: oem, meter, active-pool, evaluation (default oem, or the entitlement's)"},
			&cli.StringSliceFlag{Name: "module", Aliases: []string{"m"}, Usage: "module and quota, `NAME=QUOTA` (obm=50, mobile=unlimited); repeatable"},
			&cli.StringSliceFlag{Name: "language", Usage: "supported language `TAG` (en, zh-TW); repeatable"},
			&cli.StringFlag{Name: "expires", Usage: "last valid `DATE` (YYYY-MM-DD); default never"},
			&cli.StringFlag{Name: "maintenance", Usage: "end of maintenance `DATE` (YYYY-MM-DD)"},
			&cli.IntFlag{Name: "grace-days", Usage: "grace period after the hardware drifts (default 14)"},
			&cli.StringSliceFlag{Name: "require", Usage: "factor `KIND` that must match when recorded (e.g. tpm-ek); repeatable"},
			&cli.IntFlag{Name: "threshold", Usage: "percent of the recorded weight that must match (default 51)"},
			&cli.StringFlag{Name: "product", Usage: "refuse requests for another product than `NAME`"},
			ledgerFlag, operatorFlag,
			&cli.BoolFlag{Name: "no-ledger", Usage: "issue from the entitlement flags without a ledger: one key, one machine is NOT enforced"},
			&cli.StringFlag{Name: "transfer", Usage: "move the key to this new machine, revoking its license on the old one; `REASON` is recorded"},
			&cli.StringFlag{Name: "batch", Usage: "answer every request (*.olr) in `DIR`, writing the licenses into the -o directory"},
		},
		Action: runIssue,
	}
}

// entitlementFlags are the flags that say what was sold; with a ledger,
// what was sold comes from the ledger and these are refused.
var entitlementFlags = []string{"entitlement", "type", "module", "language", "expires", "maintenance"}

func runIssue(c *cli.Context) error {
	if !c.Bool("no-ledger") {
		for _, f := range entitlementFlags {
			if c.IsSet(f) {
				return cliutil.WithHint(fmt.Errorf("--%s: with a ledger, what was sold comes from the ledger", f), cliutil.ExitUsage,
					"import the keys sold with olr-sign keys import, or issue without a ledger with --no-ledger")
			}
		}
		return runIssueLedger(c)
	}
	if c.IsSet("transfer") {
		return cliutil.Usagef("--transfer needs the ledger: it records where the key was activated")
	}
	if c.IsSet("batch") {
		return cliutil.Usagef("--batch needs the ledger: a re-run must find the requests already answered")
	}
	fmt.Fprintln(os.Stderr, "olr-sign: warning: issuing without a ledger: this activation is not recorded and one key, one machine is not enforced")
	e, err := entitlementFromFlags(c, time.Now())
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
	lic, data, err := signer.Issue(req, e, k, &signer.IssueOptions{Now: time.Now(), Product: c.String("product")})
	var refused *signer.RefusedError
	if errors.As(err, &refused) {
		return cliutil.Refusedf("%s: %v", path, err)
	}
	if err != nil {
		return cliutil.Usagef("%s: %v", path, err)
	}
	if err := cliutil.WriteOutput(out, data, 0o644); err != nil {
		return err
	}
	if out != "-" {
		fmt.Fprintf(os.Stderr, "olr-sign: wrote %s: license %s for %q, %d modules, bound to %d factors\n",
			out, lic.ID, lic.Licensee, len(lic.Modules), len(lic.Binding.Factors))
	}
	return nil
}

func runIssueLedger(c *cli.Context) error {
	if c.IsSet("batch") {
		return runIssueBatch(c)
	}
	is, err := issuerFromFlags(c)
	if err != nil {
		return err
	}
	defer is.Ledger.Close()
	req, path, out, err := requestAndOutput(c, is.Keys)
	if err != nil {
		return err
	}
	var transfer *signer.Transfer
	if c.IsSet("transfer") {
		transfer = &signer.Transfer{Reason: c.String("transfer")}
		if strings.TrimSpace(transfer.Reason) == "" {
			return cliutil.Usagef("--transfer needs a reason")
		}
	}
	res, err := is.Issue(c.Context, req, operator(c), transfer)
	var refused *signer.RefusedError
	if errors.As(err, &refused) {
		return cliutil.Refusedf("%s: %v", path, err)
	}
	if err != nil {
		return cliutil.Usagef("%s: %v", path, err)
	}
	if err := cliutil.WriteOutput(out, res.File, 0o644); err != nil {
		return err
	}
	msg := fmt.Sprintf("%s license %s for %q", res.Outcome, res.License.ID, res.License.Licensee)
	if res.Superseded != "" {
		msg += ", replacing " + res.Superseded
	}
	if out != "-" {
		msg += " to " + out
	}
	fmt.Fprintf(os.Stderr, "olr-sign: %s\n", msg)
	return nil
}

// entitlementFromFlags builds what was sold from --entitlement and the
// flags, checking each before any key or request is opened, and naming
// the flag or file at fault.
func entitlementFromFlags(c *cli.Context, now time.Time) (*signer.Entitlement, error) {
	e := &signer.Entitlement{Type: string(olr.TypeOEM), Modules: signer.Quotas{}}
	if path := c.String("entitlement"); path != "" {
		data, err := cliutil.ReadInput(path, "entitlement", 1<<20)
		if err != nil {
			return nil, err
		}
		if e, err = signer.ParseEntitlement(strings.NewReader(string(data))); err != nil {
			return nil, cliutil.Usagef("%s: %v", path, err)
		}
		if err := e.Validate(now); err != nil {
			return nil, cliutil.Usagef("%s: %v", path, err)
		}
		if e.Modules == nil {
			e.Modules = signer.Quotas{}
		}
	}
	// check validates one flag's contribution on its own.
	check := func(flag, value string, part *signer.Entitlement) error {
		if part.Type == "" {
			part.Type = string(olr.TypeOEM)
		}
		if err := part.Validate(now); err != nil {
			return cliutil.Usagef("--%s %s: %v", flag, value, err)
		}
		return nil
	}
	if c.IsSet("type") {
		e.Type = c.String("type")
		if err := check("type", e.Type, &signer.Entitlement{Type: e.Type}); err != nil {
			return nil, err
		}
	}
	for _, m := range c.StringSlice("module") {
		name, q, err := signer.ParseModuleFlag(m)
		if err != nil {
			return nil, cliutil.Usagef("--module %v", err)
		}
		if err := check("module", m, &signer.Entitlement{Modules: signer.Quotas{name: q}}); err != nil {
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
	if c.IsSet("expires") {
		e.Expires = c.String("expires")
		if err := check("expires", e.Expires, &signer.Entitlement{Expires: e.Expires}); err != nil {
			return nil, err
		}
	}
	if c.IsSet("maintenance") {
		e.Maintenance = c.String("maintenance")
		if err := check("maintenance", e.Maintenance, &signer.Entitlement{Maintenance: e.Maintenance}); err != nil {
			return nil, err
		}
	}
	if c.IsSet("grace-days") {
		g := c.Int("grace-days")
		if err := check("grace-days", fmt.Sprint(g), &signer.Entitlement{GraceDays: &g}); err != nil {
			return nil, err
		}
		e.GraceDays = &g
	}
	for _, r := range c.StringSlice("require") {
		if err := check("require", r, &signer.Entitlement{Require: []string{r}}); err != nil {
			return nil, err
		}
		if !slices.Contains(e.Require, r) {
			e.Require = append(e.Require, r)
		}
	}
	if c.IsSet("threshold") {
		th := c.Int("threshold")
		if err := check("threshold", fmt.Sprint(th), &signer.Entitlement{Threshold: &th}); err != nil {
			return nil, err
		}
		e.Threshold = &th
	}
	return e, nil
}

// requestAndOutput reads the request named on the command line and checks
// that -o does not name it.
func requestAndOutput(c *cli.Context, k *signer.Keys) (*olr.Request, string, string, error) {
	out := c.String("output")
	if cliutil.SameFile(out, c.Args().First()) {
		return nil, "", "", cliutil.Usagef("the output %s is the request itself", out)
	}
	req, path, err := readRequest(c, k)
	return req, path, out, err
}

// issuerFromFlags loads the vendor key, opens the ledger and reads the
// match policy flags: what single and batch issuing share. The caller
// closes is.Ledger.
func issuerFromFlags(c *cli.Context) (*signer.Issuer, error) {
	policy, err := policyFromFlags(c)
	if err != nil {
		return nil, err
	}
	k, err := loadKeys(c)
	if err != nil {
		return nil, err
	}
	l, err := openLedger(c, false)
	if err != nil {
		return nil, err
	}
	return &signer.Issuer{Keys: k, Ledger: l, Policy: policy}, nil
}
