//go:build cgo

package tpm

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/tpm/binding"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/tpmbind"
)

var _ olr.TPMProver = (*Prover)(nil)

const testLicenseID = "0123456789abcdef0123456789abcdef"

// openSeeded opens the in-process simulator with its own seed: another
// seed is another TPM (another endorsement key).
func openSeeded(tb testing.TB, seed int64) *conn {
	tb.Helper()
	s, err := simulator.GetWithFixedSeedInsecure(seed)
	if err != nil {
		tb.Fatal(err)
	}
	c := newConn(simSource, &simLink{sim: s})
	tb.Cleanup(func() { c.Close() })
	return c
}

// issue is the vendor: check the machine's EK of kind (no certificate on
// the simulator: unattested) and wrap a license key to it.
func issue(tb testing.TB, t transport.TPM, kind string) *olr.TPMBinding {
	tb.Helper()
	e, err := ReadEndorsement(context.Background(), t)
	if err != nil {
		tb.Fatal(err)
	}
	for _, ek := range e.EKs {
		if ek.Kind != kind {
			continue
		}
		checked, err := tpmbind.CheckEK(ek.Kind, ek.Public, ek.Cert, e.Chain, nil, time.Now())
		if err != nil {
			tb.Fatal(err)
		}
		b, err := tpmbind.Bind(checked)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	tb.Fatalf("no %s EK among %+v", kind, e.EKs)
	return nil
}

// transients lists the transient objects and sessions loaded in the TPM:
// after every proof, failed or not, there must be none (outside the
// kernel's resource manager nothing else frees them).
func transients(tb testing.TB, t transport.TPM) int {
	tb.Helper()
	n := 0
	for _, first := range []uint32{0x80000000, 0x02000000, 0x03000000} {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: first, PropertyCount: 64}.Execute(t)
		if err != nil {
			tb.Fatal(err)
		}
		hs, _ := rsp.CapabilityData.Data.Handles()
		for _, h := range hs.Handle {
			if uint32(h)>>24 == first>>24 {
				n++
			}
		}
	}
	return n
}

func clearTPM(tb testing.TB, t transport.TPM) {
	tb.Helper()
	if _, err := (tpm2.Clear{AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHLockout, Auth: tpm2.PasswordAuth(nil)}}).Execute(t); err != nil {
		tb.Fatal(err)
	}
}

func wantReason(t *testing.T, err error, want olr.Reason) {
	t.Helper()
	var pe *olr.TPMProofError
	if !errors.As(err, &pe) || pe.Reason != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	t.Logf("%s: %v", want, err)
}

func TestProveSim(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{binding.KindECCP256, binding.KindRSA2048} {
		t.Run(kind, func(t *testing.T) {
			tpm := openSeeded(t, 1)
			b := issue(t, tpm, kind)
			p := &Prover{t: tpm}
			defer p.releaseEKs(tpm)

			// The first proof imports; the next loads what it returned.
			cached, err := b.Prove(ctx, p, testLicenseID, nil)
			if err != nil {
				t.Fatal(err)
			}
			again, err := b.Prove(ctx, p, testLicenseID, cached)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(cached) {
				t.Error("a proof with a private part that loads replaced it")
			}
			// A damaged cache is imported over.
			bad := append([]byte{}, cached...)
			bad[len(bad)-1] ^= 1
			if fresh, err := b.Prove(ctx, p, testLicenseID, bad); err != nil || string(fresh) == string(bad) {
				t.Fatalf("damaged cache: %v", err)
			}

			// TPM2_Clear keeps the EK but re-seeds what it protects: the
			// cached part no longer loads, and the prover imports again.
			clearTPM(t, tpm)
			p.releaseEKs(tpm)
			after, err := b.Prove(ctx, p, testLicenseID, cached)
			if err != nil {
				t.Fatalf("after TPM2_Clear: %v", err)
			}
			if string(after) == string(cached) {
				t.Error("after TPM2_Clear the old private part was kept")
			}
			p.releaseEKs(tpm)
			if n := transients(t, tpm); n != 0 {
				t.Errorf("%d transient handles left after the proofs", n)
			}

			_, err = b.Prove(ctx, nil, testLicenseID, nil)
			wantReason(t, err, olr.ReasonTPMUnavailable)
			tpm.Close()

			// Another TPM: the import fails, with or without the first
			// TPM's cached part (its state directory copied along).
			other := openSeeded(t, 2)
			po := &Prover{t: other}
			for _, c := range [][]byte{nil, cached} {
				_, err = b.Prove(ctx, po, testLicenseID, c)
				wantReason(t, err, olr.ReasonTPMMismatch)
			}
			po.releaseEKs(other)
			if n := transients(t, other); n != 0 {
				t.Errorf("%d transient handles left after failed proofs", n)
			}
		})
	}
}

