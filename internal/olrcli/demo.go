package olrcli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/tpm"
	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/internal/tpmreq"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/store"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/tpmbind"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a whole offline activation on this machine, with a throwaway vendor key",
		Description: "Makes a vendor key, fingerprints this machine, writes req.olr, opens it as the vendor,\n" +
			"issues license.olr for an OEM key, imports and verifies it, all in a temporary directory.",
		Flags: []cli.Flag{tpmFlag, rootFlag,
			&cli.BoolFlag{Name: "keep", Usage: "keep the temporary directory and print its path"}},
		Action: runDemo,
	}
}

func runDemo(c *cli.Context) error {
	dir, err := os.MkdirTemp("", "olr-demo-")
	if err != nil {
		return err
	}
	if c.Bool("keep") {
		defer fmt.Printf("\nfiles kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	step := func(n int, s string) { fmt.Printf("\n== %d. %s\n", n, s) }
	now := time.Now()

	step(1, "vendor: olr-sign keygen (ML-KEM-768 + X25519 request key, Ed25519 signing key)")
	keys, err := signer.GenerateKeys(true, now)
	if err != nil {
		return err
	}
	keyPath := filepath.Join(dir, "vendor.key")
	// A throwaway key in a temporary directory: no passphrase.
	if err := signer.WriteKeys(keyPath, keys, ""); err != nil {
		return err
	}
	fmt.Printf("signing key %s; request recipient %.40s...\n", keys.KeyID, keys.Recipient)

	step(2, "machine: olr fingerprint")
	// The demo records nothing on this machine (its state, keys and
	// license live in a temporary directory), so a software TPM (--tpm
	// sim) is admitted without OLR_ALLOW_SOFTWARE_TPM: showing a
	// TPM-bound license on a machine without a TPM is what it is for.
	m, err := collectMachine(c, true)
	if err != nil {
		return err
	}
	defer m.Close()
	fp, tpmRead := m.Fingerprint, m.TPM() != nil
	printFingerprint(os.Stdout, fp, tpmDetailsOf(m.TPM()))

	step(3, "machine: olr request -> req.olr (age-encrypted to the vendor)")
	const licensee, licenseKey = "Example Backup Ltd", "OEM-7Q2D-K9XW-4M3T"
	req, err := olr.NewRequest(defaultProduct, licensee, licenseKey, hostnameOf(c.String("root")), "olr "+cliutil.Version(), fp, now)
	if err != nil {
		return err
	}
	// With a TPM the request carries its endorsement keys (olr-request/v2),
	// for a license bound to the TPM.
	if err := tpmreq.Attach(c.Context, m, req); err != nil {
		return err
	}
	m.Close()
	recipients, err := olr.ParseRecipients(keys.Recipient)
	if err != nil {
		return err
	}
	reqData, err := olr.EncryptRequest(req, recipients, true)
	if err != nil {
		return err
	}
	reqPath := filepath.Join(dir, "req.olr")
	if err := safefile.WriteFile(reqPath, reqData, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d bytes, request %s\n", reqPath, len(reqData), req.ID)

	step(4, "vendor: olr-sign inspect req.olr")
	loaded, err := signer.LoadKeys(keyPath, nil)
	if err != nil {
		return err
	}
	opened, err := olr.DecryptRequest(reqData, []age.Identity{loaded.Identity})
	if err != nil {
		return err
	}
	fmt.Printf("licensee %q, key %s, host %s, %d factors (%s)\n", opened.Licensee, opened.LicenseKey,
		opened.Hostname, len(opened.Fingerprint.Factors), opened.Fingerprint.Machine.Class)
	if opened.TPM != nil {
		for _, e := range opened.TPM.EKs {
			ek, err := tpmbind.CheckEK(e.Kind, e.Public, e.Cert, opened.TPM.Chain, nil, now)
			if err != nil {
				return err
			}
			fmt.Printf("TPM endorsement key: %s\n", signer.DescribeEK(ek, opened.TPM.Manufacturer))
		}
	}

	step(5, "vendor: olr-sign issue -> license.olr (OEM key)")
	ent := &signer.Entitlement{
		LicenseKey: licenseKey, Licensee: licensee, Type: olr.TypeOEM,
		Modules: map[string]int64{
			"cbs": 1, "obm": 50, "acb": 20, "vmware-vm": 10, "hyperv-socket": 2,
			"m365": 100, "exchange-mailbox": 200, "opendirect": 5, "mobile": olr.Unlimited,
		},
		Languages:   []string{"en", "fr", "zh-TW"},
		Maintenance: now.UTC().AddDate(1, 0, 0).Truncate(24 * time.Hour),
	}
	opts := &signer.IssueOptions{Now: now}
	// A throwaway license for this machine, whatever it is: a container or
	// a VM clone would otherwise be refused for its weak fingerprint.
	opts.AllowWeak = "demo on this machine"
	policy := fingerprint.DefaultPolicy()
	if tpmRead {
		// As olr-sign issue --require tpm-ek: the license then works only
		// where the product reads the TPM too.
		policy.Required = []fingerprint.Kind{fingerprint.KindTPMEK}
		opts.Policy = &policy
		// And bound to the TPM itself. A demo's TPM (a simulator, or one
		// without its manufacturer's certificate at hand) is unattested:
		// as olr-sign issue --tpm-bind require --allow-unattested-ek.
		opts.TPM = tpmbind.Policy{Mode: tpmbind.Require, AllowUnattested: true}
	}
	lic, licData, err := signer.IssueUnrecorded(opened, ent, loaded, opts)
	if err != nil {
		return err
	}
	licPath := filepath.Join(dir, "license.olr")
	if err := safefile.WriteFile(licPath, licData, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d bytes, license %s bound to %d hashed factors\n", licPath, len(licData), lic.ID, len(lic.Binding.Factors))
	if tpmRead {
		fmt.Println("the license requires the TPM's endorsement key (--require tpm-ek)")
	}
	if lic.TPM != nil {
		fmt.Printf("the license is bound to the TPM (olr-license/v2): a key wrapped to its %s endorsement key, which only this TPM can import and sign with\n", lic.TPM.EKKind)
	}

	// An Evaluation key is refused, as the vendor's rules say.
	eval := *ent
	eval.Type = olr.TypeEvaluation
	if _, _, err := signer.IssueUnrecorded(opened, &eval, loaded, opts); err != nil {
		fmt.Printf("an Evaluation key would be %v\n", err)
	}

	step(6, "machine: olr import license.olr")
	// Import and the product read the machine afresh, through the same
	// call as olr request (package fingerprint/machine, TPM included).
	here, err := collectMachine(c, true)
	if err != nil {
		return err
	}
	defer here.Close()
	st := store.Open(filepath.Join(dir, "state"))
	trust := keys.Trust()
	if _, err := st.Install(licData, trust, here.Fingerprint, now, &olr.VerifyOptions{Product: defaultProduct, TPM: here.Prover()}); err != nil {
		return err
	}
	fmt.Printf("installed in %s\n", st.Dir)

	step(7, "product: machine.Collect and store.Check (what the product does at every start)")
	res, err := st.Check(trust, here.Fingerprint, time.Now(), &olr.VerifyOptions{Product: defaultProduct, TPM: here.Prover()})
	printResult(os.Stdout, res, true)
	if err != nil {
		return err
	}
	if lic.TPM != nil {
		// The same check without the TPM's answer: a copied license or
		// state directory on another machine gets no further.
		other, _ := st.Evaluate(trust, here.Fingerprint, time.Now(), &olr.VerifyOptions{Product: defaultProduct, TPM: tpm.NoProver("the demo asks no TPM")})
		fmt.Printf("the same check without this TPM: %s (%s)\n", other.Status, other.Reason)
	}

	step(8, "product: a quota check before an action")
	if err := res.License.CheckQuota("obm", 49, 1); err == nil {
		fmt.Println("adding the 50th AhsayOBM-style client device: allowed")
	}
	var qe *olr.QuotaError
	if err := res.License.CheckQuota("obm", 50, 1); errors.As(err, &qe) {
		fmt.Printf("adding a 51st: blocked: %v\n", err)
	}
	fmt.Printf("\nresult: license %s is %s on this machine\n", res.License.ID, res.Status)
	return nil
}
