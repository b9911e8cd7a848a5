package vectors

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVectorsAgainstSpec checks the license vectors with code written from
// SPEC.md alone, without the olr package: the copy-and-paste rules, the
// signed message, the key lookup, Ed25519, the factor hash, the match
// score and the grace period. It keeps the vectors honest about the
// specification, not only about the Go implementation, and is a short
// model for implementers.
func TestVectorsAgainstSpec(t *testing.T) {
	vs, err := Load(FS())
	if err != nil {
		t.Fatal(err)
	}
	// Outcomes decided after the signature verified (SPEC.md section 3,
	// steps 5 to 9), except malformed, which also comes earlier.
	signed := map[string]bool{
		"valid": true, "grace": true, "key-not-valid": true, "wrong-product": true, "not-yet-valid": true,
		"expired": true, "hardware-mismatch": true, "grace-expired": true,
	}
	for _, v := range vs {
		if kind, _ := v.Get("kind"); kind != "license" {
			continue
		}
		expect, _ := v.Get("expect")
		t.Run(v.Name, func(t *testing.T) {
			body, sig, ok := specSplit(v.Body)
			if !ok {
				if signed[expect] || expect == "bad-signature" || expect == "untrusted-key" {
					t.Fatalf("expect %s, but the armor does not split", expect)
				}
				return
			}
			lines := strings.SplitN(body, "\n", 3)
			if len(lines) < 3 {
				if signed[expect] || expect == "bad-signature" || expect == "untrusted-key" {
					t.Fatalf("expect %s, but the body has fewer than two lines", expect)
				}
				return
			}
			id := strings.TrimPrefix(lines[1], "key-id: ")
			var pub ed25519.PublicKey
			for _, tl := range v.All("trust") {
				f := strings.Fields(tl)
				if f[0] == id {
					pub, _ = base64.RawStdEncoding.Strict().DecodeString(f[1])
				}
			}
			switch {
			case expect == "untrusted-key":
				if pub != nil {
					t.Fatalf("expect untrusted-key, but key %s is in the trust headers", id)
				}
				return
			case signed[expect] || expect == "bad-signature":
				if pub == nil {
					t.Fatalf("expect %s, but key %s is not in the trust headers", expect, id)
				}
			default:
				return
			}
			verified := len(sig) == ed25519.SignatureSize &&
				ed25519.Verify(pub, []byte("olr/v1/license-signature\x00"+body), sig)
			if verified != signed[expect] {
				t.Fatalf("expect %s, but the signature verifies: %v", expect, verified)
			}
			if want, ok := v.Get("match"); ok {
				if got := specMatch(t, v, body); got != want {
					t.Errorf("match %s by SPEC.md, vector says %s", got, want)
				}
			}
			if want, ok := v.Get("grace-until"); ok {
				since, _ := time.Parse(time.RFC3339, must(t, v, "mismatch-since"))
				days, _ := strconv.Atoi(specField(body, "grace-days")[0])
				if got := since.Add(time.Duration(days) * 24 * time.Hour).UTC().Format(time.RFC3339); got != want {
					t.Errorf("grace until %s by SPEC.md, vector says %s", got, want)
				}
			}
		})
	}
}

// specSplit undoes copy and paste and splits the armor, as SPEC.md
// section 3 says, without judging the body.
func specSplit(data []byte) (body string, sig []byte, ok bool) {
	const begin, end = "-----BEGIN OLR LICENSE-----\n", "-----END OLR LICENSE-----\n"
	if len(data) > 64<<10 {
		return "", nil, false
	}
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	s := strings.Trim(string(data), "\n") + "\n"
	if strings.ContainsRune(s, '\r') || !strings.HasPrefix(s, begin) || !strings.HasSuffix(s, end) {
		return "", nil, false
	}
	inner := s[len(begin) : len(s)-len(end)]
	i := strings.LastIndex(inner, "\nsignature: ")
	if i < 0 {
		return "", nil, false
	}
	b64 := strings.TrimSuffix(inner[i+len("\nsignature: "):], "\n")
	sig, err := base64.RawStdEncoding.Strict().DecodeString(b64)
	if err != nil || len(sig) != 64 || len(b64) != 86 {
		return "", nil, false
	}
	return inner[:i+1], sig, true
}

// specField returns the values of the body lines named name.
func specField(body, name string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			out = append(out, v)
		}
	}
	return out
}

// specMatch computes SCORE/TOTAL by SPEC.md section 1.
func specMatch(t *testing.T, v *Vector, body string) string {
	salt, err := base64.RawStdEncoding.Strict().DecodeString(specField(body, "salt")[0])
	if err != nil {
		t.Fatal(err)
	}
	weights := map[string]int{}
	for _, w := range specField(body, "match-weight") {
		k, n, _ := strings.Cut(w, " ")
		weights[k], _ = strconv.Atoi(n)
	}
	current := map[string]bool{}
	for _, f := range v.All("factor") {
		kind, value, _ := strings.Cut(f, " ")
		h := sha256.Sum256(fmt.Appendf(nil, "olr/v1/factor-hash\x00%s%s\x00%s", salt, kind, value))
		current[kind+" "+base64.RawStdEncoding.EncodeToString(h[:])] = true
	}
	recorded, matched := map[string]bool{}, map[string]bool{}
	for _, f := range specField(body, "factor") {
		kind, _, _ := strings.Cut(f, " ")
		recorded[kind] = true
		if current[f] {
			matched[kind] = true
		}
	}
	score, total := 0, 0
	for k := range recorded {
		total += weights[k]
		if matched[k] {
			score += weights[k]
		}
	}
	return fmt.Sprintf("%d/%d", score, total)
}
