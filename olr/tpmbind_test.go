package olr_test

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

const licenseID = "0123456789abcdef0123456789abcdef"

// The challenge, byte for byte as SPEC.md gives it (checked with Python's
// hashlib).
func TestTPMChallenge(t *testing.T) {
	nonce := make([]byte, 32)
	for i := range nonce {
		nonce[i] = byte(i)
	}
	got := hex.EncodeToString(olr.TPMChallenge(licenseID, nonce))
	const want = "160419a026482ebd9306a01908c12015174b19972e7c5cb6706bd6b283a29321"
	if got != want {
		t.Errorf("challenge %s, want %s", got, want)
	}
	if hex.EncodeToString(olr.TPMChallenge("fedcba9876543210fedcba9876543210", nonce)) == got {
		t.Error("the challenge does not depend on the license ID")
	}
}

type unavailable struct{}

func (unavailable) Error() string     { return "no TPM here" }
func (unavailable) Unavailable() bool { return true }

type failing struct{ err error }

func (f failing) ProveTPM(context.Context, string, []byte, []byte, []byte) ([]byte, []byte, error) {
	return nil, nil, f.err
}

func TestTPMBindingProve(t *testing.T) {
	ctx := context.Background()
	tpm, b := olrtest.NewSoftwareTPM("machine")
	if cached, err := b.Prove(ctx, tpm, licenseID, nil); err != nil || string(cached) != "cached" {
		t.Fatalf("own TPM: %q, %v", cached, err)
	}
	other, _ := olrtest.NewSoftwareTPM("other")
	_, ob := olrtest.NewSoftwareTPM("other")
	for _, c := range []struct {
		name   string
		p      olr.TPMProver
		b      *olr.TPMBinding
		reason olr.Reason
	}{
		{"no prover", nil, b, olr.ReasonTPMUnavailable},
		{"another TPM's blob", tpm, ob, olr.ReasonTPMMismatch},
		{"a TPM with the blob but another key", &olrtest.SoftwareTPM{Key: other.Key}, b, olr.ReasonTPMMismatch},
		{"the TPM said unavailable", failing{unavailable{}}, b, olr.ReasonTPMUnavailable},
		{"deadline", failing{context.DeadlineExceeded}, b, olr.ReasonTPMUnavailable},
		{"any other error", failing{errors.New("TPM_RC_INTEGRITY")}, b, olr.ReasonTPMMismatch},
	} {
		_, err := c.b.Prove(ctx, c.p, licenseID, nil)
		var pe *olr.TPMProofError
		if !errors.As(err, &pe) || pe.Reason != c.reason {
			t.Errorf("%s: %v, want %s", c.name, err, c.reason)
		}
	}
}

// A recorded answer does not answer the next challenge.
type replay struct {
	inner olr.TPMProver
	sig   []byte
}

func (r *replay) ProveTPM(ctx context.Context, kind string, blob, cached, d []byte) ([]byte, []byte, error) {
	if r.sig != nil {
		return r.sig, nil, nil
	}
	sig, priv, err := r.inner.ProveTPM(ctx, kind, blob, cached, d)
	r.sig = sig
	return sig, priv, err
}

func TestTPMBindingReplay(t *testing.T) {
	tpm, b := olrtest.NewSoftwareTPM("machine")
	r := &replay{inner: tpm}
	if _, err := b.Prove(context.Background(), r, licenseID, nil); err != nil {
		t.Fatal(err)
	}
	_, err := b.Prove(context.Background(), r, licenseID, nil)
	var pe *olr.TPMProofError
	if !errors.As(err, &pe) || pe.Reason != olr.ReasonTPMMismatch {
		t.Fatalf("replayed answer: %v", err)
	}
}
