package signcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/clones"
	"github.com/olr-dev/olr/signer/ledger"
)

// auditStdout is where the report goes; tests capture it. It is not the
// app's Writer, which holds back what a failing command printed, and an
// audit with findings fails (exit 1) after printing its report.
var auditStdout io.Writer = os.Stdout

// licenseHeader opens an armored license.olr. Licenses often sit beside
// the requests they answer; the audit skips them.
const licenseHeader = "-----BEGIN OLR LICENSE-----"

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:      "audit",
		Usage:     "look across requests (and the ledger) for cloned machines, shared keys and weak fingerprints",
		ArgsUsage: "[DIR]",
		Description: "Decrypts every request (*.olr) in DIR and reports, grouped by finding:\n" +
			"  - one machine under several license keys: requests of different keys that share\n" +
			"    machine-id, product-uuid, a DMI serial, a disk serial, the TPM EK or a globally\n" +
			"    unique MAC (clones of one image share the machine-id only);\n" +
			"  - one key requested from machines that do not match each other (default policy);\n" +
			"  - fingerprints with no stable factor (no TPM, no DMI identity);\n" +
			"  - requests from containers; requests from virtual machines, for information;\n" +
			"  - one TPM endorsement key under several license keys, EKs without a certificate\n" +
			"    that chains to --ek-roots (licenses bound to one, and requests' EKs when roots\n" +
			"    are given), and software or virtual TPMs (swtpm, simulators, vTPM vendors).\n" +
			"Files that cannot be decrypted are reported; license files are skipped.\n" +
			"With --ledger, the activations recorded in the ledger are audited too.\n" +
			"Exit status: 0 nothing found, 1 findings, 2 bad input.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "identity", Aliases: []string{"i"}, EnvVars: []string{"OLR_VENDOR_KEY"},
				Usage: "vendor key `FILE` written by keygen (needed for DIR)"},
			&cli.StringFlag{Name: "ledger", Usage: "also audit the activations recorded in the ledger `FILE`"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
			ekRootsFlag,
		},
		Action: runAudit,
	}
}

func runAudit(c *cli.Context) error {
	if c.NArg() > 1 || c.NArg() == 0 && !c.IsSet("ledger") {
		return cliutil.BadArgs(c, "audit takes one directory of requests (or --ledger FILE)")
	}
	a := clones.New()
	roots, err := ekRoots(c)
	if err != nil {
		return err
	}
	ta := newTPMAudit(roots)
	var where []string
	if c.NArg() == 1 {
		dir := c.Args().First()
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return cliutil.Usagef("%s is not a directory of requests", dir)
		}
		if c.String("identity") == "" {
			return cliutil.WithHint(errors.New("auditing requests needs the vendor key that opens them"), cliutil.ExitUsage,
				"give it with -i/--identity FILE (or OLR_VENDOR_KEY)")
		}
		k, err := loadKeys(c)
		if err != nil {
			return err
		}
		n, err := auditDir(a, ta, dir, []age.Identity{k.Identity})
		if err != nil {
			return err
		}
		where = append(where, fmt.Sprintf("%d files in %s", n, dir))
	}
	if path := c.String("ledger"); path != "" {
		n, err := auditLedger(c.Context, a, ta, path)
		if err != nil {
			return err
		}
		where = append(where, fmt.Sprintf("%d activations in %s", n, path))
	}
	r, tr := a.Report(), ta.finish()
	w := auditStdout
	if c.Bool("json") {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			*clones.Report
			TPM *tpmReport `json:"tpm"`
		}{r, tr}); err != nil {
			return err
		}
	} else {
		printAudit(w, r, tr, strings.Join(where, " and "))
	}
	if r.Findings()+tr.findings() > 0 {
		// The report already says what was found.
		return cli.Exit("", cliutil.ExitRefused)
	}
	return nil
}

// auditDir adds every request file (*.olr) of dir to a and returns how
// many files it read. A file that cannot be read or decrypted is added
// as a failure; only a directory that cannot be listed, or that holds
// no request at all, is an error.
func auditDir(a *clones.Detector, ta *tpmAudit, dir string, ids []age.Identity) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, cliutil.Usagef("cannot list %s: %v", dir, err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".olr") || e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := signer.ReadRequestFile(dir, e.Name())
		if err != nil {
			a.Failed(path, unwrapPath(err))
			n++
			continue
		}
		if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(licenseHeader)) {
			continue
		}
		n++
		req, err := olr.DecryptRequest(data, ids)
		if err != nil {
			a.Failed(path, err)
			continue
		}
		a.Add(path, req)
		ta.addRequest(path, req)
	}
	if n == 0 {
		return 0, cliutil.Usagef("no request files (*.olr) in %s", dir)
	}
	return n, nil
}

