//go:build cgo

package tpm

import (
	"context"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/olr-dev/olr/fingerprint/tpm/binding"
	"github.com/olr-dev/olr/fingerprint/tpm/tpmtest"
)

// BenchmarkStartCheck compares what a product start adds for a TPM-bound
// license with what it already pays for the tpm-ek factor, on the
// in-process simulator and on swtpm:
//
//   - ek-read is Read, the factor as every start reads it (properties,
//     CreatePrimary of the EK, its certificate index, Flush);
//   - check is the proof on the EK that read left loaded, with the private
//     part cached in the state: policy session, Load, Sign, Flush, and
//     olr's challenge and ECDSA verification.
//
// The target is check <= 2 x ek-read. Run the pair interleaved (see
// BENCHMARKS.md).
func BenchmarkStartCheck(b *testing.B) {
	b.Run("sim", func(b *testing.B) {
		benchStart(b, openSimT(b))
	})
	b.Run("swtpm", func(b *testing.B) {
		s := tpmtest.Start(b, b.TempDir())
		t, _, err := Open(s.Spec)
		if err != nil {
			b.Fatal(err)
		}
		defer t.Close()
		benchStart(b, t)
	})
}

func benchStart(b *testing.B, t transport.TPM) {
	ctx := context.Background()
	b.Run("ek-read", func(b *testing.B) {
		for b.Loop() {
			if _, err := Read(ctx, t); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("check", func(b *testing.B) {
		bind := issue(b, t, binding.KindECCP256)
		var ek *loadedEK
		err := bounded(ctx, t, "reading", func(t transport.TPM) (err error) {
			_, ek, err = readHolding(t)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		p := &Prover{t: t, eks: map[string]*loadedEK{binding.KindECCP256: ek}}
		defer p.releaseEKs(t)
		cached, err := bind.Prove(ctx, p, testLicenseID, nil)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := bind.Prove(ctx, p, testLicenseID, cached); err != nil {
				b.Fatal(err)
			}
		}
	})
}
