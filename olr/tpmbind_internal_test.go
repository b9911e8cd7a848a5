package olr

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
)

// sampleBoundBody is sampleBody bound to a TPM: an olr-license/v2 body.
func sampleBoundBody(t testing.TB) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, _ := k.PublicKey.Bytes()
	l, err := parseBody(sampleBody(t))
	if err != nil {
		t.Fatal(err)
	}
	l.TPM = &TPMBinding{Scheme: TPMSchemeImport, EKKind: TPMKindRSA2048, Key: point, Blob: bytes.Repeat([]byte{0xb1}, 500)}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	return l.encodeBody()
}

func TestParseBoundBodyRoundTrip(t *testing.T) {
	body := sampleBoundBody(t)
	if !bytes.HasPrefix(body, []byte("format: olr-license/v2\n")) {
		t.Fatalf("a bound license is not version 2:\n%s", body)
	}
	l, err := parseBody(body)
	if err != nil {
		t.Fatalf("parseBody: %v\n%s", err, body)
	}
	if l.TPM == nil || l.TPM.EKKind != TPMKindRSA2048 || len(l.TPM.Blob) != 500 {
		t.Fatalf("binding %+v", l.TPM)
	}
	if got := l.encodeBody(); !bytes.Equal(got, body) {
		t.Fatalf("re-encoding differs:\n%s\nwant\n%s", got, body)
	}
	// A license without a binding is version 1: the grammar admits one
	// encoding per license.
	v2 := bytes.Replace(sampleBody(t), []byte("olr-license/v1"), []byte("olr-license/v2"), 1)
	if _, err := parseBody(v2); err == nil || !strings.Contains(err.Error(), `missing field "tpm-bind"`) {
		t.Errorf("version 2 without a binding: %v", err)
	}
}

// Every way the TPM lines can be wrong is malformed, even when signed.
func TestParseBoundBodyRejects(t *testing.T) {
	body := string(sampleBoundBody(t))
	line := func(name string) string {
		i := strings.Index(body, name+": ")
		return body[i : i+strings.IndexByte(body[i:], '\n')+1]
	}
	bind, key, blob := line("tpm-bind"), line("tpm-key"), line("tpm-blob")
	cases := []struct{ name, old, new string }{
		{"binding in a version 1 body", "olr-license/v2", "olr-license/v1"},
		{"tpm-bind alone", key + blob, ""},
		{"no tpm-blob", blob, ""},
		{"no tpm-key", key, ""},
		{"no tpm-bind", bind, ""},
		{"out of order", key + blob, blob + key},
		{"twice", blob, blob + blob},
		{"before the factors", bind + key + blob, ""},
		{"unknown scheme", "tpm-bind: import ", "tpm-bind: activate "},
		{"unknown kind", "rsa-2048", "ecc-p384"},
		{"no kind", "tpm-bind: import rsa-2048", "tpm-bind: import"},
		{"key not on the curve", key, "tpm-key: BA" + strings.Repeat("A", 85) + "\n"},
		{"key compressed", key, "tpm-key: Ag" + strings.Repeat("A", 41) + "\n"},
		{"key padded", key, strings.TrimSuffix(key, "\n") + "=\n"},
		{"blob padded", blob, strings.TrimSuffix(blob, "\n") + "==\n"},
		{"blob not canonical", blob, strings.TrimSuffix(blob, "A\n") + "B\n"},
		{"blob empty", blob, "tpm-blob: \n"},
		{"blob too long", blob, "tpm-blob: " + strings.Repeat("AAAA", 700) + "\n"},
		{"blob with a space", blob, strings.Replace(blob, "sb", "s b", 1)},
		{"field after", blob, blob + "grace-days: 14\n"},
	}
	for _, c := range cases {
		if c.name == "before the factors" {
			v := strings.Replace(body, bind+key+blob, "", 1)
			v = strings.Replace(v, "salt: ", bind+key+blob+"salt: ", 1)
			if _, err := parseBody([]byte(v)); err == nil {
				t.Errorf("%s: accepted", c.name)
			}
			continue
		}
		if !strings.Contains(body, c.old) {
			t.Fatalf("%s: %q not in body", c.name, c.old)
		}
		v := strings.Replace(body, c.old, c.new, 1)
		if _, err := parseBody([]byte(v)); err == nil {
			t.Errorf("%s: accepted:\n%s", c.name, v)
		}
	}
	for _, name := range []string{"tpm-bind", "tpm-key", "tpm-blob"} {
		if _, err := parseBody([]byte(strings.Replace(body, line(name), "", 1))); err == nil {
			t.Errorf("without %s: accepted", name)
		}
	}
}
