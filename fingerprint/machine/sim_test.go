//go:build cgo

package machine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/fingerprint/tpm"
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
