//go:build cgo

package tpmreq_test

import (
	"context"
	"strings"
	"testing"

	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/internal/tpmreq"
	"github.com/olr-dev/olr/olr"
)

// With the in-process simulator the request becomes an olr-request/v2
// carrying the simulator's endorsement keys, ECC before RSA, and stays
// valid; the note that a software TPM was admitted stays in it for the
// vendor to see.
func TestAttachSimulator(t *testing.T) {
	m, err := machine.Collect(context.Background(), machine.Options{TPM: "sim", AllowSoftwareTPM: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	req := newRequest(t, m.Fingerprint)
	if err := tpmreq.Attach(context.Background(), m, req); err != nil {
		t.Fatal(err)
	}
	if req.Format != olr.RequestFormatV2 || req.TPM == nil {
		t.Fatalf("format %s, TPM %+v", req.Format, req.TPM)
	}
	if len(req.TPM.EKs) == 0 || req.TPM.EKs[0].Kind != olr.TPMKindECCP256 {
		t.Fatalf("endorsement keys %+v", req.TPM.EKs)
	}
	if req.TPM.Manufacturer != m.TPM().Manufacturer {
		t.Fatalf("manufacturer %q, the TPM says %q", req.TPM.Manufacturer, m.TPM().Manufacturer)
	}
	if err := req.Validate(); err != nil {
		t.Fatalf("the request with the TPM does not validate: %v", err)
	}
	soft := false
	for _, n := range req.Fingerprint.Notes {
		soft = soft || strings.Contains(n, "software TPM")
	}
	if !soft {
		t.Fatalf("no software TPM note in %q", req.Fingerprint.Notes)
	}
}
