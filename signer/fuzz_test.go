package signer

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzParseEntitlement: the entitlement reader never panics, and what it
// accepts validates or is refused with an error.
func FuzzParseEntitlement(f *testing.F) {
	f.Add([]byte(`{"license_key":"K","licensee":"L","type":"oem","modules":{"obm":50,"mobile":"unlimited"},"languages":["en"],"expires":"2099-12-31"}`))
	f.Add([]byte(`{"type":"meter","modules":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		f, err := ParseEntitlement(bytes.NewReader(data))
		if err != nil {
			return
		}
		if e, err := f.Entitlement(time.Now()); err == nil {
			if err := e.Validate(time.Now()); err != nil {
				t.Fatalf("Entitlement accepted what Validate refuses: %v", err)
			}
		}
		_ = f.Options(&IssueOptions{})
	})
}

// FuzzParseSigningKey: the signing key reader never panics and never puts
// the file's content into an error.
func FuzzParseSigningKey(f *testing.F) {
	k, _ := GenerateKeys(false, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f.Add([]byte(signingHeader + "\nkey-id: " + k.KeyID.String() + "\ncreated: 2026-01-01T00:00:00Z\nseed: AAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _, err := parseSigningKey("k.sign", data)
		if err == nil {
			return
		}
		for _, line := range strings.Split(string(data), "\n") {
			v, ok := strings.CutPrefix(line, "seed: ")
			if !ok || len(v) < 8 || !strings.Contains(err.Error(), v) {
				continue
			}
			// A leak only if the text comes from the seed: the same file
			// with another seed must not produce it.
			other := strings.ReplaceAll(string(data), line, "seed: ?")
			if _, _, _, err2 := parseSigningKey("k.sign", []byte(other)); err2 == nil || !strings.Contains(err2.Error(), v) {
				t.Fatalf("error quotes the seed: %v", err)
			}
		}
	})
}