// auditLedger adds every activation the ledger recorded, active or not,
// to a, and returns how many it read. An activation whose fingerprint is
// not the JSON of a request's fingerprint is added as a failure.
func auditLedger(ctx context.Context, a *clones.Detector, ta *tpmAudit, path string) (int, error) {
	l, err := openLedgerPath(path, readLedger)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	var n int
	err = l.View(ctx, func(tx *ledger.Tx) error {
		var err error
		n, err = a.AddLedger(tx, func(act ledger.Activation) string {
			return fmt.Sprintf("%s: activation %d (%s)", path, act.ID, act.State)
		})
		return err
	})
	if err == nil {
		err = ta.addLedger(ctx, l, path)
	}
	if err != nil {
		return 0, cliutil.Usagef("--ledger %s: %v", path, err)
	}
	return n, nil
}

// printAudit writes the human form of an audit report, grouped by
// finding. What requests and the ledger's records said (keys, names,
// host names, factor values, file names) is quoted, so that nothing in
// them acts on the terminal.
func printAudit(w io.Writer, r *clones.Report, tr *tpmReport, where string) {
	fmt.Fprintf(w, "audited %d requests of %d license keys (%s)\n", r.Requests, r.Keys, where)
	section := func(title string, n int) bool {
		if n == 0 {
			return false
		}
		fmt.Fprintf(w, "\n== %s: %d\n", title, n)
		return true
	}
	q := safetext.Field
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	refLine := func(indent string, x clones.Ref) {
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\n", indent, q(x.Key), q(x.Licensee), orDash(x.Hostname), x.Created.Format(time.RFC3339), q(x.Source))
	}
	if section("one machine under several license keys", len(r.SharedMachines)) {
		for _, s := range r.SharedMachines {
			fmt.Fprintf(w, "%d keys share %s (%s)\n", len(s.Keys), sharedKinds(s.Factors), s.Verdict)
			fmt.Fprintf(w, "  %s\n", safetext.Sanitize(s.Explanation))
			for _, f := range s.Factors {
				fmt.Fprintf(w, "  shared %s=%s\n", kindText(f.Kind), q(f.Value))
			}
			for _, x := range s.Requests {
				refLine("    ", x)
			}
			tw.Flush()
		}
	}
	if section("one license key requested from several machines", len(r.KeysOnSeveralMachines)) {
		for _, k := range r.KeysOnSeveralMachines {
			fmt.Fprintf(w, "%s (%s): %d machines that do not match each other\n", q(k.Key), q(k.Licensee), len(k.Machines))
			for i, m := range k.Machines {
				if i == 0 {
					fmt.Fprintf(w, "  machine 1 (first requested)\n")
				} else {
					fmt.Fprintf(w, "  machine %d: matches machine 1 with %d of %d (%d%% needed)\n", i+1, m.Score, m.Total, m.Threshold)
				}
				for _, x := range m.Requests {
					refLine("    ", x)
				}
				tw.Flush()
			}
		}
	}
	if section("fingerprints with no stable factor (no TPM, no DMI identity)", len(r.NoStrongFactor)) {
		for _, x := range r.NoStrongFactor {
			kinds := make([]string, len(x.Kinds))
			for i, k := range x.Kinds {
				kinds[i] = kindText(k)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\thas only %s\n", q(x.Key), q(x.Licensee), orDash(x.Hostname), q(x.Source), strings.Join(kinds, ", "))
		}
		tw.Flush()
	}
	machineList := func(l []clones.Ref) {
		for _, x := range l {
			kind := x.Machine.Class
			if x.Machine.Detail != "" {
				kind = x.Machine.Detail
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", q(x.Key), q(x.Licensee), orDash(x.Hostname), q(kind), q(x.Source))
		}
		tw.Flush()
	}
	if section("requests from containers", len(r.Containers)) {
		machineList(r.Containers)
	}
	if section("requests that could not be read", len(r.Unreadable)) {
		for _, u := range r.Unreadable {
			fmt.Fprintf(w, "  %s: %s\n", q(u.Source), safetext.Sanitize(u.Error))
		}
	}
	if section("requests from virtual machines (for information)", len(r.VirtualMachines)) {
		machineList(r.VirtualMachines)
	}
	if section("duplicates, counted once (for information)", len(r.Duplicates)) {
		for _, d := range r.Duplicates {
			fmt.Fprintf(w, "  %s is request %s again, as in %s\n", q(d.Source), q(d.RequestID), q(d.SameAs))
		}
	}
	tr.print(w)
	switch n := r.Findings() + tr.findings(); n {
	case 0:
		fmt.Fprintln(w, "\nno findings")
	case 1:
		fmt.Fprintln(w, "\n1 finding")
	default:
		fmt.Fprintf(w, "\n%d findings\n", n)
	}
}

// sharedKinds names the kinds of the shared factors, each once.
func sharedKinds(fs []clones.Identifier) string {
	var kinds []string
	for _, f := range fs {
		if k := kindText(f.Kind); len(kinds) == 0 || kinds[len(kinds)-1] != k {
			kinds = append(kinds, k)
		}
	}
	return strings.Join(kinds, ", ")
}

// orDash shows s as safetext.Field does, or "-" for nothing.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return safetext.Field(s)
}
