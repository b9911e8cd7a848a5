package tpmbind

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-tpm/tpm2"

	"github.com/olr-dev/olr/fingerprint/tpm/binding"
	"github.com/olr-dev/olr/olr"
)

// Mode is the vendor's choice of binding for one license.
type Mode string

const (
	// Off issues a license without a TPM binding.
	Off Mode = "off"
	// Prefer binds when the request carries an EK the policy accepts
	// (attested, or unattested when allowed), and issues without a
	// binding otherwise.
	Prefer Mode = "prefer"
	// Require binds, or refuses to issue.
	Require Mode = "require"
)

// ParseMode reads --tpm-bind.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Off, Prefer, Require:
		return m, nil
	}
	return "", fmt.Errorf("unknown TPM binding %q (want require, prefer or off)", s)
}

// Policy is the vendor's rule for TPM bindings. The zero value prefers
// to bind, and without roots binds to no EK.
type Policy struct {
	Mode Mode // "" is Prefer
	// Roots are the TPM manufacturer CAs that attest EKs.
	Roots *Roots
	// AllowUnattested binds to an EK without a verified certificate. Such
	// an EK may belong to a software TPM whose state can be copied: the
	// binding then stops casual copies, not a planned attack.
	AllowUnattested bool
}

// ErrNoEK refuses a request that must be bound and carries no usable EK.
var ErrNoEK = errors.New("the request carries no TPM endorsement key to bind to")

// Choose picks the EK to bind to among the request's checked EKs:
// attested before unattested, then ECC before RSA (binding.Kinds order),
// unattested ones only when the policy allows them. It returns nil when
// the mode is Off or nothing qualifies and the mode is Prefer; under
// Require, an error that says why each EK was passed over.
func (p *Policy) Choose(eks []*EK) (*EK, error) {
	if p.Mode == Off {
		return nil, nil
	}
	var best *EK
	rank := func(ek *EK) int {
		r := 0
		if ek.Attestation == Attested {
			r += 10
		}
		if ek.Kind == binding.KindECCP256 {
			r++
		}
		return r
	}
	for _, ek := range eks {
		if ek.Attestation != Attested && !p.AllowUnattested {
			continue
		}
		if best == nil || rank(ek) > rank(best) {
			best = ek
		}
	}
	if best != nil || p.Mode != Require {
		return best, nil
	}
	if len(eks) == 0 {
		return nil, fmt.Errorf("%w (it was made without a readable TPM, or by an olr older than this format)", ErrNoEK)
	}
	var why []string
	for _, ek := range eks {
		why = append(why, fmt.Sprintf("%s EK: %v", ek.Kind, ek.Problem))
	}
	return nil, fmt.Errorf("no attested TPM endorsement key to bind to (%s); add the manufacturer's CA with --ek-roots, or bind anyway with --allow-unattested-ek",
		strings.Join(why, "; "))
}

// Bind makes a fresh P-256 license key and wraps it to ek: the license's
// tpm-bind, tpm-key and tpm-blob. The private key exists only in this
// call and, wrapped, in the blob.
func Bind(ek *EK) (*olr.TPMBinding, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return Wrap(ek, priv, rand.Reader)
}

// Wrap wraps the given P-256 key to ek with randomness from rnd. Issuing
// uses Bind, whose key never exists outside it; test vectors use Wrap,
// with keys derived from public labels, to know what a TPM would sign
// with.
func Wrap(ek *EK, priv *ecdsa.PrivateKey, rnd io.Reader) (*olr.TPMBinding, error) {
	encKey, err := tpm2.ImportEncapsulationKey(ek.public)
	if err != nil {
		return nil, fmt.Errorf("the %s EK cannot wrap a key: %v", ek.Kind, err)
	}
	if priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("the license key is not on P-256")
	}
	point, err := priv.PublicKey.Bytes()
	if err != nil {
		return nil, err
	}
	d, err := priv.Bytes()
	if err != nil {
		return nil, err
	}
	pub, err := binding.KeyPublic(point)
	if err != nil {
		return nil, err
	}
	name, err := tpm2.ObjectName(&pub)
	if err != nil {
		return nil, err
	}
	sensitive := tpm2.Marshal(tpm2.TPMTSensitive{
		SensitiveType: tpm2.TPMAlgECC,
		Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgECC, &tpm2.TPM2BECCParameter{Buffer: d}),
	})
	dup, seed, err := tpm2.CreateDuplicate(rnd, encKey, name.Buffer, sensitive)
	clear(d)
	clear(sensitive)
	if err != nil {
		return nil, fmt.Errorf("wrapping the license key to the %s EK: %v", ek.Kind, err)
	}
	blob := &binding.Blob{Public: tpm2.Marshal(pub), Duplicate: dup, Seed: seed}
	return &olr.TPMBinding{Scheme: olr.TPMSchemeImport, EKKind: ek.Kind, Key: point, Blob: blob.Marshal()}, nil
}
