package vectors

import (
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"

	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"filippo.io/age"
	"fmt"
	"strings"
	"testing/cryptotest"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/tpmbind"
)

// TPM-bound licenses (olr-license/v2) and requests (olr-request/v2).
//
// A vector cannot hold a TPM. Its "tpm" header stands in for the
// machine's TPM: the EK kind it has, the SHA-256 of the one tpm-blob it
// can import (the one wrapped to its EK), and the P-256 private scalar of
// the key inside, with which it signs the verifier's challenges. It
// refuses any other kind or blob, as a TPM refuses a key wrapped to
// another EK. The blobs are real: made by olr-sign's code for a software
// EK derived from a label, so that fingerprint/tpm's tests against the
// simulator and swtpm cover what a TPM does with them.

// testP256 derives a P-256 key from label.
func testP256(label string) *ecdsa.PrivateKey {
	for i := 0; ; i++ {
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), testSeed(fmt.Sprintf("p256/%s/%d", label, i)))
		if err == nil {
			return k
		}
	}
}

// testEK is a software ECC endorsement key of the default template, as a
// request carries it, checked as olr-sign checks it.
func (g *generator) testEK(label string) *tpmbind.EK {
	k := testP256("ek/" + label)
	point, _ := k.PublicKey.Bytes()
	pub := tpm2.ECCEKTemplate
	pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: point[1:33]}, Y: tpm2.TPM2BECCParameter{Buffer: point[33:]}})
	ek, err := tpmbind.CheckEK(olr.TPMKindECCP256, tpm2.Marshal(pub), nil, nil, nil, time.Now())
	if err != nil {
		g.t.Fatal(err)
	}
	return ek
}

// wrap wraps the license key of label to ek, deterministically.
func (g *generator) wrap(label string, ek *tpmbind.EK) (*olr.TPMBinding, *ecdsa.PrivateKey) {
	key := testP256("license key/" + label)
	cryptotest.SetGlobalRandom(g.t, testRandSeed("wrap/"+label))
	b, err := tpmbind.Wrap(ek, key, rand.Reader)
	if err != nil {
		g.t.Fatal(err)
	}
	return b, key
}

// tpmHeader is the "tpm" header of a machine whose TPM can import b and
// sign with key.
func tpmHeader(b *olr.TPMBinding, key *ecdsa.PrivateKey) string {
	d, _ := key.Bytes()
	return fmt.Sprintf("%s %x %s", b.EKKind, sha256.Sum256(b.Blob), base64.RawStdEncoding.EncodeToString(d))
}

