package binding

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

func testBlob(t testing.TB) (*Blob, []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, _ := k.PublicKey.Bytes()
	pub, err := KeyPublic(point)
	if err != nil {
		t.Fatal(err)
	}
	return &Blob{Public: tpm2.Marshal(pub), Duplicate: bytes.Repeat([]byte{1}, 80), Seed: bytes.Repeat([]byte{2}, 68)}, point
}

func TestBlobRoundTrip(t *testing.T) {
	b, point := testBlob(t)
	data := b.Marshal()
	got, gotPoint, err := ParseBlob(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotPoint, point) || !bytes.Equal(got.Marshal(), data) {
		t.Error("round trip changed the blob")
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated", data[:len(data)-1]},
		{"trailing byte", append(bytes.Clone(data), 0)},
		{"empty part", (&Blob{Public: b.Public, Seed: b.Seed}).Marshal()},
		{"too long", make([]byte, MaxBlob+1)},
	} {
		if _, _, err := ParseBlob(c.data); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	// Another template (say fixedTPM, or a restricted key) is refused.
	pub, _ := KeyPublic(point)
	pub.ObjectAttributes.Restricted = true
	odd := &Blob{Public: tpm2.Marshal(pub), Duplicate: b.Duplicate, Seed: b.Seed}
	if _, _, err := ParseBlob(odd.Marshal()); err == nil {
		t.Error("a key of another template accepted")
	}
}

func TestTrimDER(t *testing.T) {
	cert := append([]byte{0x30, 0x82, 0x01, 0x00}, make([]byte, 256)...)
	for _, pad := range []byte{0x00, 0xff} {
		got, err := TrimDER(append(bytes.Clone(cert), bytes.Repeat([]byte{pad}, 100)...))
		if err != nil || !bytes.Equal(got, cert) {
			t.Errorf("padding %#x: %v", pad, err)
		}
	}
	for _, bad := range [][]byte{nil, {0x30}, {0x04, 0x01, 0x00}, {0x30, 0x82, 0x01}, {0x30, 0x83, 0, 0, 1}, cert[:100]} {
		if _, err := TrimDER(bad); err == nil {
			t.Errorf("TrimDER(% x) accepted", bad)
		}
	}
}

func FuzzParseBlob(f *testing.F) {
	b, _ := testBlob(f)
	f.Add(b.Marshal())
	f.Add([]byte{0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		blob, point, err := ParseBlob(data)
		if err != nil {
			return
		}
		// Whatever parses is canonical and names a P-256 point.
		if !bytes.Equal(blob.Marshal(), data) || len(point) != 65 {
			t.Fatalf("parsed a non-canonical blob")
		}
	})
}

func FuzzTrimDER(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 1, 2, 3, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		der, err := TrimDER(data)
		if err == nil && !bytes.HasPrefix(data, der) {
			t.Fatal("trimmed to bytes that are not a prefix")
		}
	})
}
