package olr_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

// BenchmarkVerifyTPMBound compares the product's check of a TPM-bound
// license (olr-license/v2) with a software prover (it signs the challenge
// in memory: the TPM's work, minus the TPM) against its baseline, a
// version 1 license's Verify plus one ECDSA P-256 verification. The
// target is a ratio of at most 1.3; run the two interleaved (see
// BENCHMARKS.md).
func BenchmarkVerifyTPMBound(b *testing.B) {
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	trust := olrtest.Trust(key)
	now := olrtest.Epoch.Add(0)
	b.Run("v1+ecdsa-verify", func(b *testing.B) {
		_, lic := olrtest.License(key, fp)
		tpm, _ := olrtest.NewSoftwareTPM("machine")
		digest := sha256.Sum256([]byte("challenge"))
		sig, err := ecdsa.SignASN1(rand.Reader, tpm.Key, digest[:])
		if err != nil {
			b.Fatal(err)
		}
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			if r, err := olr.Verify(lic, trust, fp, now, nil); err != nil || r.Status != olr.Valid {
				b.Fatal(err)
			}
			if !ecdsa.VerifyASN1(&tpm.Key.PublicKey, digest[:], sig) {
				b.Fatal("bad signature")
			}
		}
	})
	b.Run("v2", func(b *testing.B) {
		tpm, binding := olrtest.NewSoftwareTPM("machine")
		_, lic := olrtest.BoundLicense(key, fp, binding)
		opts := &olr.VerifyOptions{TPM: tpm}
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			if r, err := olr.Verify(lic, trust, fp, now, opts); err != nil || r.Status != olr.Valid {
				b.Fatal(err)
			}
		}
	})
}