func (g *generator) licenseTPMVectors() {
	ekA := g.testEK("machine A")
	bound, key := g.wrap("base", ekA)
	l := baseLicense(vendorKey)
	l.ID = testID("license/tpm")
	l.TPM = bound
	file := sign(l, vendorKey)
	body := bodyOf(file)
	tpmA := tpmHeader(bound, key)
	line := func(name string) string {
		i := strings.Index(body, name+": ")
		return body[i : i+strings.IndexByte(body[i:], '\n')+1]
	}
	bindLine, keyLine, blobLine := line("tpm-bind"), line("tpm-key"), line("tpm-blob")

	g.license("tpm-valid", "valid", "a TPM-bound license (olr-license/v2) on the machine and TPM it was issued for", file,
		licenseCase{tpm: tpmA, match: fullMatch})
	g.license("tpm-valid-drifted-grace", "grace", "the licensed TPM answers; the other hardware drifted: grace as for version 1", file,
		licenseCase{tpm: tpmA, machine: machineADrifted, mismatchSince: driftSince, graceUntil: driftSince.Add(14 * 24 * time.Hour)})
	g.license("tpm-unavailable", "tpm-unavailable", "a TPM-bound license on a machine whose TPM the verifier cannot ask", file,
		licenseCase{})
	g.license("tpm-unavailable-installed-drifted", "tpm-unavailable", "no TPM, for an installed license on drifted hardware: no grace", file,
		licenseCase{machine: machineADrifted, mismatchSince: driftSince})

	other, otherKey := g.wrap("base", g.testEK("machine B"))
	g.license("tpm-mismatch-other-tpm", "tpm-mismatch", "the license on another machine's TPM, every other factor the same (a copy with the state directory)", file,
		licenseCase{tpm: tpmHeader(other, otherKey)})
	lb := baseLicense(vendorKey)
	lb.ID, lb.TPM = testID("license/tpm"), other
	g.license("tpm-mismatch-blob-for-another-ek", "tpm-mismatch", "the key wrapped to another machine's EK, signed by the vendor: this TPM cannot import it", sign(lb, vendorKey),
		licenseCase{tpm: tpmA})
	g.license("tpm-mismatch-drifted-installed", "tpm-mismatch", "another TPM, for an installed license on drifted hardware: no grace", file,
		licenseCase{tpm: tpmHeader(other, otherKey), machine: machineADrifted, mismatchSince: driftSince})

	// Each TPM field changed and signed again: the signature holds, the
	// TPM's answer does not.
	otherPoint, _ := testP256("another key").PublicKey.Bytes()
	signed := func(name, expect, what, old, new string) {
		g.license(name, expect, what+" (body altered, then signed with the trusted key)",
			resign(edit(body, old, new), vendorKey), licenseCase{tpm: tpmA})
	}
	signed("tpm-mismatch-key-replaced", "tpm-mismatch", "tpm-key replaced by another point: the TPM's signature does not verify",
		keyLine, "tpm-key: "+base64.RawStdEncoding.EncodeToString(otherPoint)+"\n")
	signed("tpm-mismatch-kind-changed", "tpm-mismatch", "tpm-bind names the RSA EK: the TPM imports under the wrong EK",
		bindLine, "tpm-bind: import rsa-2048\n")
	blob := bound.Blob
	flipped := append([]byte{}, blob...)
	flipped[len(flipped)-1] ^= 1
	signed("tpm-mismatch-blob-altered", "tpm-mismatch", "one byte of tpm-blob changed: the TPM's integrity check fails",
		blobLine, "tpm-blob: "+base64.RawStdEncoding.EncodeToString(flipped)+"\n")

	// Changed and not signed again.
	for _, c := range []struct{ name, old string }{{"bind", bindLine}, {"key", keyLine}, {"blob", blobLine}} {
		v := "tpm-bind: import rsa-2048\n"
		if c.name != "bind" {
			i := len(c.old) / 2
			r := "A"
			if c.old[i] == 'A' {
				r = "B"
			}
			v = c.old[:i] + r + c.old[i+1:]
		}
		g.license("bad-signature-tpm-"+c.name+"-altered", "bad-signature", "tpm-"+c.name+" changed after signing", assemble(edit(body, c.old, v), sigOf(file)),
			licenseCase{tpm: tpmA})
	}

	// The grammar, signed.
	malformed := func(name, what, old, new string) {
		g.license("malformed-"+name, "malformed", what+" (body altered, then signed with the trusted key)",
			resign(edit(body, old, new), vendorKey), licenseCase{tpm: tpmA})
	}
	malformed("tpm-without-key", "tpm-bind and tpm-blob without tpm-key", keyLine, "")
	malformed("tpm-without-blob", "tpm-bind and tpm-key without tpm-blob", blobLine, "")
	malformed("tpm-without-bind", "tpm-key and tpm-blob without tpm-bind", bindLine, "")
	malformed("tpm-out-of-order", "tpm-blob before tpm-key", keyLine+blobLine, blobLine+keyLine)
	malformed("tpm-unknown-scheme", "tpm-bind names a scheme other than import", "tpm-bind: import ", "tpm-bind: activate ")
	malformed("tpm-unknown-kind", "tpm-bind names an EK kind other than ecc-p256 and rsa-2048", "import ecc-p256", "import ecc-p384")
	malformed("tpm-key-off-curve", "tpm-key is not a point of P-256", keyLine, "tpm-key: BA"+strings.Repeat("A", 85)+"\n")
	malformed("tpm-blob-padded", "tpm-blob in padded base64", blobLine, strings.TrimSuffix(blobLine, "\n")+"=\n")
	malformed("tpm-blob-too-long", "tpm-blob of 2049 bytes, one more than a license may hold", blobLine,
		"tpm-blob: "+base64.RawStdEncoding.EncodeToString(make([]byte, 2049))+"\n")
	malformed("tpm-in-v1", "the TPM lines in an olr-license/v1 body", "format: olr-license/v2\n", "format: olr-license/v1\n")
	malformed("v2-without-tpm", "olr-license/v2 without the TPM lines: a license without them is version 1", bindLine+keyLine+blobLine, "")
}

