package tpm

import (
	"context"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/olr-dev/olr/fingerprint/tpm/binding"
)

// Prover answers the challenge of a TPM-bound license: it imports the
// license key that the vendor wrapped to this TPM's endorsement key (or
// loads the copy the TPM wrapped for itself at an earlier import), and has
// the TPM sign the challenge with it. Only the TPM that holds the EK's
// private part can do either. It implements olr.TPMProver.
//
// A Prover from [Collector.Prover] uses the TPM and the EK that the
// factor read left open; one from [NewProver] opens the TPM for each
// proof. Either is safe for concurrent use (the proofs take turns).
type Prover struct {
	spec    string
	timeout time.Duration
	// absent, when set, says why there is no TPM to prove with.
	absent string

	mu sync.Mutex
	// t and eks are set for a prover that shares an open TPM; eks holds
	// the EKs already in it, by kind.
	t   transport.TPM
	eks map[string]*loadedEK
}

// NewProver returns a prover for the TPM that spec selects (see [Open]).
// Each proof opens the TPM, makes the EK, proves and closes it again,
// within timeout (zero: [DefaultTimeout]) unless the context given to
// ProveTPM ends earlier.
func NewProver(spec string, timeout time.Duration) *Prover {
	return &Prover{spec: spec, timeout: timeout}
}

// NoProver returns a prover for a machine without a TPM to prove with:
// every proof fails as unavailable, saying why.
func NoProver(why string) *Prover { return &Prover{absent: why} }

// ProveError is the error of a proof. Unavailable tells a TPM that could
// not be asked (absent, busy, timed out, a hierarchy disabled) from one
// that answered and is not the licensed TPM.
type ProveError struct {
	// Op is the step that failed: "open", "ek", "import", "load", "sign".
	Op  string
	Err error
	// NotAvailable: the TPM could not be asked; otherwise it answered and
	// refused the key (another TPM, a changed EK).
	NotAvailable bool

	// refused marks an answer that refuses the key whatever its code.
	refused bool
}

func (e *ProveError) Error() string { return e.Err.Error() }
func (e *ProveError) Unwrap() error { return e.Err }

// Unavailable reports whether the TPM could not be asked, as olr.Verify
// asks to tell tpm-unavailable from tpm-mismatch.
func (e *ProveError) Unavailable() bool { return e.NotAvailable }

