// Package tpmreq puts a machine's TPM into an activation request, the one
// way both olr request and the License page (olr/page) do it, so that the
// vendor sees the same request from either.
package tpmreq

import (
	"context"
	"fmt"
	"time"

	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/olr"
)

// Attach adds the machine's TPM endorsement keys, their certificates and
// the chain certificates to req, which makes it an olr-request/v2, so that
// the vendor can bind the license to the TPM. What could not be read goes
// into the request's notes, which the vendor sees. Without a TPM, or when
// the TPM has no endorsement key to offer, req keeps its version.
func Attach(ctx context.Context, m *machine.Machine, req *olr.Request) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second) // an RSA EK takes a real TPM seconds
	defer cancel()
	e, err := m.Endorsement(ctx)
	if err != nil {
		return fmt.Errorf("reading the TPM's endorsement keys: %v", err)
	}
	if e == nil {
		return nil
	}
	for _, n := range e.Notes {
		if len(req.Fingerprint.Notes) < olr.MaxNotes {
			req.Fingerprint.Notes = append(req.Fingerprint.Notes, "tpm: "+n)
		}
	}
	if len(e.EKs) == 0 {
		return nil
	}
	t := &olr.RequestTPM{Chain: e.Chain}
	if info := m.TPM(); info != nil {
		t.Manufacturer = info.Manufacturer
	}
	for _, ek := range e.EKs {
		t.EKs = append(t.EKs, olr.RequestEK{Kind: ek.Kind, Public: ek.Public, Cert: ek.Cert})
	}
	return req.AttachTPM(t)
}
