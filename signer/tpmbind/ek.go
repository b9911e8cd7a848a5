// Package tpmbind is the vendor's side of TPM-bound licenses, in pure Go:
// it checks the endorsement keys (EKs) a request carries (the exact TCG
// default template, the TPM Name the request's tpm-ek factor names, and
// the manufacturer's certificate chain), and wraps a fresh license key to
// the chosen EK, the software half of TPM2_Duplicate. Only the TPM that
// holds that EK's private part can import the key and sign with it.
//
// It needs no TPM and no cgo.
package tpmbind

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/olr-dev/olr/fingerprint/tpm/binding"
)

// Attestation says what vouches for an EK.
type Attestation string

const (
	// Attested: the EK certificate certifies this key and chains to a
	// TPM manufacturer root the vendor trusts.
	Attested Attestation = "attested"
	// Unattested: no certificate, or one that does not verify. Such an
	// EK may be a software TPM's, whose state can be copied anywhere.
	Unattested Attestation = "unattested"
)

// EK is an endorsement key a request carries, checked.
type EK struct {
	Kind string
	// Public is the marshalled TPMT_PUBLIC, exactly as the request had it.
	Public []byte
	// Name is the key's TPM Name in hex, as the tpm-ek factor writes it.
	Name string
	// Key is the public key.
	Key crypto.PublicKey
	// Cert is the EK certificate when the request carried one that parses
	// and certifies this key, verified or not.
	Cert *x509.Certificate
	// Attestation is Attested when Cert chains to the vendor's roots.
	Attestation Attestation
	// Problem says why an EK is unattested; nil when attested.
	Problem error
	// Expired reports a certificate verified at its own issue time because
	// it is past its notAfter, as EK certificates often are: they live as
	// long as the chip.
	Expired bool

	public *tpm2.TPMTPublic
}

// Roots are the TPM manufacturers' CAs the vendor trusts.
type Roots struct {
	Roots         *x509.CertPool
	Intermediates *x509.CertPool
	// Count is the number of root certificates, for messages.
	Count int
}

// ParseRoots reads PEM certificates: self-signed ones are roots, the
// others intermediates (which chain to roots and may be missing from a
// TPM's NV). name names the source in errors.
func (r *Roots) ParseRoots(name string, data []byte) error {
	if r.Roots == nil {
		r.Roots, r.Intermediates = x509.NewCertPool(), x509.NewCertPool()
	}
	n := 0
	for rest := bytes.TrimSpace(data); len(rest) > 0; {
		var der []byte
		var err error
		der, rest, err = nextPEM(rest)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if der == nil {
			break
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("%s: certificate %d: %v", name, n+1, err)
		}
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			r.Roots.AddCert(c)
			r.Count++
		} else {
			r.Intermediates.AddCert(c)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s: no PEM certificate found", name)
	}
	return nil
}

var (
	oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}
	// oidEKCertificate is the TCG's extended key usage of EK certificates.
	oidEKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
)

// Errors that refuse an EK outright: the request lies about it, whatever
// the vendor's policy on certificates.
var (
	ErrEKNotDefault  = errors.New("the EK is not a TCG default endorsement key")
	ErrEKNotFactor   = errors.New("the EK is not the one the request's tpm-ek factor names")
	ErrCertOtherKey  = errors.New("the EK certificate is for another key")
	ErrCertMalformed = errors.New("the EK certificate does not parse")
)

