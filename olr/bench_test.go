package olr_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

// BenchmarkVerify is what a product pays at start: parse, key lookup,
// signature, dates and the hardware binding (collection excluded). Its
// baseline is BenchmarkEd25519Verify; the target is a ratio of at most 1.3.
func BenchmarkVerify(b *testing.B) {
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	_, lic := olrtest.License(key, fp)
	trust := olrtest.Trust(key)
	now := olrtest.Epoch.Add(time.Hour)
	b.SetBytes(int64(len(lic)))
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		if r, err := olr.Verify(lic, trust, fp, now, nil); err != nil || r.Status != olr.Valid {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Verify is the bare ed25519.Verify of the same signed
// message: the floor under BenchmarkVerify.
func BenchmarkEd25519Verify(b *testing.B) {
	key := olrtest.Key("vendor")
	_, lic := olrtest.License(key, olrtest.Fingerprint())
	msg, sig := signedMessage(key, lic)
	pub := key.Public().(ed25519.PublicKey)
	b.SetBytes(int64(len(lic)))
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkVerifyRatio runs olr.Verify and its baseline, the bare
// ed25519.Verify of the same signed message, alternately, one call each
// in turn, timing each call: both see the same machine at the same
// moments, so their ratio holds on a machine busy with other work, where
// two benchmarks run one after the other do not. It reports each one's
// ns per call and the ratio (target: at most 1.3).
func BenchmarkVerifyRatio(b *testing.B) {
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	_, lic := olrtest.License(key, fp)
	trust := olrtest.Trust(key)
	now := olrtest.Epoch.Add(time.Hour)
	msg, sig := signedMessage(key, lic)
	pub := key.Public().(ed25519.PublicKey)
	var verify, bare time.Duration
	for b.Loop() {
		t0 := time.Now()
		if r, err := olr.Verify(lic, trust, fp, now, nil); err != nil || r.Status != olr.Valid {
			b.Fatal(err)
		}
		t1 := time.Now()
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
		verify, bare = verify+t1.Sub(t0), bare+time.Since(t1)
	}
	b.ReportMetric(float64(verify.Nanoseconds())/float64(b.N), "verify-ns/op")
	b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N), "ed25519-ns/op")
	b.ReportMetric(float64(verify)/float64(bare), "ratio")
}

// signedMessage returns what a license's signature covers, signed again
// by key: the baseline's message and signature.
func signedMessage(key ed25519.PrivateKey, lic []byte) (msg, sig []byte) {
	begin := len("-----BEGIN OLR LICENSE-----\n")
	end := bytes.LastIndex(lic, []byte("signature: "))
	msg = append([]byte("olr/v1/license-signature\x00"), lic[begin:end]...)
	return msg, ed25519.Sign(key, msg)
}

// reportCPU reports the CPU time per operation since start (cpu-ns/op):
// on a machine busy with other work, wall time per operation grows with
// the load, CPU time much less, so pairs compared on it agree better.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func benchRequest(b *testing.B) (*olr.Request, []age.Recipient) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		b.Fatal(err)
	}
	req, err := olr.NewRequest("backup-server", "Example Backup Ltd", "OEM-7Q2D-K9XW-4M3T", "backup01", "olr test", olrtest.Fingerprint(), olrtest.Epoch)
	if err != nil {
		b.Fatal(err)
	}
	return req, []age.Recipient{id.Recipient()}
}

// BenchmarkEncryptRequest is olr.EncryptRequest (validation, JSON,
// armor, age with the hybrid recipient). Its baseline is
// BenchmarkAgeEncrypt.
func BenchmarkEncryptRequest(b *testing.B) {
	req, rcpt := benchRequest(b)
	for b.Loop() {
		if _, err := olr.EncryptRequest(req, rcpt, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAgeEncrypt is bare age.Encrypt of the same plaintext to the
// same recipient, binary, without armor.
func BenchmarkAgeEncrypt(b *testing.B) {
	req, rcpt := benchRequest(b)
	plain, err := req.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		w, err := age.Encrypt(io.Discard, rcpt...)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(plain)
		w.Close()
	}
}

// BenchmarkParseRequest reads a typical request's plaintext with the
// strict reader of SPEC.md section 2, beside encoding/json decoding the
// same bytes into a Request with none of the checks (the baseline). Run
// with -count to interleave the two.
func BenchmarkParseRequest(b *testing.B) {
	req, _ := benchRequest(b)
	plain, err := req.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			if _, err := olr.ParseRequest(plain); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			var r olr.Request
			if err := json.Unmarshal(plain, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
