// Package binding holds what the machine and the vendor must agree on for
// a TPM-bound license: the endorsement key (EK) kinds and their TCG
// default templates, the NV indices where a TPM keeps its EK certificates,
// the template of the license key the vendor wraps to the EK, and the
// layout of the wrapped key (a license's tpm-blob).
//
// It is pure Go (go-tpm's tpm2 package, no cgo, no TPM), so that the
// vendor's olr-sign and the machine's fingerprint/tpm share one source.
package binding

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// EK kinds, as licenses (tpm-bind) and requests name them.
const (
	KindECCP256 = "ecc-p256"
	KindRSA2048 = "rsa-2048"
)

// Kind is an EK kind of the TCG EK Credential Profile's low range: its
// default template and the NV indices that go with it.
type Kind struct {
	Name string
	// Template is the TCG default template (L-1 or L-2), unique zeroed.
	Template tpm2.TPMTPublic
	// CertIndex holds the manufacturer's certificate for this EK.
	CertIndex uint32
	// NonceIndex and TemplateIndex, when defined, change the EK the
	// manufacturer certified: a nonce goes into unique, a template
	// replaces the default (EK Credential Profile 2.2.1.5).
	NonceIndex, TemplateIndex uint32
	// Persistent is the handle where platforms that persist this EK keep
	// it (TCG Provisioning Guidance): Windows, swtpm_setup.
	Persistent uint32
}

// Kinds lists the EK kinds olr binds to, preferred first: ECC keys are
// made in milliseconds, RSA keys take up to seconds on real TPMs.
var Kinds = []Kind{
	{Name: KindECCP256, Template: tpm2.ECCEKTemplate, CertIndex: 0x01C0000A,
		NonceIndex: 0x01C0000B, TemplateIndex: 0x01C0000C, Persistent: 0x81010002},
	{Name: KindRSA2048, Template: tpm2.RSAEKTemplate, CertIndex: 0x01C00002,
		NonceIndex: 0x01C00003, TemplateIndex: 0x01C00004, Persistent: 0x81010001},
}

// KindNamed returns the EK kind called name.
func KindNamed(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// The EK certificate chain range: intermediates some TPMs keep in NV
// (Intel's On-Die CA from the 11th generation on), EK Credential Profile
// 2.2.1.4.
const (
	ChainFirst = 0x01C00100
	ChainLast  = 0x01C001FF
)

// MaxChain bounds the chain certificates read from a TPM or accepted in a
// request: real chains have two or three.
const MaxChain = 8

// IsDefault reports whether pub is kind's default template except for
// unique (the key itself), comparing canonical encodings: every attribute,
// the policy and the parameters must be exactly the TCG's.
func (k Kind) IsDefault(pub *tpm2.TPMTPublic) bool {
	if pub.Type != k.Template.Type {
		return false // and the unions below would not marshal
	}
	norm := *pub
	norm.Unique = k.Template.Unique
	return bytes.Equal(tpm2.Marshal(norm), tpm2.Marshal(k.Template))
}

// WithNonce returns kind's template with the EK nonce that a manufacturer
// kept in NV: copied into unique (RSA: the modulus buffer, zero padded to
// 256 bytes; ECC: x, zero padded to 32 bytes, y all zeros), as the EK
// Credential Profile specifies for nonce-based EKs.
func (k Kind) WithNonce(nonce []byte) (tpm2.TPMTPublic, error) {
	t := k.Template
	switch k.Template.Type {
	case tpm2.TPMAlgRSA:
		if len(nonce) > 256 {
			return t, fmt.Errorf("EK nonce of %d bytes is too long", len(nonce))
		}
		n := make([]byte, 256)
		copy(n, nonce)
		t.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: n})
	default:
		if len(nonce) > 32 {
			return t, fmt.Errorf("EK nonce of %d bytes is too long", len(nonce))
		}
		x := make([]byte, 32)
		copy(x, nonce)
		t.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: x},
			Y: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)},
		})
	}
	return t, nil
}

// KeyTemplate is the license key the vendor wraps to the EK: ECDSA P-256
// with SHA-256, userWithAuth with an empty password, noDA, and
// adminWithPolicy with an empty authPolicy. TPM2_Import refuses fixedTPM
// and fixedParent, so both are clear; the empty policy makes the ADMIN
// and DUP roles unsatisfiable instead, so the key can sign but can never
// be duplicated to another parent or TPM, nor get another password.
var KeyTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		UserWithAuth: true, AdminWithPolicy: true, NoDA: true, SignEncrypt: true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme: tpm2.TPMTECCScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
		CurveID: tpm2.TPMECCNistP256,
		KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	}),
	Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
}

