package signer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
	"github.com/olr-dev/olr/signer/tpmbind"
)

// softEK is a default ECC endorsement key made in software, with its TPM
// Name: what a request carries of a TPM, for tests that need no TPM (the
// real ones are in fingerprint/tpm and signer/tpmbind).
func softEK(t *testing.T) (public []byte, name string, key *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := key.PublicKey.Bytes()
	pub := tpm2.ECCEKTemplate
	pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: p[1:33]}, Y: tpm2.TPM2BECCParameter{Buffer: p[33:]}})
	n, err := tpm2.ObjectName(&pub)
	if err != nil {
		t.Fatal(err)
	}
	return tpm2.Marshal(pub), hex.EncodeToString(n.Buffer), key
}

// ekCA certifies keys as a TPM manufacturer would; roots trusts it.
func ekCA(t *testing.T) (certify func(*ecdsa.PublicKey) []byte, roots *tpmbind.Roots) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test TPM CA"},
		NotBefore: time.Now().AddDate(-5, 0, 0), NotAfter: time.Now().AddDate(20, 0, 0), IsCA: true, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	roots = &tpmbind.Roots{}
	if err := roots.ParseRoots("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})); err != nil {
		t.Fatal(err)
	}
	return func(k *ecdsa.PublicKey) []byte {
		leaf := &x509.Certificate{SerialNumber: big.NewInt(4242), NotBefore: time.Now().AddDate(-1, 0, 0), NotAfter: time.Now().AddDate(10, 0, 0),
			UnknownExtKeyUsage: []asn1.ObjectIdentifier{{2, 23, 133, 8, 1}}}
		der, err := x509.CreateCertificate(rand.Reader, leaf, ca, k, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}, roots
}

// tpmRequest is a request from machine m whose TPM has a software EK,
// with a certificate when cert is set.
func tpmRequest(t *testing.T, key string, m int, certify func(*ecdsa.PublicKey) []byte) *olr.Request {
	t.Helper()
	public, name, k := softEK(t)
	fp := machine(m)
	fp.Add(fingerprint.KindTPMEK, name, "tpm:test", false)
	fp.Sort()
	req, err := olr.NewRequest(testProduct, testLicensee, key, "host", "test", fp, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ek := olr.RequestEK{Kind: olr.TPMKindECCP256, Public: public}
	if certify != nil {
		ek.Cert = certify(&k.PublicKey)
	}
	if err := req.AttachTPM(&olr.RequestTPM{Manufacturer: "IFX", EKs: []olr.RequestEK{ek}}); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestBindTPMPolicy(t *testing.T) {
	certify, roots := ekCA(t)
	plain, err := olr.NewRequest(testProduct, testLicensee, "K", "host", "test", machine(1), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	unattested := tpmRequest(t, "K", 2, nil)
	attested := tpmRequest(t, "K", 3, certify)
	lying := tpmRequest(t, "K", 4, nil)
	lying.TPM.EKs[0].Public = tpmRequest(t, "K", 5, nil).TPM.EKs[0].Public // another TPM's EK than the factor's
	otherCert := tpmRequest(t, "K", 6, nil)
	otherCert.TPM.EKs[0].Cert = attested.TPM.EKs[0].Cert
	keys, err := GenerateKeys(false, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		req  *olr.Request
		pol  tpmbind.Policy
		bind tpmbind.Attestation // "" for unbound
		rule string
		msg  string
	}{
		{"off", attested, tpmbind.Policy{Mode: tpmbind.Off, Roots: roots}, "", "", ""},
		{"prefer, attested", attested, tpmbind.Policy{Roots: roots}, tpmbind.Attested, "", ""},
		{"prefer, unattested", unattested, tpmbind.Policy{Roots: roots}, "", "", ""},
		{"prefer, no TPM", plain, tpmbind.Policy{Roots: roots}, "", "", ""},
		{"prefer, unattested allowed", unattested, tpmbind.Policy{Roots: roots, AllowUnattested: true}, tpmbind.Unattested, "", ""},
		{"require, attested", attested, tpmbind.Policy{Mode: tpmbind.Require, Roots: roots}, tpmbind.Attested, "", ""},
		{"require, no certificate", unattested, tpmbind.Policy{Mode: tpmbind.Require, Roots: roots}, "", RuleTPMRequired, "no EK certificate"},
		{"require, no roots", attested, tpmbind.Policy{Mode: tpmbind.Require}, "", RuleTPMRequired, "--ek-roots"},
		{"require, no TPM", plain, tpmbind.Policy{Mode: tpmbind.Require, Roots: roots}, "", RuleTPMRequired, "no TPM endorsement key"},
		{"require, unattested allowed", unattested, tpmbind.Policy{Mode: tpmbind.Require, AllowUnattested: true}, tpmbind.Unattested, "", ""},
		{"an EK that is not the factor's", lying, tpmbind.Policy{Roots: roots, AllowUnattested: true}, "", RuleTPMBadEK, "tpm-ek factor"},
		{"a certificate for another key", otherCert, tpmbind.Policy{Roots: roots}, "", RuleTPMBadEK, "the EK certificate is for another key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, err := BuildLicense(c.req, &Entitlement{Type: olr.TypeOEM}, keys, &IssueOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ek, err := BindTPM(l, c.req, &c.pol, time.Now())
			var refused *RefusedError
			switch {
			case c.rule != "":
				if !errors.As(err, &refused) || refused.Rule != c.rule || !strings.Contains(err.Error(), c.msg) {
					t.Fatalf("err = %v, want refusal %s with %q", err, c.rule, c.msg)
				}
				t.Log(err)
			case err != nil:
				t.Fatal(err)
			case c.bind == "" && (ek != nil || l.TPM != nil):
				t.Fatalf("bound to %+v", ek)
			case c.bind != "" && (ek == nil || ek.Attestation != c.bind || l.TPM == nil):
				t.Fatalf("bound to %+v, want %s", ek, c.bind)
			}
		})
	}
}

// Issuing through the ledger binds the license and records the EK.
func TestIssueRecordsTPMBinding(t *testing.T) {
	ctx := context.Background()
	e := newBatchEnv(t, 1)
	is := &Issuer{Keys: e.keys, Ledger: e.ledger}
	certify, roots := ekCA(t)
	req := tpmRequest(t, batchKey(0), 1, certify)
	res, err := is.Issue(ctx, req, &IssueOptions{TPM: tpmbind.Policy{Mode: tpmbind.Require, Roots: roots}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	l, err := olr.ParseLicense(res.File, e.keys.Trust())
	if err != nil || l.TPM == nil || !strings.HasPrefix(string(res.File), "-----BEGIN OLR LICENSE-----\nformat: olr-license/v2\n") {
		t.Fatalf("license: %v\n%s", err, res.File)
	}
	var found *TPMRecord
	err = e.ledger.View(ctx, func(tx *ledger.Tx) error {
		return tx.Audit(func(r *ledger.AuditRecord) error {
			if r.Action == ActionTPMBind {
				id, rec, err := TPMRecordOf(r.Details)
				if err != nil || id != l.ID {
					t.Errorf("tpm.bind record for %s: %v", id, err)
				}
				found = rec
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	name := req.TPM.EKs[0]
	if found == nil || found.Attestation != tpmbind.Attested || found.CertIssuer != "CN=Test TPM CA" || found.CertSerial != "1092" ||
		found.Manufacturer != "IFX" || found.EKKind != olr.TPMKindECCP256 || found.EKName == "" {
		t.Fatalf("ledger record %+v (EK %v)", found, name.Kind)
	}
	if err := e.ledger.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