// recorder keeps the TPM's last answer; replayer gives it again.
type recorder struct {
	p   olr.TPMProver
	sig []byte
}

func (r *recorder) ProveTPM(ctx context.Context, kind string, blob, cached, d []byte) ([]byte, []byte, error) {
	sig, priv, err := r.p.ProveTPM(ctx, kind, blob, cached, d)
	r.sig = sig
	return sig, priv, err
}

type replayer struct{ sig []byte }

func (r replayer) ProveTPM(context.Context, string, []byte, []byte, []byte) ([]byte, []byte, error) {
	return r.sig, nil, nil
}

func TestProveReplay(t *testing.T) {
	tpm := openSeeded(t, 1)
	b := issue(t, tpm, binding.KindECCP256)
	rec := &recorder{p: &Prover{t: tpm}}
	if _, err := b.Prove(context.Background(), rec, testLicenseID, nil); err != nil {
		t.Fatal(err)
	}
	_, err := b.Prove(context.Background(), replayer{rec.sig}, testLicenseID, nil)
	wantReason(t, err, olr.ReasonTPMMismatch)
}

// A collector that holds the TPM proves with the EK its factor read made,
// and releases it on Close.
func TestCollectorHoldProver(t *testing.T) {
	tpm := openSimT(t)
	b := issue(t, tpm, binding.KindECCP256)
	tpm.Close()

	c := NewCollector("sim")
	c.Hold = true
	var fp fingerprint.Fingerprint
	if err := c.Collect(context.Background(), &fp); err != nil {
		t.Fatal(err)
	}
	p := c.Prover()
	if p.t == nil || p.eks[binding.KindECCP256] == nil {
		t.Fatal("the prover does not share the collector's TPM and EK")
	}
	held := p.eks[binding.KindECCP256].handle
	if _, err := b.Prove(context.Background(), p, testLicenseID, nil); err != nil {
		t.Fatal(err)
	}
	if p.eks[binding.KindECCP256].handle != held {
		t.Error("the proof made a new EK instead of using the held one")
	}
	if n := transients(t, p.t); n != 1 {
		t.Errorf("%d transient handles while holding the EK, want 1", n)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed: the prover opens the TPM itself from now on.
	if _, err := b.Prove(context.Background(), p, testLicenseID, nil); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	tpm = openSimT(t)
	if n := transients(t, tpm); n != 0 {
		t.Errorf("%d transient handles after Close", n)
	}
}

// An EK nonce in NV changes the EK, as the manufacturer's certificate
// says; the factor and the request agree on it.
func TestEKNonceFromNV(t *testing.T) {
	tpm := openSimT(t)
	before, err := Read(context.Background(), tpm)
	if err != nil {
		t.Fatal(err)
	}
	nonce := []byte("olr-test-nonce")
	k, _ := binding.KindNamed(binding.KindECCP256)
	def := tpm2.NVDefineSpace{
		AuthHandle: tpm2.TPMRHOwner,
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: tpm2.TPMHandle(k.NonceIndex), NameAlg: tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{OwnerWrite: true, AuthWrite: true, OwnerRead: true, AuthRead: true, NoDA: true, NT: tpm2.TPMNTOrdinary},
			DataSize:   uint16(len(nonce)),
		}),
	}
	if _, err := def.Execute(tpm); err != nil {
		t.Fatal(err)
	}
	pub, _ := def.PublicInfo.Contents()
	nvName, _ := tpm2.NVName(pub)
	if _, err := (tpm2.NVWrite{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(k.NonceIndex), Name: *nvName},
		Data:       tpm2.TPM2BMaxNVBuffer{Buffer: nonce},
	}).Execute(tpm); err != nil {
		t.Fatal(err)
	}
	after, err := Read(context.Background(), tpm)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ReadEndorsement(context.Background(), tpm)
	if err != nil {
		t.Fatal(err)
	}
	if after.EKName == before.EKName || e.EKs[0].Name != after.EKName || e.EKs[0].From != "nv-nonce" {
		t.Errorf("EK with a nonce in NV: factor %s (was %s), request %+v", after.EKName, before.EKName, e.EKs[0])
	}
	pa, _ := tpm2.Unmarshal[tpm2.TPMTPublic](e.EKs[0].Public)
	if !k.IsDefault(pa) {
		t.Error("a nonce EK is not the default template but for unique")
	}
}