// CheckEK checks one EK of a request. public is its marshalled TPMT_PUBLIC,
// certDER its certificate or nil, chain the chain certificates the TPM
// kept in NV. A malformed or non-default EK, or a certificate for another
// key, is an error; a missing or unverified certificate gives an
// Unattested EK with the Problem named, for the policy to judge. at is the
// time to verify the chain at (the current time).
func CheckEK(kind string, public, certDER []byte, chain [][]byte, roots *Roots, at time.Time) (*EK, error) {
	k, ok := binding.KindNamed(kind)
	if !ok {
		return nil, fmt.Errorf("unknown EK kind %q (want %s or %s)", kind, binding.KindECCP256, binding.KindRSA2048)
	}
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](public)
	if err != nil {
		return nil, fmt.Errorf("%s EK: %w: its public area does not parse: %v", kind, ErrEKNotDefault, err)
	}
	if !bytes.Equal(tpm2.Marshal(*pub), public) {
		return nil, fmt.Errorf("%s EK: %w: its public area is not canonical", kind, ErrEKNotDefault)
	}
	if !k.IsDefault(pub) {
		return nil, fmt.Errorf("%s EK: %w: its template differs from the default in more than the key", kind, ErrEKNotDefault)
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return nil, fmt.Errorf("%s EK: %w: %v", kind, ErrEKNotDefault, err)
	}
	ek := &EK{Kind: kind, Public: bytes.Clone(public), Name: hex.EncodeToString(name.Buffer), public: pub}
	if ek.Key, err = publicKey(pub); err != nil {
		return nil, fmt.Errorf("%s EK: %w: %v", kind, ErrEKNotDefault, err)
	}
	ek.Attestation = Unattested
	if len(certDER) == 0 {
		ek.Problem = errors.New("the request carries no EK certificate for it")
		return ek, nil
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("%s EK: %w: %v", kind, ErrCertMalformed, err)
	}
	if !samePublicKey(cert.PublicKey, ek.Key) {
		return nil, fmt.Errorf("%s EK: %w (certificate serial %s from %q)", kind, ErrCertOtherKey, cert.SerialNumber, cert.Issuer)
	}
	ek.Cert = cert
	ek.Problem, ek.Expired = verifyChain(cert, chain, roots, at)
	if ek.Problem == nil {
		ek.Attestation = Attested
	}
	return ek, nil
}

// verifyChain verifies an EK certificate to the roots, with the TPM's
// chain certificates as intermediates. It accepts what EK certificates do
// that Go's verifier would refuse: an empty subject with a critical
// subject alternative name holding only a directoryName (the TPM's
// manufacturer, model and version), the TCG's EK extended key usage, and
// a notAfter in the past (then it verifies at the certificate's issue).
func verifyChain(cert *x509.Certificate, chain [][]byte, roots *Roots, at time.Time) (problem error, expired bool) {
	if roots == nil || roots.Roots == nil || roots.Count == 0 {
		return errors.New("no TPM manufacturer roots are configured (--ek-roots)"), false
	}
	var unhandled []asn1.ObjectIdentifier
	for _, oid := range cert.UnhandledCriticalExtensions {
		if !oid.Equal(oidSAN) {
			unhandled = append(unhandled, oid)
		}
	}
	leaf := *cert
	leaf.UnhandledCriticalExtensions = unhandled
	inter := roots.Intermediates.Clone()
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("chain certificate %d from the TPM does not parse: %v", i+1, err), false
		}
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: roots.Roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	_, err := leaf.Verify(opts)
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired && at.After(leaf.NotAfter) {
		opts.CurrentTime = leaf.NotBefore.Add(time.Minute)
		if _, err = leaf.Verify(opts); err == nil {
			return nil, true
		}
	}
	if err != nil {
		return fmt.Errorf("the EK certificate (issuer %q) does not chain to the TPM manufacturer roots: %v", leaf.Issuer.String(), err), false
	}
	return nil, false
}

func publicKey(pub *tpm2.TPMTPublic) (crypto.PublicKey, error) {
	switch pub.Type {
	case tpm2.TPMAlgRSA:
		parms, err := pub.Parameters.RSADetail()
		if err != nil {
			return nil, err
		}
		n, err := pub.Unique.RSA()
		if err != nil {
			return nil, err
		}
		if len(n.Buffer) != 256 {
			return nil, fmt.Errorf("RSA modulus of %d bytes, want 256", len(n.Buffer))
		}
		return tpm2.RSAPub(parms, n)
	case tpm2.TPMAlgECC:
		parms, err := pub.Parameters.ECCDetail()
		if err != nil {
			return nil, err
		}
		pt, err := pub.Unique.ECC()
		if err != nil {
			return nil, err
		}
		k, err := tpm2.ECDSAPub(parms, pt)
		if err != nil {
			return nil, err
		}
		// ECDSAPub does not check the point is on the curve; ECDH would
		// then leak or fail late.
		if _, err := k.ECDH(); err != nil {
			return nil, fmt.Errorf("EK point: %v", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("key type %#x", pub.Type)
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch a.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
		return a.(equaler).Equal(b)
	}
	return false
}

// HasEKUsage reports whether the certificate names the TCG's EK
// certificate extended key usage (2.23.133.8.1). Verification does not
// require it (some manufacturers leave it out); inspect shows it.
func HasEKUsage(c *x509.Certificate) bool {
	for _, oid := range c.UnknownExtKeyUsage {
		if oid.Equal(oidEKCertificate) {
			return true
		}
	}
	return false
}
