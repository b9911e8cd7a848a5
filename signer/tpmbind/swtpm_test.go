package tpmbind_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/olr-dev/olr/fingerprint/tpm"
	"github.com/olr-dev/olr/fingerprint/tpm/binding"
	"github.com/olr-dev/olr/fingerprint/tpm/tpmtest"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/tpmbind"
)

const licenseID = "0123456789abcdef0123456789abcdef"

// endorsement reads what a request would carry from the TPM at spec.
func endorsement(t *testing.T, spec string) (*tpm.Endorsement, *tpm.Info) {
	t.Helper()
	tp, _, err := tpm.Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := tpm.ReadEndorsement(ctx, tp)
	if err != nil {
		t.Fatal(err)
	}
	info, err := tpm.Read(ctx, tp)
	if err != nil {
		t.Fatal(err)
	}
	return e, info
}

func checkAll(t *testing.T, e *tpm.Endorsement, roots *tpmbind.Roots) []*tpmbind.EK {
	t.Helper()
	var out []*tpmbind.EK
	for _, ek := range e.EKs {
		c, err := tpmbind.CheckEK(ek.Kind, ek.Public, ek.Cert, e.Chain, roots, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", ek.Kind, err)
		}
		out = append(out, c)
	}
	return out
}

func prove(b *olr.TPMBinding, spec string, cached []byte) ([]byte, error) {
	return b.Prove(context.Background(), tpm.NewProver(spec, 30*time.Second), licenseID, cached)
}

func reasonOf(err error) olr.Reason {
	var pe *olr.TPMProofError
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return ""
}

// TestSWTPMWithEKCertificates plays the whole binding against swtpm
// manufactured with EK certificates, a local CA standing in for the TPM
// manufacturer.
func TestSWTPMWithEKCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := tpmtest.NewCA(t)
	ca.Manufacture(t, filepath.Join(dir, "a"))
	ca.Manufacture(t, filepath.Join(dir, "b"))
	var roots tpmbind.Roots
	if err := roots.ParseRoots(ca.Bundle, []byte(string(ca.RootPEM)+string(ca.IssuerPEM))); err != nil {
		t.Fatal(err)
	}
	a := tpmtest.Start(t, filepath.Join(dir, "a"))
	eA, infoA := endorsement(t, a.Spec)

	// The factor's EK is among those the request carries.
	var factorEK bool
	for _, ek := range eA.EKs {
		factorEK = factorEK || ek.Name == infoA.EKName
	}
	if !factorEK {
		t.Errorf("no EK named %s (the tpm-ek factor) among %d", infoA.EKName, len(eA.EKs))
	}

	checked := checkAll(t, eA, &roots)
	var rsa *tpmbind.EK
	for _, c := range checked {
		t.Logf("%s EK: %s, problem %v", c.Kind, c.Attestation, c.Problem)
		if c.Kind == binding.KindRSA2048 {
			rsa = c
		}
	}
	// swtpm_setup certifies the RSA-2048 EK (and a P-384 one), not the
	// ECC P-256 one.
	if rsa == nil || rsa.Attestation != tpmbind.Attested || rsa.Cert == nil || !tpmbind.HasEKUsage(rsa.Cert) {
		t.Fatalf("RSA EK not attested: %+v", rsa)
	}
	if len(rsa.Cert.Subject.String()) != 0 {
		t.Logf("EK certificate subject %q", rsa.Cert.Subject)
	}

	pol := &tpmbind.Policy{Mode: tpmbind.Require, Roots: &roots}
	chosen, err := pol.Choose(checked)
	if err != nil || chosen != rsa {
		t.Fatalf("Choose = %v, %v; want the attested RSA EK", chosen, err)
	}
	b, err := tpmbind.Bind(chosen)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := prove(b, a.Spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prove(b, a.Spec, cached); err != nil {
		t.Fatal(err)
	}

	// TPM2_Clear: the license key is imported again.
	tp, _, err := tpm.Open(a.Spec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpm2.Clear{AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHLockout, Auth: tpm2.PasswordAuth(nil)}}.Execute(tp)
	tp.Close()
	if err != nil {
		t.Fatal(err)
	}
	if again, err := prove(b, a.Spec, cached); err != nil || string(again) == string(cached) {
		t.Fatalf("after TPM2_Clear: %v", err)
	}
	a.Stop()

	// Another swtpm, manufactured alike: mismatch, also with A's cached
	// private part; its EK presented with A's certificate is refused.
	bt := tpmtest.Start(t, filepath.Join(dir, "b"))
	for _, c := range [][]byte{nil, cached} {
		if _, err := prove(b, bt.Spec, c); reasonOf(err) != olr.ReasonTPMMismatch {
			t.Fatalf("another TPM: %v", err)
		}
	}
	eB, _ := endorsement(t, bt.Spec)
	for _, ek := range eB.EKs {
		if ek.Kind != binding.KindRSA2048 {
			continue
		}
		_, err := tpmbind.CheckEK(ek.Kind, ek.Public, rsa.Cert.Raw, nil, &roots, time.Now())
		if !errors.Is(err, tpmbind.ErrCertOtherKey) || !strings.Contains(err.Error(), "the EK certificate is for another key") {
			t.Errorf("B's EK with A's certificate: %v", err)
		}
	}
	bt.Stop()

	// A cloned vTPM (A's state copied) passes: nothing offline tells a
	// clone from its original (SPEC.md says so).
	tpmtest.CopyState(t, filepath.Join(dir, "a"), filepath.Join(dir, "clone"))
	clone := tpmtest.Start(t, filepath.Join(dir, "clone"))
	if _, err := prove(b, clone.Spec, nil); err != nil {
		t.Errorf("a clone of the licensed vTPM: %v", err)
	}
}