// testEKCert is a certificate for ek as a TPM manufacturer issues it,
// from a CA derived from a label.
func (g *generator) testEKCert(ek *tpmbind.EK) []byte {
	ca := testP256("ek ca")
	cryptotest.SetGlobalRandom(g.t, testRandSeed("ek cert"))
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test TPM EK CA"},
		NotBefore: date("2020-01-01T00:00:00Z"), NotAfter: date("2045-01-01T00:00:00Z"), IsCA: true, BasicConstraintsValid: true}
	leafT := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: date("2025-06-01T00:00:00Z"), NotAfter: date("2045-01-01T00:00:00Z"),
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{2, 23, 133, 8, 1}}}
	der, err := x509.CreateCertificate(rand.Reader, leafT, caT, ek.Key, ca)
	if err != nil {
		g.t.Fatal(err)
	}
	return der
}

// tpmEKsHeader lists a request's EKs: KIND:CERTIFICATE-BYTES each.
func tpmEKsHeader(t *olr.RequestTPM) string {
	var parts []string
	for _, ek := range t.EKs {
		parts = append(parts, fmt.Sprintf("%s:%d", ek.Kind, len(ek.Cert)))
	}
	return strings.Join(parts, " ")
}

func (g *generator) requestTPMVectors(x testIdentity, bad func(name, expect, comment, p string)) {
	ek := g.testEK("machine A")
	withCert := &olr.RequestTPM{Manufacturer: "IFX", EKs: []olr.RequestEK{{Kind: ek.Kind, Public: ek.Public, Cert: g.testEKCert(ek)}}}
	without := &olr.RequestTPM{Manufacturer: "IBM", EKs: []olr.RequestEK{{Kind: ek.Kind, Public: ek.Public}}}
	for _, c := range []struct {
		name, comment string
		tpm           *olr.RequestTPM
	}{
		{"v2-tpm-with-certificate", "an olr-request/v2: the TPM's ECC endorsement key with its certificate", withCert},
		{"v2-tpm-without-certificate", "an olr-request/v2: the TPM's ECC endorsement key, without a certificate (a software TPM)", without},
	} {
		req := baseRequest()
		if err := req.AttachTPM(c.tpm); err != nil {
			g.t.Fatal(err)
		}
		plain := requestPlaintext(req)
		cryptotest.SetGlobalRandom(g.t, testRandSeed("encrypt/"+c.name))
		file, err := olr.EncryptRequest(req, []age.Recipient{x.rcp}, true)
		if err != nil {
			g.t.Fatal(err)
		}
		g.request(c.name, "ok", c.comment, file, requestCase{ids: []testIdentity{x}, plain: plain, req: req})
	}
	req := baseRequest()
	req.AttachTPM(without)
	plain := requestPlaintext(req)
	tpmAt := strings.Index(plain, ",\n  \"tpm\": ")
	bad("v2-without-tpm", "malformed", "olr-request/v2 without its tpm member",
		plain[:tpmAt]+"\n}\n")
	bad("v2-tpm-public-padded", "malformed", "an EK public area in padded base64",
		edit(plain, b64(ek.Public)+`"`, b64(ek.Public)+`="`))
	bad("v2-tpm-eks-out-of-order", "invalid", "the RSA EK before the ECC one",
		edit(plain, `"eks": [`, `"eks": [{"kind": "rsa-2048", "public": "AAEC"}, `))
}

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }
