package page

import (
	"context"
	"fmt"
	"time"

	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/olr"
)

// attachTPM adds the machine's TPM endorsement keys to a request, as olr
// request does, so that the vendor can bind the license to the TPM; what
// could not be read goes into the request's notes. Without a TPM the
// request stays as it is.
func attachTPM(ctx context.Context, m *machine.Machine, req *olr.Request) error {
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
		if len(req.Fingerprint.Notes) < 64 {
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