// ProveTPM has the TPM sign digest (a SHA-256 digest) with the license key
// that blob wraps for the EK of kind ekKind. cached is the key's private
// part as the TPM wrapped it at an earlier import, or nil; it is tried
// first, and a TPM that no longer loads it (after TPM2_Clear, which
// re-seeds what the EK protects) imports blob again. It returns an ASN.1
// ECDSA signature and the private part to keep for the next proof.
func (p *Prover) ProveTPM(ctx context.Context, ekKind string, blob, cached, digest []byte) (sig, private []byte, err error) {
	kind, ok := binding.KindNamed(ekKind)
	if !ok {
		return nil, nil, &ProveError{Op: "ek", Err: fmt.Errorf("the license names an unknown EK kind %q", ekKind)}
	}
	b, _, err := binding.ParseBlob(blob)
	if err != nil {
		return nil, nil, &ProveError{Op: "import", Err: err}
	}
	if p.absent != "" {
		return nil, nil, &ProveError{Op: "open", Err: fmt.Errorf("%w: %s", ErrNoTPM, p.absent), NotAvailable: true}
	}
	if len(digest) != 32 {
		return nil, nil, &ProveError{Op: "sign", Err: fmt.Errorf("challenge digest of %d bytes, want 32", len(digest))}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	timeout := p.timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if p.t != nil {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return p.prove(ctx, p.t, kind, b, cached, digest)
	}
	octx, cancel := context.WithTimeout(ctx, timeout)
	t, _, err := OpenContext(octx, p.spec)
	cancel()
	if err != nil {
		return nil, nil, &ProveError{Op: "open", Err: err, NotAvailable: true}
	}
	defer t.Close()
	ctx, cancel = context.WithTimeout(ctx, timeout)
	defer cancel()
	defer p.releaseEKs(t)
	return p.prove(ctx, t, kind, b, cached, digest)
}

// prove runs one proof on an open TPM, every command bounded by ctx.
func (p *Prover) prove(ctx context.Context, t transport.TPM, kind binding.Kind, b *binding.Blob, cached, digest []byte) (sig, private []byte, err error) {
	err = bounded(ctx, t, "proving the license's TPM binding", func(t transport.TPM) error {
		ek, err := p.ek(t, kind)
		if err != nil {
			return &ProveError{Op: "ek", Err: err}
		}
		if cached != nil {
			sig, err = signWith(t, ek, b.Public, cached, digest)
			if err == nil || !isRC(err) || isUnavailableRC(err) {
				private = cached
				return err
			}
			// The cached part no longer loads: after TPM2_Clear the EK
			// stays, but what it protects is re-seeded. Import again.
		}
		rsp, err := tpm2.Import{
			ParentHandle: ek.auth(),
			ObjectPublic: tpm2.BytesAs2B[tpm2.TPMTPublic](b.Public),
			Duplicate:    tpm2.TPM2BPrivate{Buffer: b.Duplicate},
			InSymSeed:    tpm2.TPM2BEncryptedSecret{Buffer: b.Seed},
			Symmetric:    tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
		}.Execute(t)
		if err != nil {
			pe := &ProveError{Op: "import", Err: fmt.Errorf("importing the license key under the %s EK: %w%s", kind.Name, err, mismatchHint(err))}
			// libtpms (swtpm) answers TPM_RC_FAILURE, the code of a TPM in
			// failure mode, when the seed does not decrypt under an RSA
			// EK. A TPM that answers a probe afterwards is not in failure
			// mode: it refused the key.
			pe.refused = errors.Is(err, tpm2.TPMRCFailure) && probe(t) == nil
			return pe
		}
		private = rsp.OutPrivate.Buffer
		sig, err = signWith(t, ek, b.Public, private, digest)
		return err
	})
	if err != nil {
		return nil, nil, classify(err)
	}
	return sig, private, nil
}

// ek returns the EK of kind: one the prover holds, the platform's
// persistent one, or a new one. A prover that does not share an open TPM
// keeps it only for this proof (releaseEKs flushes it).
func (p *Prover) ek(t transport.TPM, kind binding.Kind) (*loadedEK, error) {
	if ek := p.eks[kind.Name]; ek != nil {
		return ek, nil
	}
	ek, err := persistentEK(t, kind)
	if err != nil {
		return nil, err
	}
	if ek == nil {
		if ek, err = createEK(t, kind); err != nil {
			return nil, err
		}
	}
	if p.eks == nil {
		p.eks = map[string]*loadedEK{}
	}
	p.eks[kind.Name] = ek
	return ek, nil
}

// releaseEKs flushes the EKs the prover holds.
func (p *Prover) releaseEKs(t transport.TPM) error {
	var first error
	for name, ek := range p.eks {
		if err := ek.flush(t); err != nil && first == nil {
			first = err
		}
		delete(p.eks, name)
	}
	return first
}

// persistentEK returns the EK a platform persisted at kind's handle, or
// nil when there is none or the key there is not of kind's default
// template. Using it saves making an RSA key, which takes a real TPM up to
// seconds. A key of the template that is not the EK does no harm: only
// the EK's private part can import the license key.
func persistentEK(t transport.TPM, kind binding.Kind) (*loadedEK, error) {
	rsp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(kind.Persistent)}.Execute(t)
	if isRC(err) {
		return nil, nil // TPM_RC_HANDLE: nothing persisted there
	}
	if err != nil {
		return nil, err
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil || !kind.IsDefault(pub) {
		return nil, nil
	}
	return &loadedEK{kind: kind, handle: tpm2.TPMHandle(kind.Persistent), name: rsp.Name, public: *pub, from: "persistent", persistent: true}, nil
}

// signWith loads the license key (public, private) under ek, signs digest
// and flushes the key on every path.
func signWith(t transport.TPM, ek *loadedEK, public, private, digest []byte) ([]byte, error) {
	ld, err := tpm2.Load{
		ParentHandle: ek.auth(),
		InPrivate:    tpm2.TPM2BPrivate{Buffer: private},
		InPublic:     tpm2.BytesAs2B[tpm2.TPMTPublic](public),
	}.Execute(t)
	if err != nil {
		return nil, &ProveError{Op: "load", Err: fmt.Errorf("loading the license key: %w", err)}
	}
	defer tpm2.FlushContext{FlushHandle: ld.ObjectHandle}.Execute(t)
	rsp, err := tpm2.Sign{
		KeyHandle: tpm2.AuthHandle{Handle: ld.ObjectHandle, Name: ld.Name, Auth: tpm2.PasswordAuth(nil)},
		Digest:    tpm2.TPM2BDigest{Buffer: digest},
		InScheme: tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256})},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}.Execute(t)
	if err != nil {
		return nil, &ProveError{Op: "sign", Err: fmt.Errorf("signing the challenge: %w", err)}
	}
	ecc, err := rsp.Signature.Signature.ECDSA()
	if err != nil {
		return nil, &ProveError{Op: "sign", Err: fmt.Errorf("the TPM's signature: %w", err)}
	}
	return asn1.Marshal(ecdsaSig{new(big.Int).SetBytes(ecc.SignatureR.Buffer), new(big.Int).SetBytes(ecc.SignatureS.Buffer)})
}

