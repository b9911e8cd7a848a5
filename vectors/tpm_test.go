package vectors

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	tpmbinding "github.com/olr-dev/olr/fingerprint/tpm/binding"
)

// vectorTPM is the machine's TPM as a vector's "tpm" header describes it
// (KIND BLOB-SHA256 SCALAR): it imports one blob, wrapped to its EK of
// one kind, and signs challenges with the key inside.
type vectorTPM struct {
	kind     string
	blobHash []byte
	key      *ecdsa.PrivateKey
}

var errNotMyEK = errors.New("the key is wrapped to another endorsement key")

func (v *vectorTPM) ProveTPM(_ context.Context, kind string, blob, _, digest []byte) ([]byte, []byte, error) {
	h := sha256.Sum256(blob)
	if kind != v.kind || string(h[:]) != string(v.blobHash) {
		return nil, nil, errNotMyEK
	}
	// What a TPM would check on import: the blob's layout and its key's
	// template (the real check is fingerprint/tpm's, against TPMs).
	if _, _, err := tpmbinding.ParseBlob(blob); err != nil {
		return nil, nil, err
	}
	sig, err := ecdsa.SignASN1(rand.Reader, v.key, digest)
	return sig, []byte("wrapped"), err
}

func parseTPMHeader(t *testing.T, s string) *vectorTPM {
	t.Helper()
	f := strings.Fields(s)
	if len(f) != 3 {
		t.Fatalf("tpm header %q: want KIND BLOB-SHA256 SCALAR", s)
	}
	h, err := hex.DecodeString(f[1])
	if err != nil || len(h) != 32 {
		t.Fatalf("tpm header: blob hash %q", f[1])
	}
	d, err := base64.RawStdEncoding.Strict().DecodeString(f[2])
	if err != nil {
		t.Fatalf("tpm header: scalar: %v", err)
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatalf("tpm header: scalar: %v", err)
	}
	return &vectorTPM{kind: f[0], blobHash: h, key: key}
}
