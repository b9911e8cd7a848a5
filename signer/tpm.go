package signer

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/tpmbind"
)

// Refusal rules of the TPM binding.
const (
	RuleTPMRequired = "tpm-binding-required" // --tpm-bind require and no EK to bind to
	RuleTPMBadEK    = "tpm-ek-refused"       // an EK that is not what the request says it is
)

// CheckEKs checks every endorsement key a request carries, as of now: the
// default template, a certificate for that very key when one comes with
// it, and one EK's Name equal to the request's tpm-ek factor. An EK that
// lies is a *RefusedError; a missing or unverified certificate only makes
// an EK unattested (EK.Problem says why). A request without EKs gives
// none.
func CheckEKs(req *olr.Request, roots *tpmbind.Roots, now time.Time) ([]*tpmbind.EK, error) {
	if req.TPM == nil {
		return nil, nil
	}
	var eks []*tpmbind.EK
	for _, e := range req.TPM.EKs {
		ek, err := tpmbind.CheckEK(e.Kind, e.Public, e.Cert, req.TPM.Chain, roots, now)
		if err != nil {
			return nil, refuse(RuleTPMBadEK, "%v", err)
		}
		eks = append(eks, ek)
	}
	var factors []string
	for _, f := range req.Fingerprint.Factors {
		if f.Kind == fingerprint.KindTPMEK {
			factors = append(factors, f.Value)
		}
	}
	if !slices.ContainsFunc(eks, func(ek *tpmbind.EK) bool { return slices.Contains(factors, ek.Name) }) {
		return nil, refuse(RuleTPMBadEK, "%v: none of the request's endorsement keys has the Name its tpm-ek factor holds", tpmbind.ErrEKNotFactor)
	}
	return eks, nil
}

// BindTPM binds l to the TPM of req as the vendor's policy says: it picks
// the EK (attested first, ECC first; unattested only when allowed) and
// wraps a fresh license key to it, making l an olr-license/v2. It returns
// the EK bound to, or nil when l stays unbound (mode off, or prefer and
// no EK qualifies). Refusals are *RefusedError.
func BindTPM(l *olr.License, req *olr.Request, pol *tpmbind.Policy, now time.Time) (*tpmbind.EK, error) {
	if pol.Mode == tpmbind.Off {
		return nil, nil
	}
	eks, err := CheckEKs(req, pol.Roots, now)
	if err != nil {
		return nil, err
	}
	ek, err := pol.Choose(eks)
	if err != nil {
		return nil, refuse(RuleTPMRequired, "%v", err)
	}
	if ek == nil {
		return nil, nil
	}
	if l.TPM, err = tpmbind.Bind(ek); err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return ek, nil
}

// TPMRecord is what the ledger keeps of a license's TPM binding.
type TPMRecord struct {
	EKKind string
	// EKName is the EK's TPM Name in hex, as the tpm-ek factor writes it.
	EKName string
	// CertIssuer and CertSerial name the EK certificate, when the request
	// carried one that certifies the key; empty otherwise.
	CertIssuer, CertSerial string
	Attestation            tpmbind.Attestation
	// Manufacturer is the TPM's vendor ID, as the request gave it.
	Manufacturer string
}

// ActionTPMBind is the ledger's record of a license bound to a TPM: the
// EK, its certificate and whether it was attested, in the hash-chained
// audit log beside the activation.
const ActionTPMBind = "tpm.bind"

func (r *TPMRecord) details(licenseID string) map[string]any {
	return map[string]any{
		"license_id": licenseID, "ek_kind": r.EKKind, "ek_name": r.EKName,
		"cert_issuer": r.CertIssuer, "cert_serial": r.CertSerial,
		"attestation": string(r.Attestation), "manufacturer": r.Manufacturer,
	}
}

// TPMRecordOf reads a tpm.bind record's details back.
func TPMRecordOf(details json.RawMessage) (licenseID string, r *TPMRecord, err error) {
	var d map[string]any
	if err := json.Unmarshal(details, &d); err != nil {
		return "", nil, err
	}
	s := func(k string) string { v, _ := d[k].(string); return v }
	return s("license_id"), &TPMRecord{EKKind: s("ek_kind"), EKName: s("ek_name"), CertIssuer: s("cert_issuer"),
		CertSerial: s("cert_serial"), Attestation: tpmbind.Attestation(s("attestation")), Manufacturer: s("manufacturer")}, nil
}

// RecordOf describes the EK bound to, for the ledger.
func RecordOf(ek *tpmbind.EK, req *olr.Request) *TPMRecord {
	r := &TPMRecord{EKKind: ek.Kind, EKName: ek.Name, Attestation: ek.Attestation}
	if ek.Cert != nil {
		r.CertIssuer = ek.Cert.Issuer.String()
		r.CertSerial = hex.EncodeToString(ek.Cert.SerialNumber.Bytes())
	}
	if req.TPM != nil {
		r.Manufacturer = req.TPM.Manufacturer
	}
	return r
}

// DescribeEK says what a request's EK is, for inspect: its kind, the
// certificate's issuer and whether it is attested, and a software TPM's
// telltales. Customer-controlled text is quoted.
func DescribeEK(ek *tpmbind.EK, manufacturer string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s EK, %s", ek.Kind, ek.Attestation)
	if ek.Cert != nil {
		fmt.Fprintf(&b, ", certificate from %s (serial %x)", safetext.Quote(ek.Cert.Issuer.String()), ek.Cert.SerialNumber.Bytes())
		if ek.Expired {
			b.WriteString(", expired (verified as of its issue)")
		}
	}
	if ek.Problem != nil {
		fmt.Fprintf(&b, ": %s", safetext.Quote(ek.Problem.Error()))
	}
	issuer := ""
	if ek.Cert != nil {
		issuer = ek.Cert.Issuer.String()
	}
	if soft := tpmbind.SoftwareTPM(manufacturer, issuer); soft != "" {
		fmt.Fprintf(&b, "; software or virtual TPM? %s", soft) // names only known IDs and the quoted issuer
	}
	return b.String()
}
