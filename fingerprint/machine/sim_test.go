//go:build cgo

package machine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/fingerprint/tpm"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/tpmbind"
)

// With the opt-in the in-process simulator is read; the fingerprint notes
// the software TPM, and the TPM stays open until Close: the simulator,
// one per process, cannot be opened again before.
func TestSoftwareTPMWithOptIn(t *testing.T) {
	m, err := machine.Collect(context.Background(), machine.Options{TPM: "sim", AllowSoftwareTPM: true})
	if err != nil {
		t.Fatal(err)
	}
	var ek string
	for _, f := range m.Fingerprint.Factors {
		if f.Kind == fingerprint.KindTPMEK {
			ek = f.Value
		}
	}
	if info := m.TPM(); ek == "" || info == nil || info.EKName != ek || info.Source != "sim" {
		t.Fatalf("tpm-ek %q, info %+v", ek, m.TPM())
	}
	if !strings.Contains(strings.Join(m.Fingerprint.Notes, "\n"), "software TPM sim was admitted") {
		t.Fatalf("no note for the vendor: %q", m.Fingerprint.Notes)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, _, err := tpm.OpenContext(ctx, "sim"); err == nil {
		t.Fatal("the simulator opened again while the machine holds it")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	again, err := machine.Collect(context.Background(), machine.Options{TPM: "sim", AllowSoftwareTPM: true})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	defer again.Close()
	if again.TPM().EKName != ek {
		t.Fatal("the simulator's EK changed between two reads")
	}
}

// The machine proves a TPM-bound license with the TPM and EK it holds;
// without a TPM its prover fails as unavailable.
func TestProver(t *testing.T) {
	m, err := machine.Collect(context.Background(), machine.Options{TPM: "sim", AllowSoftwareTPM: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e, err := m.Endorsement(context.Background())
	if err != nil || len(e.EKs) != 2 {
		t.Fatalf("endorsement %+v, %v", e, err)
	}
	ek, err := tpmbind.CheckEK(e.EKs[0].Kind, e.EKs[0].Public, nil, nil, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := tpmbind.Bind(ek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Prove(context.Background(), m.Prover(), "0123456789abcdef0123456789abcdef", nil); err != nil {
		t.Fatal(err)
	}
	none, err := machine.Collect(context.Background(), machine.Options{TPM: "none", Root: "../host/testdata/kvm"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Prove(context.Background(), none.Prover(), "0123456789abcdef0123456789abcdef", nil)
	var pe *olr.TPMProofError
	if !errors.As(err, &pe) || pe.Reason != olr.ReasonTPMUnavailable {
		t.Fatalf("without a TPM: %v", err)
	}
}
