package vectors

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// specTrust reads a trust bundle vector by SPEC.md section 5 and returns
// ok or malformed, with the number of keys.
func specTrust(v *Vector) (string, int) {
	data := string(v.Body)
	if len(data) > 64<<10 || strings.Contains(data, "\r") || !strings.HasSuffix(data, "\n") {
		return "malformed", 0
	}
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	if lines[0] != "olr-trust/v1" {
		return "malformed", 0
	}
	seen := map[string]bool{}
	for _, line := range lines[1:] {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rest, ok := strings.CutPrefix(line, "key: ")
		f := strings.Split(rest, " ")
		if !ok || len(f) != 4 || !specKeyIDRE.MatchString(f[0]) || seen[f[0]] {
			return "malformed", 0
		}
		pub, err := base64.RawStdEncoding.Strict().DecodeString(f[1])
		if err != nil || len(pub) != ed25519.PublicKeySize || len(f[1]) != 43 {
			return "malformed", 0
		}
		id := sha256.Sum256(append([]byte("olr/v1/key-id\x00"), pub...))
		if hex.EncodeToString(id[:8]) != f[0] {
			return "malformed", 0
		}
		var window [2]time.Time
		for i, s := range f[2:] {
			if s == "-" {
				continue
			}
			if window[i], ok = specTime(s); !ok {
				return "malformed", 0
			}
		}
		if !window[0].IsZero() && !window[1].IsZero() && window[1].Before(window[0]) {
			return "malformed", 0
		}
		seen[f[0]] = true
	}
	if len(seen) < 1 || len(seen) > 64 {
		return "malformed", 0
	}
	return "ok", len(seen)
}

// specCRL reads a revocation list vector by SPEC.md section 6 and returns
// the outcome, with the number and the revoked IDs of a list that is ok.
func specCRL(v *Vector) (outcome string, number uint64, revoked []string) {
	lines, key, outcome := specAuthenticate(v, specCRLDoc)
	if outcome != "" {
		return outcome, 0, nil
	}
	// The body: format, key-id, number, issued, then revoked lines, each
	// value text.
	fields := []string{"format", "key-id", "number", "issued"}
	if len(lines) < len(fields) {
		return "malformed", 0, nil
	}
	values := map[string]string{}
	for i, line := range lines {
		name, value, ok := strings.Cut(line, ": ")
		want := "revoked"
		if i < len(fields) {
			want = fields[i]
		}
		if !ok || name != want || !specText(value, 256) {
			return "malformed", 0, nil
		}
		if name == "revoked" {
			if !specHex32RE.MatchString(value) || len(revoked) > 0 && revoked[len(revoked)-1] >= value {
				return "malformed", 0, nil
			}
			revoked = append(revoked, value)
		}
		values[name] = value
	}
	if !specNumberRE.MatchString(values["number"]) {
		return "malformed", 0, nil
	}
	number, err := strconv.ParseUint(values["number"], 10, 64)
	issued, ok := specTime(values["issued"])
	if err != nil || number < 1 || !ok {
		return "malformed", 0, nil
	}
	if !key.validAt(issued) {
		return "key-not-valid", 0, nil
	}
	return "ok", number, revoked
}
