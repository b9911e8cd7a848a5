package clitest

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"filippo.io/age"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
)

// TestRequestTamperInProcess changes every byte of a req.olr written by
// olr request (hybrid and X25519 vendor keys) and opens it as olr-sign
// does: a changed request either fails to open or, where the armor
// ignores the change, opens to exactly the original request.
func TestRequestTamperInProcess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		keygen []string
	}{{"hybrid", nil}, {"x25519", []string{"--x25519"}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newActivation(t, "kvm", "", tc.keygen...)
			keys, err := signer.LoadKeys(a.Key, nil)
			if err != nil {
				t.Fatal(err)
			}
			ids := []age.Identity{keys.Identity}
			data, err := os.ReadFile(a.Request)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := olr.DecryptRequest(data, ids)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(orig)
			buf := bytes.Clone(data)
			var opened int
			for i := range data {
				buf[i] = data[i] ^ 0x01
				req, err := olr.DecryptRequest(buf, ids)
				buf[i] = data[i]
				if err != nil {
					continue
				}
				opened++
				if got, _ := json.Marshal(req); !bytes.Equal(got, want) {
					t.Errorf("byte %d (%q): the changed file opens to another request", i, data[i])
				}
			}
			t.Logf("%d positions, %d changes the armor ignores", len(data), opened)
		})
	}
}
