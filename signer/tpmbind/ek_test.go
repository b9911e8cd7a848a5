package tpmbind

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/olr-dev/olr/fingerprint/tpm/binding"
)

// eccEK returns a default ECC EK public area for a fresh key.
func eccEK(t *testing.T) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := k.PublicKey.Bytes()
	pub := tpm2.ECCEKTemplate
	pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: p[1:33]}, Y: tpm2.TPM2BECCParameter{Buffer: p[33:]}})
	return tpm2.Marshal(pub), k
}

type testCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	ca := &testCA{}
	ca.rootKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca.interKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mk := func(tmpl, parent *x509.Certificate, pub, signer *ecdsa.PrivateKey) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &pub.PublicKey, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	long := time.Now().AddDate(20, 0, 0)
	rootT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test TPM Root"},
		NotBefore: time.Now().AddDate(-10, 0, 0), NotAfter: long, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	ca.root = mk(rootT, rootT, ca.rootKey, ca.rootKey)
	interT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test TPM EK CA"},
		NotBefore: time.Now().AddDate(-10, 0, 0), NotAfter: long, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	ca.inter = mk(interT, ca.root, ca.interKey, ca.rootKey)
	return ca
}

// ekCert makes an EK certificate as manufacturers do: empty subject, a
// critical subject alternative name holding only a directoryName, the
// TCG's EK extended key usage.
func (ca *testCA) ekCert(t *testing.T, key *ecdsa.PrivateKey, notBefore, notAfter time.Time) []byte {
	t.Helper()
	dirName, _ := asn1.Marshal(pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
		{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 1}, Value: "id:54455354"},
		{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 2}, Value: "test"},
	}}.ToRDNSequence())
	san, _ := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dirName}})
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{oidEKCertificate})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageKeyEncipherment,
		ExtraExtensions: []pkix.Extension{
			{Id: oidSAN, Critical: true, Value: san},
			{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Value: eku},
		}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.inter, &key.PublicKey, ca.interKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func (ca *testCA) roots(t *testing.T, withInter bool) *Roots {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw})
	if withInter {
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.inter.Raw})...)
	}
	var r Roots
	if err := r.ParseRoots("roots.pem", data); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestCheckEKCertificates(t *testing.T) {
	ca := newTestCA(t)
	pub, key := eccEK(t)
	now := time.Now()
	cert := ca.ekCert(t, key, now.AddDate(-5, 0, 0), now.AddDate(5, 0, 0))
	expired := ca.ekCert(t, key, now.AddDate(-8, 0, 0), now.AddDate(-2, 0, 0))
	_, otherKey := eccEK(t)
	other := ca.ekCert(t, otherKey, now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0))

	for _, c := range []struct {
		name    string
		cert    []byte
		chain   [][]byte
		roots   *Roots
		want    Attestation
		expired bool
		problem string
	}{
		{"empty subject, critical SAN, EK usage", cert, nil, ca.roots(t, true), Attested, false, ""},
		{"intermediate from the TPM's NV", cert, [][]byte{ca.inter.Raw}, ca.roots(t, false), Attested, false, ""},
		{"intermediate missing", cert, nil, ca.roots(t, false), Unattested, false, "does not chain"},
		{"expired, as EK certificates are", expired, nil, ca.roots(t, true), Attested, true, ""},
		{"no roots", cert, nil, nil, Unattested, false, "no TPM manufacturer roots"},
		{"another CA", cert, nil, newTestCA(t).roots(t, true), Unattested, false, "does not chain"},
		{"no certificate", nil, nil, ca.roots(t, true), Unattested, false, "no EK certificate"},
	} {
		ek, err := CheckEK(binding.KindECCP256, pub, c.cert, c.chain, c.roots, now)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if ek.Attestation != c.want || ek.Expired != c.expired ||
			(c.problem == "") != (ek.Problem == nil) || ek.Problem != nil && !strings.Contains(ek.Problem.Error(), c.problem) {
			t.Errorf("%s: %s, expired %v, problem %v", c.name, ek.Attestation, ek.Expired, ek.Problem)
		}
		if c.cert != nil && !HasEKUsage(ek.Cert) {
			t.Errorf("%s: EK usage not seen", c.name)
		}
	}
	if _, err := CheckEK(binding.KindECCP256, pub, other, nil, ca.roots(t, true), now); !errors.Is(err, ErrCertOtherKey) {
		t.Errorf("certificate for another key: %v", err)
	}
	if _, err := CheckEK(binding.KindECCP256, pub, []byte{0x30, 0}, nil, ca.roots(t, true), now); !errors.Is(err, ErrCertMalformed) {
		t.Errorf("garbage certificate: %v", err)
	}
}

func TestCheckEKTemplate(t *testing.T) {
	pub, _ := eccEK(t)
	p, _ := tpm2.Unmarshal[tpm2.TPMTPublic](pub)
	withAuth := *p
	withAuth.ObjectAttributes.UserWithAuth = true // usable without the endorsement policy
	noPolicy := *p
	noPolicy.AuthPolicy = tpm2.TPM2BDigest{}
	for _, c := range []struct {
		name, kind string
		pub        []byte
	}{
		{"userWithAuth set", binding.KindECCP256, tpm2.Marshal(withAuth)},
		{"no policy", binding.KindECCP256, tpm2.Marshal(noPolicy)},
		{"trailing byte", binding.KindECCP256, append(append([]byte{}, pub...), 0)},
		{"truncated", binding.KindECCP256, pub[:len(pub)-3]},
		{"ECC public as RSA", binding.KindRSA2048, pub},
		{"off-curve point", binding.KindECCP256, offCurve(p)},
	} {
		if _, err := CheckEK(c.kind, c.pub, nil, nil, nil, time.Now()); !errors.Is(err, ErrEKNotDefault) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := CheckEK("ecc-p384", pub, nil, nil, nil, time.Now()); err == nil {
		t.Error("unknown kind accepted")
	}
}

func offCurve(p *tpm2.TPMTPublic) []byte {
	q := *p
	pt, _ := p.Unique.ECC()
	y := append([]byte{}, pt.Y.Buffer...)
	y[31] ^= 1
	q.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{X: pt.X, Y: tpm2.TPM2BECCParameter{Buffer: y}})
	return tpm2.Marshal(q)
}

func TestParseRoots(t *testing.T) {
	if err := new(Roots).ParseRoots("x.pem", []byte("not pem")); err == nil || !strings.Contains(err.Error(), "x.pem: no PEM certificate") {
		t.Errorf("no PEM: %v", err)
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}})
	if err := new(Roots).ParseRoots("k.pem", key); err == nil || !strings.Contains(err.Error(), "EC PRIVATE KEY") {
		t.Errorf("a key as roots: %v", err)
	}
	r := newTestCA(t).roots(t, true)
	if r.Count != 1 {
		t.Errorf("%d roots, want 1 (the intermediate is not a root)", r.Count)
	}
}

func TestSoftwareTPM(t *testing.T) {
	for _, c := range []struct {
		manufacturer string
		soft         bool
	}{{"IBM", true}, {"MSFT", true}, {"GOOG", true}, {"IFX", false}, {"NTC", false}, {"STM", false}, {"", false}} {
		if got := SoftwareTPM(c.manufacturer, ""); (got != "") != c.soft {
			t.Errorf("%q: %q", c.manufacturer, got)
		}
	}
	if SoftwareTPM("IFX", "CN=swtpm-localca") == "" {
		t.Error("a certificate from swtpm's local CA not flagged")
	}
}
