package signcli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
	"github.com/olr-dev/olr/signer/tpmbind"
)

// tpmAudit collects what requests and the ledger say of TPMs: which
// endorsement key (by TPM Name) appears under which license keys, and
// which are unattested or look like software or virtual TPMs.
type tpmAudit struct {
	roots *tpmbind.Roots
	keys  map[string][]string // EK Name -> license keys, in order seen
	// Report is what the audit found.
	Report tpmReport
}

type tpmReport struct {
	// SharedEKs lists endorsement keys that appear under several license
	// keys: one TPM (one machine, or cloned vTPMs) behind several keys.
	SharedEKs []sharedEK `json:"shared_eks"`
	// Unattested lists EKs without a certificate that chains to the
	// vendor's roots: licenses bound to them (ledger), and requests'
	// EKs when roots were given.
	Unattested []tpmRef `json:"unattested"`
	// Software lists EKs of TPMs that look software or virtual.
	Software []tpmRef `json:"software"`
}

type sharedEK struct {
	EKName string   `json:"ek_name"`
	Keys   []string `json:"keys"`
}

type tpmRef struct {
	Source string `json:"source"`
	Key    string `json:"key"`
	EKKind string `json:"ek_kind"`
	EKName string `json:"ek_name"`
	Why    string `json:"why"`
}

func newTPMAudit(roots *tpmbind.Roots) *tpmAudit {
	return &tpmAudit{roots: roots, keys: map[string][]string{}}
}

func (a *tpmAudit) seen(name, key string) {
	if !slices.Contains(a.keys[name], key) {
		a.keys[name] = append(a.keys[name], key)
	}
}

// addRequest notes a request's EKs.
func (a *tpmAudit) addRequest(source string, req *olr.Request) {
	if req.TPM == nil {
		return
	}
	for _, e := range req.TPM.EKs {
		ek, err := tpmbind.CheckEK(e.Kind, e.Public, e.Cert, req.TPM.Chain, a.roots, time.Now())
		if err != nil {
			a.Report.Unattested = append(a.Report.Unattested, tpmRef{Source: source, Key: req.LicenseKey, EKKind: e.Kind, Why: err.Error()})
			continue
		}
		a.seen(ek.Name, req.LicenseKey)
		if a.roots != nil && ek.Attestation != tpmbind.Attested {
			a.Report.Unattested = append(a.Report.Unattested, tpmRef{source, req.LicenseKey, ek.Kind, ek.Name, ek.Problem.Error()})
		}
		if why := tpmbind.SoftwareTPM(req.TPM.Manufacturer, issuerOf(ek)); why != "" {
			a.Report.Software = append(a.Report.Software, tpmRef{source, req.LicenseKey, ek.Kind, ek.Name, why})
		}
	}
}

// addLedger notes the TPM bindings the ledger recorded.
func (a *tpmAudit) addLedger(ctx context.Context, l *ledger.Ledger, path string) error {
	return l.View(ctx, func(tx *ledger.Tx) error {
		return tx.Audit(func(r *ledger.AuditRecord) error {
			if r.Action != signer.ActionTPMBind {
				return nil
			}
			id, rec, err := signer.TPMRecordOf(r.Details)
			if err != nil {
				return fmt.Errorf("audit record %d: %v", r.Seq, err)
			}
			source := fmt.Sprintf("%s: license %s", path, id)
			a.seen(rec.EKName, r.Subject)
			if rec.Attestation != tpmbind.Attested {
				a.Report.Unattested = append(a.Report.Unattested, tpmRef{source, r.Subject, rec.EKKind, rec.EKName, "bound with --allow-unattested-ek"})
			}
			if why := tpmbind.SoftwareTPM(rec.Manufacturer, rec.CertIssuer); why != "" {
				a.Report.Software = append(a.Report.Software, tpmRef{source, r.Subject, rec.EKKind, rec.EKName, why})
			}
			return nil
		})
	})
}

// finish fills in the shared EKs.
func (a *tpmAudit) finish() *tpmReport {
	names := make([]string, 0, len(a.keys))
	for n := range a.keys {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if len(a.keys[n]) > 1 {
			a.Report.SharedEKs = append(a.Report.SharedEKs, sharedEK{n, a.keys[n]})
		}
	}
	return &a.Report
}

func (r *tpmReport) findings() int { return len(r.SharedEKs) + len(r.Unattested) + len(r.Software) }

// print writes the TPM sections of an audit report.
func (r *tpmReport) print(w io.Writer) {
	section := func(title string, n int) bool {
		if n > 0 {
			fmt.Fprintf(w, "\n== %s: %d\n", title, n)
		}
		return n > 0
	}
	if section("one TPM endorsement key under several license keys", len(r.SharedEKs)) {
		for _, s := range r.SharedEKs {
			fmt.Fprintf(w, "EK %s: keys %s\n", s.EKName, safetext.Quote(fmt.Sprint(s.Keys)))
		}
	}
	refs := func(l []tpmRef) {
		for _, x := range l {
			fmt.Fprintf(w, "  %s\t%s EK %s\t%s: %s\n", safetext.Quote(x.Key), safetext.Field(x.EKKind), orDash(x.EKName), safetext.Field(x.Source), safetext.Quote(x.Why))
		}
	}
	if section("unattested TPM endorsement keys (no certificate that chains to the roots)", len(r.Unattested)) {
		refs(r.Unattested)
	}
	if section("software or virtual TPMs (state that can be copied)", len(r.Software)) {
		refs(r.Software)
	}
}

// issuerOf is the EK certificate's issuer, or "".
func issuerOf(ek *tpmbind.EK) string {
	if ek.Cert == nil {
		return ""
	}
	return ek.Cert.Issuer.String()
}
