package olr_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

func newRequest(t testing.TB) *olr.Request {
	req, err := olr.NewRequest("backup-server", "Example Backup Ltd", "OEM-7Q2D-K9XW-4M3T", "backup01", "olr test", olrtest.Fingerprint(), olrtest.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestRequestRoundTrip(t *testing.T) {
	hybrid, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	req := newRequest(t)
	for _, c := range []struct {
		name  string
		id    age.Identity
		rcpt  age.Recipient
		armor bool
	}{
		{"hybrid armored", hybrid, hybrid.Recipient(), true},
		{"hybrid binary", hybrid, hybrid.Recipient(), false},
		{"x25519 armored", x, x.Recipient(), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := olr.EncryptRequest(req, []age.Recipient{c.rcpt}, c.armor)
			if err != nil {
				t.Fatal(err)
			}
			if c.armor != bytes.HasPrefix(data, []byte(armor.Header)) {
				t.Fatalf("armor = %v but file starts %q", c.armor, data[:20])
			}
			if bytes.Contains(data, []byte(req.LicenseKey)) || bytes.Contains(data, []byte("3c:ec:ef")) {
				t.Fatal("the license key or a MAC is visible in the encrypted file")
			}
			got, err := olr.DecryptRequest(data, []age.Identity{c.id})
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != req.ID || got.LicenseKey != req.LicenseKey || len(got.Fingerprint.Factors) != len(req.Fingerprint.Factors) {
				t.Fatalf("got %+v", got)
			}
			// A stock age user reads the same JSON.
			var src io.Reader = bytes.NewReader(data)
			if c.armor {
				src = armor.NewReader(src)
			}
			rd, err := age.Decrypt(src, c.id)
			if err != nil {
				t.Fatalf("stock age decrypt: %v", err)
			}
			plain, _ := io.ReadAll(rd)
			if want, _ := req.Marshal(); !bytes.Equal(plain, want) {
				t.Fatalf("stock age plaintext differs:\n%s", plain)
			}
			// Wrong key: a clear, typed error.
			_, err = olr.DecryptRequest(data, []age.Identity{x})
			if c.id != age.Identity(x) && !errors.Is(err, olr.ErrWrongVendorKey) {
				t.Fatalf("wrong key: %v", err)
			}
		})
	}
}

func TestParseRequestStrict(t *testing.T) {
	plain, err := newRequest(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := olr.ParseRequest(plain); err != nil {
		t.Fatal(err)
	}
	s := string(plain)
	bad := map[string]string{
		"unknown field":   strings.Replace(s, `"format"`, `"colour": "blue", "format"`, 1),
		"duplicate field": strings.Replace(s, `"format"`, `"hostname": "x", "format"`, 1),
		"nested dup":      strings.Replace(s, `"kind": "board-serial",`, `"kind": "board-serial", "kind": "mac",`, 1),
		"trailing data":   s + "{}",
		"wrong format":    strings.Replace(s, "olr-request/v1", "olr-request/v9", 1),
		"bad id":          strings.Replace(s, `"request_id": "`, `"request_id": "X`, 1),
		"not normal":      strings.Replace(s, "3c:ec:ef:12:34:56", "3C-EC-EF-12-34-56", 1),
		"control char":    strings.Replace(s, "Example Backup Ltd", `Example\u0007Backup`, 1),
		"empty":           "",
		"array":           "[]",
	}
	for name, text := range bad {
		_, err := olr.ParseRequest([]byte(text))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "OEM-7Q2D-K9XW-4M3T") {
			t.Errorf("%s: error leaks the license key: %v", name, err)
		}
	}
}

func TestDecryptRequestBadInput(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	data, err := olr.EncryptRequest(newRequest(t), []age.Recipient{id.Recipient()}, true)
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := olr.EncryptRequest(newRequest(t), []age.Recipient{id.Recipient()}, false)
	for name, in := range map[string][]byte{
		"empty":            nil,
		"garbage":          []byte("\x00\xffnot age"),
		"truncated armor":  data[:len(data)/2],
		"truncated binary": bin[:len(bin)-20],
		"license armor":    []byte("-----BEGIN OLR LICENSE-----\n"),
		"oversized":        bytes.Repeat([]byte("A"), olr.MaxRequestSize+1),
	} {
		if _, err := olr.DecryptRequest(in, []age.Identity{id}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzParseRequest: never panics; what it accepts is one JSON object
// and a newline, and re-encodes to a request it accepts again.
func FuzzParseRequest(f *testing.F) {
	plain, _ := newRequest(f).Marshal()
	f.Add(plain)
	for _, c := range craftedRequests(f) {
		f.Add([]byte(c.plain))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := olr.ParseRequest(data)
		if err != nil {
			return
		}
		if !json.Valid(data) || !bytes.HasSuffix(data, []byte("}\n")) {
			t.Fatalf("accepted %q", data)
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := olr.ParseRequest(again); err != nil {
			t.Fatalf("re-parse failed: %v", err)
		}
	})
}