// Proofs that cannot reach a TPM are unavailable, not a mismatch.
func TestProveUnavailable(t *testing.T) {
	tpm := openSimT(t)
	b := issue(t, tpm, binding.KindECCP256)
	tpm.Close()
	for _, spec := range []string{"none", "mssim:127.0.0.1:1", "/nonexistent/tpmrm0"} {
		_, err := b.Prove(context.Background(), NewProver(spec, time.Second), testLicenseID, nil)
		wantReason(t, err, olr.ReasonTPMUnavailable)
	}
	// A TPM that does not answer in time.
	slow := &slowTPM{t: openSimT(t), delay: 300 * time.Millisecond, done: make(chan struct{}, 64)}
	t.Cleanup(func() { <-slow.done })
	p := &Prover{t: newConn("slow", foreignLink{slow}), timeout: 100 * time.Millisecond}
	_, err := b.Prove(context.Background(), p, testLicenseID, nil)
	wantReason(t, err, olr.ReasonTPMUnavailable)
}

// defineNV makes an NV index holding data, written in chunks the TPM
// accepts, as a manufacturer provisions certificates.
func defineNV(t *testing.T, tpm transport.TPM, index uint32, data []byte) {
	t.Helper()
	def := tpm2.NVDefineSpace{
		AuthHandle: tpm2.TPMRHOwner,
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: tpm2.TPMHandle(index), NameAlg: tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{OwnerWrite: true, AuthWrite: true, OwnerRead: true, AuthRead: true, NoDA: true, NT: tpm2.TPMNTOrdinary},
			DataSize:   uint16(len(data)),
		}),
	}
	if _, err := def.Execute(tpm); err != nil {
		t.Fatal(err)
	}
	pub, _ := def.PublicInfo.Contents()
	name, _ := tpm2.NVName(pub)
	for off := 0; off < len(data); off += 512 {
		end := min(off+512, len(data))
		if _, err := (tpm2.NVWrite{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(index), Name: *name},
			Data:       tpm2.TPM2BMaxNVBuffer{Buffer: data[off:end]},
			Offset:     uint16(off),
		}).Execute(tpm); err != nil {
			t.Fatal(err)
		}
	}
}

// Certificates in NV are read whole (in chunks) and trimmed of the NV
// area's padding; the chain range is read in index order.
func TestReadEndorsementCertificates(t *testing.T) {
	tpm := openSimT(t)
	der := func(n int, fill byte) []byte {
		b := append([]byte{0x30, 0x82, byte(n >> 8), byte(n)}, bytes.Repeat([]byte{fill}, n)...)
		return b
	}
	eccCert, chain1, chain2 := der(1300, 0xa1), der(700, 0xb2), der(900, 0xc3)
	defineNV(t, tpm, 0x01C0000A, append(bytes.Clone(eccCert), bytes.Repeat([]byte{0xff}, 200)...))
	defineNV(t, tpm, 0x01C00102, append(bytes.Clone(chain2), 0, 0, 0))
	defineNV(t, tpm, 0x01C00100, chain1)
	defineNV(t, tpm, 0x01C00104, []byte("not a certificate"))
	e, err := ReadEndorsement(context.Background(), tpm)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.EKs) != 2 || e.EKs[0].Kind != binding.KindECCP256 || e.EKs[1].Kind != binding.KindRSA2048 {
		t.Fatalf("EKs %+v", e.EKs)
	}
	if !bytes.Equal(e.EKs[0].Cert, eccCert) || e.EKs[1].Cert != nil {
		t.Errorf("certificates: ECC %d bytes, RSA %d bytes", len(e.EKs[0].Cert), len(e.EKs[1].Cert))
	}
	if len(e.Chain) != 2 || !bytes.Equal(e.Chain[0], chain1) || !bytes.Equal(e.Chain[1], chain2) {
		t.Errorf("chain of %d", len(e.Chain))
	}
	if len(e.Notes) != 1 || !strings.Contains(e.Notes[0], "chain certificate at 0x1c00104 left out") {
		t.Errorf("notes %q", e.Notes)
	}
	info, err := Read(context.Background(), tpm)
	if err != nil || info.EKName != e.EKs[0].Name || !info.EKCertPresent {
		t.Errorf("the factor's EK %+v, %v", info, err)
	}
}