// The vendor's refusals: a chain that does not reach the roots, no
// certificate under require, and binding anyway when allowed.
func TestVendorRefusals(t *testing.T) {
	dir := t.TempDir()
	ca, other := tpmtest.NewCA(t), tpmtest.NewCA(t)
	ca.Manufacture(t, filepath.Join(dir, "a"))
	other.Manufacture(t, filepath.Join(dir, "other"))
	var otherRoots tpmbind.Roots
	if err := otherRoots.ParseRoots(other.Bundle, []byte(string(other.RootPEM)+string(other.IssuerPEM))); err != nil {
		t.Fatal(err)
	}
	a := tpmtest.Start(t, filepath.Join(dir, "a"))
	e, _ := endorsement(t, a.Spec)
	checked := checkAll(t, e, &otherRoots)
	for _, c := range checked {
		if c.Attestation != tpmbind.Unattested {
			t.Errorf("%s EK attested by another manufacturer's roots", c.Kind)
		}
	}
	_, err := (&tpmbind.Policy{Mode: tpmbind.Require, Roots: &otherRoots}).Choose(checked)
	if err == nil || !strings.Contains(err.Error(), "does not chain to the TPM manufacturer roots") ||
		!strings.Contains(err.Error(), "the request carries no EK certificate") || !strings.Contains(err.Error(), "--allow-unattested-ek") {
		t.Errorf("require, chain to other roots: %v", err)
	} else {
		t.Log(err)
	}
	if ek, err := (&tpmbind.Policy{Mode: tpmbind.Prefer, Roots: &otherRoots}).Choose(checked); ek != nil || err != nil {
		t.Errorf("prefer without an attested EK: %v, %v", ek, err)
	}
	ek, err := (&tpmbind.Policy{Mode: tpmbind.Require, Roots: &otherRoots, AllowUnattested: true}).Choose(checked)
	if err != nil || ek == nil || ek.Kind != binding.KindECCP256 || ek.Attestation != tpmbind.Unattested {
		t.Fatalf("allow unattested: %+v, %v", ek, err)
	}
	b, err := tpmbind.Bind(ek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prove(b, a.Spec, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := (&tpmbind.Policy{Mode: tpmbind.Require}).Choose(nil); !errors.Is(err, tpmbind.ErrNoEK) {
		t.Errorf("require without EKs: %v", err)
	}
	if ek, err := (&tpmbind.Policy{Mode: tpmbind.Off, AllowUnattested: true}).Choose(checked); ek != nil || err != nil {
		t.Errorf("off: %v, %v", ek, err)
	}
}
