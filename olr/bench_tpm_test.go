package olr_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

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

// BenchmarkVerifyTPMBoundRatio runs the two sides of
// BenchmarkVerifyTPMBound alternately, one call each in turn, timing
// each, as BenchmarkVerifyRatio does: the ratio holds on a busy machine.
func BenchmarkVerifyTPMBoundRatio(b *testing.B) {
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	trust := olrtest.Trust(key)
	now := olrtest.Epoch.Add(0)
	_, v1 := olrtest.License(key, fp)
	base, _ := olrtest.NewSoftwareTPM("baseline")
	digest := sha256.Sum256([]byte("challenge"))
	sig, err := ecdsa.SignASN1(rand.Reader, base.Key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	tpm, binding := olrtest.NewSoftwareTPM("machine")
	_, v2 := olrtest.BoundLicense(key, fp, binding)
	opts := &olr.VerifyOptions{TPM: tpm}
	var bound, baseline time.Duration
	for b.Loop() {
		t0 := time.Now()
		if r, err := olr.Verify(v2, trust, fp, now, opts); err != nil || r.Status != olr.Valid {
			b.Fatal(err)
		}
		t1 := time.Now()
		if r, err := olr.Verify(v1, trust, fp, now, nil); err != nil || r.Status != olr.Valid {
			b.Fatal(err)
		}
		if !ecdsa.VerifyASN1(&base.Key.PublicKey, digest[:], sig) {
			b.Fatal("bad signature")
		}
		bound, baseline = bound+t1.Sub(t0), baseline+time.Since(t1)
	}
	b.ReportMetric(float64(bound.Nanoseconds())/float64(b.N), "v2-ns/op")
	b.ReportMetric(float64(baseline.Nanoseconds())/float64(b.N), "v1+ecdsa-ns/op")
	b.ReportMetric(float64(bound)/float64(baseline), "ratio")
}
