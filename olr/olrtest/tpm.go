package olrtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

// SoftwareTPM stands in for a machine's TPM in tests of the olr package:
// it holds the license key in memory and signs any challenge for its own
// blob. It proves nothing about hardware; fingerprint/tpm has the real
// prover, tested against the TPM simulator and swtpm.
type SoftwareTPM struct {
	Key  *ecdsa.PrivateKey
	blob []byte
	// Calls counts the proofs asked for; Cached is the private part the
	// last one was given.
	Calls  int
	Cached []byte
}

var _ olr.TPMProver = (*SoftwareTPM)(nil)

// NewSoftwareTPM returns a deterministic software TPM derived from label
// and the TPM binding a license for it carries.
func NewSoftwareTPM(label string) (*SoftwareTPM, *olr.TPMBinding) {
	d := sha256.Sum256([]byte("olrtest/tpm/" + label))
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		panic(err)
	}
	point, err := key.PublicKey.Bytes()
	if err != nil {
		panic(err)
	}
	s := &SoftwareTPM{Key: key, blob: []byte("olrtest software TPM " + label)}
	return s, &olr.TPMBinding{Scheme: olr.TPMSchemeImport, EKKind: olr.TPMKindECCP256, Key: point, Blob: s.blob}
}

// ErrOtherBlob is what a SoftwareTPM answers for a blob not its own, as a
// TPM refuses a key wrapped to another TPM.
var ErrOtherBlob = errors.New("olrtest: the blob is wrapped to another TPM")

// ProveTPM implements olr.TPMProver.
func (s *SoftwareTPM) ProveTPM(_ context.Context, _ string, blob, cached, digest []byte) ([]byte, []byte, error) {
	s.Calls++
	s.Cached = cached
	if string(blob) != string(s.blob) {
		return nil, nil, ErrOtherBlob
	}
	sig, err := ecdsa.SignASN1(rand.Reader, s.Key, digest)
	// A real TPM returns what it wrapped at import; this one, its label.
	return sig, []byte("private part of " + string(s.blob)), err
}

// BoundLicense returns License(key, fp) bound to the TPM that b names: an
// olr-license/v2 file.
func BoundLicense(key ed25519.PrivateKey, fp *fingerprint.Fingerprint, b *olr.TPMBinding) (*olr.License, []byte) {
	l, _ := License(key, fp)
	l.TPM = b
	data, err := olr.Sign(l, key)
	if err != nil {
		panic(err)
	}
	return l, data
}