// KeyPublic returns KeyTemplate with the key point (the 65-byte
// uncompressed SEC 1 encoding) in unique.
func KeyPublic(point []byte) (tpm2.TPMTPublic, error) {
	if len(point) != 65 || point[0] != 4 {
		return tpm2.TPMTPublic{}, errors.New("the license key is not an uncompressed P-256 point")
	}
	pub := KeyTemplate
	pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: bytes.Clone(point[1:33])},
		Y: tpm2.TPM2BECCParameter{Buffer: bytes.Clone(point[33:])},
	})
	return pub, nil
}

// Blob is a license's tpm-blob, split: the key's public area and the two
// halves of its duplicate (TPM2_Import's objectPublic, duplicate and
// inSymSeed).
type Blob struct {
	// Public is the marshalled TPMT_PUBLIC of the license key.
	Public []byte
	// Duplicate is the TPM2B_PRIVATE's content: the outer integrity HMAC
	// and the encrypted sensitive area.
	Duplicate []byte
	// Seed is the TPM2B_ENCRYPTED_SECRET's content: the seed, encrypted
	// to the EK (ECDH for an ECC EK, OAEP for an RSA one).
	Seed []byte
}

// MaxBlob bounds a tpm-blob: the public area (about 90 bytes), the
// duplicate (about 80) and an RSA-2048 seed (256), with room to spare.
const MaxBlob = 2048

// Marshal returns the tpm-blob: TPM2B_PUBLIC ‖ TPM2B_PRIVATE ‖
// TPM2B_ENCRYPTED_SECRET, each a 2-byte big-endian size and the bytes.
func (b *Blob) Marshal() []byte {
	out := make([]byte, 0, 6+len(b.Public)+len(b.Duplicate)+len(b.Seed))
	for _, p := range [][]byte{b.Public, b.Duplicate, b.Seed} {
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
		out = append(out, p...)
	}
	return out
}

// ParseBlob splits a tpm-blob and checks its public area: canonical, and
// KeyTemplate with a P-256 point. It returns the key's point too.
func ParseBlob(data []byte) (*Blob, []byte, error) {
	if len(data) > MaxBlob {
		return nil, nil, fmt.Errorf("tpm-blob is longer than %d bytes", MaxBlob)
	}
	var parts [3][]byte
	rest := data
	for i := range parts {
		if len(rest) < 2 {
			return nil, nil, errors.New("tpm-blob is truncated")
		}
		n := int(binary.BigEndian.Uint16(rest))
		if n == 0 || len(rest) < 2+n {
			return nil, nil, errors.New("tpm-blob is truncated or has an empty part")
		}
		parts[i], rest = rest[2:2+n], rest[2+n:]
	}
	if len(rest) != 0 {
		return nil, nil, errors.New("tpm-blob has trailing bytes")
	}
	b := &Blob{Public: parts[0], Duplicate: parts[1], Seed: parts[2]}
	point, err := KeyPoint(b.Public)
	if err != nil {
		return nil, nil, fmt.Errorf("tpm-blob: %w", err)
	}
	return b, point, nil
}

// KeyPoint parses a license key's public area strictly (canonical,
// exactly KeyTemplate but for the point) and returns its point.
func KeyPoint(public []byte) ([]byte, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](public)
	if err != nil {
		return nil, fmt.Errorf("the key's public area does not parse: %v", err)
	}
	if !bytes.Equal(tpm2.Marshal(*pub), public) {
		return nil, errors.New("the key's public area is not canonical")
	}
	pt, err := pub.Unique.ECC()
	if pub.Type != tpm2.TPMAlgECC || err != nil || len(pt.X.Buffer) != 32 || len(pt.Y.Buffer) != 32 {
		return nil, errors.New("the key is not a P-256 point")
	}
	point := append(append([]byte{4}, pt.X.Buffer...), pt.Y.Buffer...)
	want, _ := KeyPublic(point)
	if !bytes.Equal(tpm2.Marshal(want), public) {
		return nil, errors.New("the key's public area is not olr's license key template")
	}
	return point, nil
}

// TrimDER cuts a certificate read from NV to its DER length: NV areas are
// often larger than the certificate and padded with 0x00 or 0xFF. It
// accepts only a DER SEQUENCE with a definite length that fits.
func TrimDER(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 0x30 {
		return nil, errors.New("not a DER certificate (no SEQUENCE)")
	}
	var n, hdr int
	switch l := int(b[1]); {
	case l < 0x80:
		n, hdr = l, 2
	case l == 0x81 && len(b) >= 3:
		n, hdr = int(b[2]), 3
	case l == 0x82 && len(b) >= 4:
		n, hdr = int(b[2])<<8|int(b[3]), 4
	default:
		return nil, errors.New("not a DER certificate (unsupported length)")
	}
	if hdr+n > len(b) {
		return nil, errors.New("truncated DER certificate")
	}
	return bytes.Clone(b[:hdr+n]), nil
}
