package olr

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// TPMProver makes this machine's TPM answer the challenge of a TPM-bound
// license. Package fingerprint/tpm implements it with go-tpm; olr itself
// never talks to a TPM, so that a product's verifier stays small.
type TPMProver interface {
	// ProveTPM imports the key that blob wraps to the endorsement key of
	// kind ekKind ("ecc-p256" or "rsa-2048"), or loads cached, the private
	// part the TPM wrapped at an earlier proof (nil when there is none),
	// and signs digest, a SHA-256 digest, with it. It returns an ASN.1
	// ECDSA signature, and the private part worth keeping for the next
	// proof. blob and cached are opaque to olr.
	//
	// An error whose Unavailable method reports true means the TPM could
	// not be asked (absent, busy, timed out); any other error means a TPM
	// answered and refused the key: it is not the licensed TPM.
	ProveTPM(ctx context.Context, ekKind string, blob, cached, digest []byte) (sig, private []byte, err error)
}

// TPMBinding is the TPM part of a license: the key the vendor wrapped to
// one endorsement key, which only that TPM can use.
type TPMBinding struct {
	// Scheme is how the key reaches the TPM; "import" is the only one.
	Scheme string
	// EKKind is the endorsement key the key is wrapped to: "ecc-p256" or
	// "rsa-2048".
	EKKind string
	// Key is the license key's public point: 65 bytes, uncompressed P-256.
	Key []byte
	// Blob is the wrapped key, opaque to olr (SPEC.md gives its layout).
	Blob []byte
}

// TPM binding schemes and EK kinds that licenses name.
const (
	TPMSchemeImport = "import"
	TPMKindECCP256  = "ecc-p256"
	TPMKindRSA2048  = "rsa-2048"
)

// tpmChallengeLabel separates TPM challenges from any other use of a
// license key.
const tpmChallengeLabel = "olr/v2/tpm-challenge"

// TPMChallenge is the digest a TPM signs to prove a license: SHA-256 of
// the label, a zero byte, the license ID, a zero byte and a fresh nonce.
// The license ID ties an answer to one license; the nonce, to one check.
func TPMChallenge(licenseID string, nonce []byte) []byte {
	h := sha256.New()
	h.Write([]byte(tpmChallengeLabel))
	h.Write([]byte{0})
	h.Write([]byte(licenseID))
	h.Write([]byte{0})
	h.Write(nonce)
	return h.Sum(nil)
}

// tpmNonceSize is the size of a challenge's fresh nonce.
const tpmNonceSize = 32

// TPMProofError is a failed proof of a license's TPM binding.
type TPMProofError struct {
	Reason Reason // ReasonTPMUnavailable or ReasonTPMMismatch
	Err    error
}

func (e *TPMProofError) Error() string { return e.Err.Error() }
func (e *TPMProofError) Unwrap() error { return e.Err }

// validate checks the binding's fields: what a license may carry.
func (b *TPMBinding) validate() error {
	if b.Scheme != TPMSchemeImport {
		return fmt.Errorf("unknown TPM binding scheme %q", b.Scheme)
	}
	if b.EKKind != TPMKindECCP256 && b.EKKind != TPMKindRSA2048 {
		return fmt.Errorf("unknown TPM endorsement key kind %q", b.EKKind)
	}
	if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b.Key); err != nil {
		return fmt.Errorf("tpm-key: %v", err)
	}
	if len(b.Blob) == 0 || len(b.Blob) > maxTPMBlob {
		return fmt.Errorf("tpm-blob of %d bytes, want 1..%d", len(b.Blob), maxTPMBlob)
	}
	return nil
}

// Prove challenges the TPM that p reaches: it must sign a fresh challenge
// for licenseID with the key b names. cached is the private part kept from
// an earlier proof; the one to keep is returned. A nil p, or a TPM that
// could not be asked, is ReasonTPMUnavailable; a TPM that answered wrong,
// ReasonTPMMismatch.
func (b *TPMBinding) Prove(ctx context.Context, p TPMProver, licenseID string, cached []byte) ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, &TPMProofError{ReasonTPMMismatch, err}
	}
	pub, _ := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b.Key)
	if p == nil {
		return nil, &TPMProofError{ReasonTPMUnavailable, errors.New("the license is bound to a TPM, and no TPM was given to prove it")}
	}
	nonce := make([]byte, tpmNonceSize)
	rand.Read(nonce)
	digest := TPMChallenge(licenseID, nonce)
	sig, private, err := p.ProveTPM(ctx, b.EKKind, b.Blob, cached, digest)
	if err != nil {
		var u interface{ Unavailable() bool }
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
			errors.As(err, &u) && u.Unavailable() {
			return nil, &TPMProofError{ReasonTPMUnavailable, fmt.Errorf("the TPM could not prove the binding: %w", err)}
		}
		return nil, &TPMProofError{ReasonTPMMismatch, fmt.Errorf("this machine's TPM is not the licensed TPM: %w", err)}
	}
	if !ecdsa.VerifyASN1(pub, digest, sig) {
		return nil, &TPMProofError{ReasonTPMMismatch, errors.New("this machine's TPM is not the licensed TPM: its answer does not verify with the license's tpm-key")}
	}
	return private, nil
}

// format is the license's format tag: version 2 only for a TPM-bound
// license, so that a version 1 verifier refuses it as unsupported rather
// than honour it without its binding.
func (l *License) format() string {
	if l.TPM != nil {
		return licenseFormatV2
	}
	return licenseFormat
}

// encode writes the binding's three lines; nothing for nil.
func (b *TPMBinding) encode(w func(name, value string)) {
	if b == nil {
		return
	}
	w("tpm-bind", b.Scheme+" "+b.EKKind)
	w("tpm-key", base64.RawStdEncoding.EncodeToString(b.Key))
	w("tpm-blob", base64.RawStdEncoding.EncodeToString(b.Blob))
}

// tpmBinding parses the tpm-bind, tpm-key and tpm-blob lines that end a
// version 2 body. A license without them is version 1: one encoding per
// license.
func (p *bodyParser) tpmBinding() *TPMBinding {
	v := p.field("tpm-bind")
	scheme, kind, _ := strings.Cut(v, " ")
	b := &TPMBinding{Scheme: scheme, EKKind: kind}
	key, err := decodeB64(p.field("tpm-key"), 65)
	if err != nil && p.err == nil {
		p.fail("tpm-key: %v", err)
	}
	b.Key = key
	blob := p.field("tpm-blob")
	if p.err == nil {
		if b.Blob, err = b64.DecodeString(blob); err != nil {
			p.fail("tpm-blob: want canonical unpadded base64")
		}
	}
	return b
}

// checkFieldValue is checkValue for a body line, except that tpm-blob, the
// one value that is longer, may hold up to the base64 of maxTPMBlob bytes.
func checkFieldValue(name, v string) error {
	if name != "tpm-blob" || len(v) <= maxValue {
		return checkValue(v)
	}
	if len(v) > base64.RawStdEncoding.EncodedLen(maxTPMBlob) {
		return fmt.Errorf("value longer than the base64 of %d bytes", maxTPMBlob)
	}
	return checkValue(v[:maxValue]) // printable ASCII either way: base64 decoding checks the rest
}
