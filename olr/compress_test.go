package olr

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/olr-dev/olr/fingerprint"
)

func testRequest(t *testing.T) *Request {
	t.Helper()
	fp := &fingerprint.Fingerprint{Machine: fingerprint.MachineKind{Class: fingerprint.ClassBareMetal}}
	fp.Add(fingerprint.KindMAC, "3c:ec:ef:12:34:56", "/sys/class/net/eno1/address", false)
	fp.Add(fingerprint.KindMachineID, "4f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f", "/etc/machine-id", false)
	r, err := NewRequest("backup-server", "Example Backup Ltd", "OEM-7Q2D-K9XW-4M3T", "backup01", "olr test", fp, time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func gz(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func TestCompressedRequestRoundTrip(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	req := testRequest(t)
	for _, armored := range []bool{true, false} {
		plainFile, err := EncryptRequest(req, []age.Recipient{id.Recipient()}, armored)
		if err != nil {
			t.Fatal(err)
		}
		small, err := EncryptRequestCompressed(req, []age.Recipient{id.Recipient()}, armored)
		if err != nil {
			t.Fatal(err)
		}
		if len(small) >= len(plainFile) {
			t.Errorf("armored=%v: compressed request is %d bytes, uncompressed %d", armored, len(small), len(plainFile))
		}
		got, err := DecryptRequest(small, []age.Identity{id})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != req.ID || got.LicenseKey != req.LicenseKey {
			t.Fatal("compressed request decrypts to another request")
		}
	}
}

func TestCompressOnlyWhenItPays(t *testing.T) {
	if got := compressRequest([]byte("{}\n")); string(got) != "{}\n" {
		t.Fatalf("a tiny plaintext was compressed to %d bytes", len(got))
	}
}

func TestDecompressRequestRefuses(t *testing.T) {
	plain, _ := testRequest(t).Marshal()
	bomb := gz(bytes.Repeat([]byte{' '}, MaxRequestSize+1))
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"too large", "more than", bomb},
		{"trailing data", "trailing data", append(gz(plain), 'x')},
		{"two members", "trailing data", append(gz(plain), gz(plain)...)},
		{"truncated", "compressed request", gz(plain)[:40]},
		{"bad header", "compressed request", []byte{0x1f, 0x8b, 0, 0}},
	} {
		_, err := decompressRequest(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if got, err := decompressRequest(gz(plain)); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decompressing a good request: %v", err)
	}
}

func TestDecryptCompressedMalformed(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	var b bytes.Buffer
	w, _ := age.Encrypt(&b, id.Recipient())
	w.Write(append(gz([]byte(`{"format":"olr-request/v1"}`)), 0))
	w.Close()
	_, err := DecryptRequest(b.Bytes(), []age.Identity{id})
	var re *RequestError
	if !errors.As(err, &re) || re.Problem != RequestMalformed {
		t.Fatalf("a compressed request with trailing data: %v, want a malformed request", err)
	}
}

func FuzzDecompressRequest(f *testing.F) {
	f.Add(gz([]byte(`{"format":"olr-request/v1"}`)))
	f.Add([]byte(`{"format":"olr-request/v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := decompressRequest(data)
		if err == nil && len(out) > MaxRequestSize {
			t.Fatalf("decompressed to %d bytes", len(out))
		}
	})
}
