package tpmreq_test

import (
	"context"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/internal/tpmreq"
	"github.com/olr-dev/olr/olr"
)

func newRequest(t *testing.T, fp *fingerprint.Fingerprint) *olr.Request {
	t.Helper()
	req, err := olr.NewRequest("backup-server", "Example Ltd", "OEM-1234", "host", "test", fp, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// Without a TPM the request stays an olr-request/v1, with nothing added.
func TestAttachWithoutTPM(t *testing.T) {
	m, err := machine.Collect(context.Background(), machine.Options{TPM: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Fingerprint.Factors) == 0 {
		t.Skip("this machine shows no hardware factor to make a request with")
	}
	req := newRequest(t, m.Fingerprint)
	notes := len(req.Fingerprint.Notes)
	if err := tpmreq.Attach(context.Background(), m, req); err != nil {
		t.Fatal(err)
	}
	if req.Format != olr.RequestFormat || req.TPM != nil || len(req.Fingerprint.Notes) != notes {
		t.Fatalf("format %s, TPM %+v, notes %q", req.Format, req.TPM, req.Fingerprint.Notes)
	}
	if err := req.Validate(); err != nil {
		t.Fatal(err)
	}
}
