package vectors

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/olr"
)

var update = flag.Bool("update", false, "rewrite the vector files in testdata")

// TestGenerate builds every vector in memory. With -update it rewrites
// testdata to match; without, it fails if a committed file differs from
// what the generator makes, or is missing, or is not made at all. So the
// committed vectors are always reproducible from the generator:
// generate_test.go and the gen_*_test.go files, one per part.
//
// Everything is deterministic: Ed25519 keys, salts and IDs are derived
// from fixed labels with SHA-256, times are fixed, and age's randomness
// (identities, ephemeral shares, file keys, nonces) comes from
// cryptotest.SetGlobalRandom with a seed derived from the vector's name.
func TestGenerate(t *testing.T) {
	g := &generator{t: t, files: map[string][]byte{}}
	g.licenseVectors()
	g.requestVectors()
	g.trustVectors()
	g.crlVectors()

	if *update {
		old, err := os.ReadDir("testdata")
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range old {
			if _, ok := g.files[e.Name()]; !ok {
				if err := os.Remove(filepath.Join("testdata", e.Name())); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range g.files {
			if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote %d vectors", len(g.files))
		return
	}

	disk := os.DirFS("testdata")
	entries, err := fs.ReadDir(disk, ".")
	if err != nil {
		t.Fatalf("%v (run go test ./vectors -run TestGenerate -update)", err)
	}
	for _, e := range entries {
		if _, ok := g.files[e.Name()]; !ok {
			t.Errorf("testdata/%s is not made by the generator", e.Name())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(g.files)) {
		got, err := fs.ReadFile(disk, name)
		if err != nil {
			t.Errorf("testdata/%s is missing", name)
			continue
		}
		if !bytes.Equal(got, g.files[name]) {
			t.Errorf("testdata/%s differs from what the generator makes", name)
		}
	}
	if t.Failed() {
		t.Log("run go test ./vectors -run TestGenerate -update to rewrite the vectors, and review the diff")
	}
}

type generator struct {
	t     *testing.T
	files map[string][]byte
}

func (g *generator) add(name string, headers []Header, body []byte) {
	g.t.Helper()
	if _, dup := g.files[name]; dup {
		g.t.Fatalf("vector %s made twice", name)
	}
	for _, h := range headers {
		if strings.Contains(h.Value, "\n") || strings.HasSuffix(h.Value, " ") {
			g.t.Fatalf("vector %s: header %s does not fit on one line", name, h.Key)
		}
	}
	v := &Vector{Name: name, Headers: headers, Body: body}
	g.files[name] = v.Marshal()
}

// Derivation of deterministic test material. None of it is secret: the
// labels are in the generator.

func testSeed(label string) []byte {
	s := sha256.Sum256([]byte("olr test vectors/v1/" + label))
	return s[:]
}

func testKey(label string) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(testSeed("ed25519/" + label))
}

func testID(label string) string { return hex.EncodeToString(testSeed("id/" + label)[:16]) }

func testRandSeed(label string) uint64 {
	return binary.LittleEndian.Uint64(testSeed("rand/" + label))
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// The signing keys. "vendor" is the current key; "retired" was rotated
// out at the end of January 2026 and stays in bundles with an end date;
// "stranger" is in no bundle.
var (
	vendorKey   = testKey("vendor 2026")
	retiredKey  = testKey("vendor 2024")
	strangerKey = testKey("not trusted")

	vendorFrom  = date("2026-01-01T00:00:00Z")
	retiredFrom = date("2024-01-01T00:00:00Z")
	retiredTo   = date("2026-01-31T00:00:00Z")
)

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }
func keyID(k ed25519.PrivateKey) olr.KeyID       { return olr.KeyIDOf(pub(k)) }

// trustLine is a trust bundle key line without its "key: " prefix.
func trustLine(k ed25519.PrivateKey, from, to time.Time) string {
	tr := &olr.Trust{}
	if err := tr.Add(pub(k), from, to); err != nil {
		panic(err)
	}
	line := strings.Split(string(tr.Marshal()), "\n")[1]
	return strings.TrimPrefix(line, "key: ")
}

var (
	trustVendor  = []string{trustLine(vendorKey, vendorFrom, time.Time{})}
	trustRotated = []string{trustLine(vendorKey, vendorFrom, time.Time{}), trustLine(retiredKey, retiredFrom, retiredTo)}
)
