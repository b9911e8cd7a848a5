package olr_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"

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
	if cached, err := b.Prove(ctx, tpm, licenseID, nil); err != nil || string(cached) != "private part of olrtest software TPM machine" {
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

func TestVerifyTPMBound(t *testing.T) {
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	trust := olrtest.Trust(key)
	now := olrtest.Epoch.Add(time.Hour)
	tpm, b := olrtest.NewSoftwareTPM("machine")
	other, _ := olrtest.NewSoftwareTPM("other")
	_, lic := olrtest.BoundLicense(key, fp, b)
	if !bytes.Contains(lic, []byte("format: olr-license/v2\n")) || !bytes.Contains(lic, []byte("\ntpm-bind: import ecc-p256\n")) {
		t.Fatalf("bound license:\n%s", lic)
	}
	drifted := olrtest.Only(fp, fingerprint.KindMAC)

	res, err := olr.Verify(lic, trust, fp, now, &olr.VerifyOptions{TPM: tpm})
	if err != nil || res.Status != olr.Valid || string(res.TPMPrivate) != "private part of olrtest software TPM machine" || res.License.TPM == nil {
		t.Fatalf("on its TPM: %v, %+v", err, res)
	}
	for _, c := range []struct {
		name   string
		opts   *olr.VerifyOptions
		fp     *fingerprint.Fingerprint
		reason olr.Reason
	}{
		{"no prover", nil, fp, olr.ReasonTPMUnavailable},
		{"another TPM", &olr.VerifyOptions{TPM: other}, fp, olr.ReasonTPMMismatch},
		// Neither earns grace, even for an installed license that drifted.
		{"another TPM, drifted, installed", &olr.VerifyOptions{TPM: other, MismatchSince: now}, drifted, olr.ReasonTPMMismatch},
		{"no TPM, installed", &olr.VerifyOptions{MismatchSince: now}, fp, olr.ReasonTPMUnavailable},
		// The TPM proof does not replace the hardware match.
		{"its TPM, another machine", &olr.VerifyOptions{TPM: tpm}, olrtest.Only(fp, fingerprint.KindIP), olr.ReasonHardwareMismatch},
	} {
		res, err := olr.Verify(lic, trust, c.fp, now, c.opts)
		var ve *olr.VerifyError
		if !errors.As(err, &ve) || ve.Reason != c.reason || res.Reason != c.reason || res.Status != olr.Invalid {
			t.Errorf("%s: %v, %+v", c.name, err, res)
		}
	}
	// Its TPM, drifted hardware: grace as for a version 1 license.
	res, err = olr.Verify(lic, trust, drifted, now, &olr.VerifyOptions{TPM: tpm, MismatchSince: now})
	if err != nil || res.Status != olr.Grace {
		t.Errorf("its TPM, drifted: %v, %+v", err, res)
	}
	// A version 1 license never asks the TPM.
	_, v1 := olrtest.License(key, fp)
	calls := tpm.Calls
	if res, err := olr.Verify(v1, trust, fp, now, &olr.VerifyOptions{TPM: tpm}); err != nil || res.TPMPrivate != nil || tpm.Calls != calls {
		t.Errorf("version 1 with a prover: %v, %d calls", err, tpm.Calls-calls)
	}
}

// Every single-byte change of a TPM-bound license fails: the binding's
// lines are signed like the rest.
func TestBoundLicenseEveryByte(t *testing.T) {
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	trust := olrtest.Trust(key)
	now := olrtest.Epoch.Add(time.Hour)
	tpm, b := olrtest.NewSoftwareTPM("machine")
	_, lic := olrtest.BoundLicense(key, fp, b)
	opts := &olr.VerifyOptions{TPM: tpm}
	start := bytes.Index(lic, []byte("tpm-bind: "))
	for i := range lic {
		if i < start && i%7 != 0 {
			continue // the v1 part is swept exhaustively elsewhere; here every byte of the TPM lines
		}
		for _, delta := range []byte{1, 0x20, 0x80} {
			mod := bytes.Clone(lic)
			mod[i] ^= delta
			if res, err := olr.Verify(mod, trust, fp, now, opts); err == nil || res.Usable() {
				t.Fatalf("byte %d ^ %#x verified", i, delta)
			}
		}
	}
}

// A version 2 request round-trips through Marshal and ParseRequest.
func TestRequestV2RoundTrip(t *testing.T) {
	req, err := olr.NewRequest("backup-server", "Example Backup Ltd", "OEM-7Q2D-K9XW-4M3T", "backup01", "olr test", olrtest.Fingerprint(), olrtest.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	tpm := &olr.RequestTPM{Manufacturer: "IFX", EKs: []olr.RequestEK{
		{Kind: olr.TPMKindECCP256, Public: []byte{0, 0x23, 1}, Cert: []byte{0x30, 1, 2}},
		{Kind: olr.TPMKindRSA2048, Public: []byte{0, 1, 2}},
	}, Chain: [][]byte{{0x30, 0}}}
	if err := req.AttachTPM(tpm); err != nil {
		t.Fatal(err)
	}
	plain, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plain, []byte(`"format": "olr-request/v2"`)) || !bytes.Contains(plain, []byte(`"public": "ACMB"`)) {
		t.Fatalf("plaintext:\n%s", plain)
	}
	got, err := olr.ParseRequest(plain)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.Marshal()
	if !bytes.Equal(again, plain) || got.TPM.EKs[1].Cert != nil {
		t.Errorf("round trip:\n%s\nwant\n%s", again, plain)
	}
}