// An endorsement hierarchy with a password olr does not know: the TPM
// cannot be asked (unavailable), it is not another TPM.
func TestProveEndorsementPassword(t *testing.T) {
	tpm := openSimT(t)
	b := issue(t, tpm, binding.KindECCP256)
	if _, err := (tpm2.HierarchyChangeAuth{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		NewAuth:    tpm2.TPM2BAuth{Buffer: []byte("secret")},
	}).Execute(tpm); err != nil {
		t.Fatal(err)
	}
	p := &Prover{t: tpm}
	_, err := b.Prove(context.Background(), p, testLicenseID, nil)
	wantReason(t, err, olr.ReasonTPMUnavailable)
	if !strings.Contains(err.Error(), "password") {
		t.Errorf("no hint: %v", err)
	}
	p.releaseEKs(tpm)
	if n := transients(t, tpm); n != 0 {
		t.Errorf("%d transient handles left", n)
	}
}

// Even root on the licensed machine cannot move the imported key to
// another parent or TPM, nor give it a password: the DUP and ADMIN roles
// need a policy, and its authPolicy is empty.
func TestImportedKeyCannotLeave(t *testing.T) {
	tpm := openSimT(t)
	b := issue(t, tpm, binding.KindECCP256)
	k, _ := binding.KindNamed(binding.KindECCP256)
	ek, err := createEK(tpm, k)
	if err != nil {
		t.Fatal(err)
	}
	defer ek.flush(tpm)
	blob, _, _ := binding.ParseBlob(b.Blob)
	imp, err := tpm2.Import{
		ParentHandle: ek.auth(),
		ObjectPublic: tpm2.BytesAs2B[tpm2.TPMTPublic](blob.Public),
		Duplicate:    tpm2.TPM2BPrivate{Buffer: blob.Duplicate},
		InSymSeed:    tpm2.TPM2BEncryptedSecret{Buffer: blob.Seed},
		Symmetric:    tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
	}.Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
	ld, err := tpm2.Load{ParentHandle: ek.auth(), InPrivate: imp.OutPrivate,
		InPublic: tpm2.BytesAs2B[tpm2.TPMTPublic](blob.Public)}.Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm2.FlushContext{FlushHandle: ld.ObjectHandle}.Execute(tpm)
	ccPolicy := func(cc tpm2.TPMCC) tpm2.Session {
		return tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(tt transport.TPM, s tpm2.TPMISHPolicy, _ tpm2.TPM2BNonce) error {
			_, err := tpm2.PolicyCommandCode{PolicySession: s, Code: cc}.Execute(tt)
			return err
		})
	}
	_, err = tpm2.Duplicate{
		ObjectHandle:    tpm2.AuthHandle{Handle: ld.ObjectHandle, Name: ld.Name, Auth: ccPolicy(tpm2.TPMCCDuplicate)},
		NewParentHandle: tpm2.TPMRHNull,
		Symmetric:       tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
	}.Execute(tpm)
	if !errors.Is(err, tpm2.TPMRCPolicyFail) {
		t.Errorf("Duplicate: %v, want TPM_RC_POLICY_FAIL", err)
	}
	_, err = tpm2.ObjectChangeAuth{
		ObjectHandle: tpm2.AuthHandle{Handle: ld.ObjectHandle, Name: ld.Name, Auth: ccPolicy(tpm2.TPMCCObjectChangeAuth)},
		ParentHandle: tpm2.NamedHandle{Handle: ek.handle, Name: ek.name},
		NewAuth:      tpm2.TPM2BAuth{Buffer: []byte("x")},
	}.Execute(tpm)
	if !errors.Is(err, tpm2.TPMRCPolicyFail) {
		t.Errorf("ObjectChangeAuth: %v, want TPM_RC_POLICY_FAIL", err)
	}
}

func TestCollectorEndorsement(t *testing.T) {
	for _, hold := range []bool{false, true} {
		c := NewCollector("sim")
		c.Hold = hold
		var fp fingerprint.Fingerprint
		if err := c.Collect(context.Background(), &fp); err != nil {
			t.Fatal(err)
		}
		e, err := c.Endorsement(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(e.EKs) != 2 || e.EKs[0].Name != fp.Factors[0].Value {
			t.Errorf("hold %v: EKs %+v, factor %s", hold, e.EKs, fp.Factors[0].Value)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewCollector("none").Endorsement(context.Background()); !errors.Is(err, ErrNoTPM) {
		t.Errorf("without a TPM: %v", err)
	}
}