// ecdsaSig is the ASN.1 form that crypto/ecdsa.VerifyASN1 reads.
type ecdsaSig struct{ R, S *big.Int }

// isRC reports whether err is a TPM response code: the TPM answered.
func isRC(err error) bool {
	var rc tpm2.TPMRC
	var f1 tpm2.TPMFmt1Error
	return errors.As(err, &rc) || errors.As(err, &f1)
}

// isUnavailableRC reports whether err is a TPM answer that says "not now"
// or "not allowed" rather than "not this key": warnings (out of memory or
// sessions, retry, lockout), a disabled hierarchy, or an endorsement
// password olr does not know.
func isUnavailableRC(err error) bool {
	var rc tpm2.TPMRC
	if errors.As(err, &rc) && rc.IsWarning() {
		return true
	}
	for _, u := range []tpm2.TPMRC{tpm2.TPMRCHierarchy, tpm2.TPMRCBadAuth, tpm2.TPMRCAuthFail,
		tpm2.TPMRCLockout, tpm2.TPMRCInitialize, tpm2.TPMRCFailure, tpm2.TPMRCDisabled} {
		if errors.Is(err, u) {
			return true
		}
	}
	return false
}

// classify marks a failed proof: a TPM answer that refuses the key is a
// mismatch (not the licensed TPM); everything else (I/O, a timeout, a
// TPM that says "not now") means the TPM could not be asked.
func classify(err error) error {
	pe := &ProveError{Op: "tpm", Err: err}
	var inner *ProveError
	if errors.As(err, &inner) {
		pe.Op, pe.refused = inner.Op, inner.refused
	}
	pe.NotAvailable = !pe.refused && (!isRC(err) || isUnavailableRC(err))
	return pe
}

// mismatchHint explains the TPM's refusal of the license key.
func mismatchHint(err error) string {
	if errors.Is(err, tpm2.TPMRCIntegrity) || errors.Is(err, tpm2.TPMRCValue) || errors.Is(err, tpm2.TPMRCFailure) {
		return " (the license was issued for another TPM's endorsement key)"
	}
	return ""
}
