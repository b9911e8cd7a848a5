package olr

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// KeyID names a vendor signing key: the first 8 bytes of
// SHA-256("olr/v1/key-id\x00" || public key), written as 16 hex digits.
// Licenses carry it inside the signed bytes so that the verifier picks the
// key before it verifies, and a license cannot be re-attributed.
type KeyID [8]byte

const keyIDLabel = "olr/v1/key-id\x00"

// KeyIDOf computes the key ID of an Ed25519 public key.
func KeyIDOf(pub ed25519.PublicKey) KeyID {
	h := sha256.New()
	h.Write([]byte(keyIDLabel))
	h.Write(pub)
	var id KeyID
	copy(id[:], h.Sum(nil))
	return id
}

func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// ParseKeyID parses 16 lower-case hex digits.
func ParseKeyID(s string) (KeyID, error) {
	var id KeyID
	if len(s) != 2*len(id) || strings.ToLower(s) != s {
		return id, fmt.Errorf("key ID %q is not 16 lower-case hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("key ID %q is not 16 lower-case hex digits", s)
	}
	return id, nil
}

// TrustedKey is a vendor signing key a product accepts, with the window
// in which licenses signed by it may have been issued. A rotated-out key
// stays in the bundle with an end date, so licenses it signed before the
// rotation keep verifying.
type TrustedKey struct {
	ID        KeyID
	Public    ed25519.PublicKey
	NotBefore time.Time // zero: no lower bound
	NotAfter  time.Time // zero: no upper bound
}

// ValidAt reports whether a license issued at t may be signed by k.
func (k *TrustedKey) ValidAt(t time.Time) bool {
	if !k.NotBefore.IsZero() && t.Before(k.NotBefore) {
		return false
	}
	if !k.NotAfter.IsZero() && t.After(k.NotAfter) {
		return false
	}
	return true
}

// Trust is a bundle of trusted vendor signing keys.
//
// Its text form is a version line followed by one line per key, with
// optional '#' comment lines:
//
//	olr-trust/v1
//	# Example Vendor signing key, 2026
//	key: 5f0c1e2d3a4b6978 <base64 public key> 2026-01-01T00:00:00Z -
//
// The fields of a key line are the key ID, the unpadded standard base64
// of the 32-byte Ed25519 public key, and the start and end of the key's
// validity window as RFC 3339 UTC times, "-" where open.
type Trust struct {
	Keys []TrustedKey
}

const trustHeader = "olr-trust/v1"

// ErrUnknownKey is returned when a license names a key the trust bundle
// does not hold.
var ErrUnknownKey = errors.New("signed by a key that is not trusted")

// Key returns the trusted key with the given ID.
func (t *Trust) Key(id KeyID) (*TrustedKey, bool) {
	for i := range t.Keys {
		if t.Keys[i].ID == id {
			return &t.Keys[i], true
		}
	}
	return nil, false
}

// Add appends a key to the bundle, refusing a duplicate ID.
func (t *Trust) Add(pub ed25519.PublicKey, notBefore, notAfter time.Time) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	id := KeyIDOf(pub)
	if _, dup := t.Key(id); dup {
		return fmt.Errorf("key %s is already in the trust bundle", id)
	}
	t.Keys = append(t.Keys, TrustedKey{ID: id, Public: bytes.Clone(pub), NotBefore: notBefore.UTC(), NotAfter: notAfter.UTC()})
	return nil
}

// Marshal returns the text form of the bundle.
func (t *Trust) Marshal() []byte {
	var b strings.Builder
	b.WriteString(trustHeader + "\n")
	for _, k := range t.Keys {
		fmt.Fprintf(&b, "key: %s %s %s %s\n", k.ID, base64.RawStdEncoding.EncodeToString(k.Public),
			formatOptTime(k.NotBefore), formatOptTime(k.NotAfter))
	}
	return []byte(b.String())
}

// ParseTrust parses the text form of a trust bundle.
func ParseTrust(data []byte) (*Trust, error) {
	if len(data) > MaxTrustSize {
		return nil, fmt.Errorf("trust bundle is larger than %d bytes", MaxTrustSize)
	}
	if bytes.IndexByte(data, '\r') >= 0 {
		return nil, errors.New("trust bundle has CR characters: convert it back to LF line endings")
	}
	lines := strings.Split(string(data), "\n")
	if lines[len(lines)-1] != "" {
		return nil, errors.New("trust bundle does not end with a newline")
	}
	lines = lines[:len(lines)-1]
	if len(lines) == 0 || lines[0] != trustHeader {
		return nil, fmt.Errorf("not an olr trust bundle: the first line must be %q", trustHeader)
	}
	t := &Trust{}
	for n, line := range lines[1:] {
		lineNo := n + 2
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rest, ok := strings.CutPrefix(line, "key: ")
		if !ok {
			return nil, fmt.Errorf("trust bundle line %d: want \"key: ...\" or a # comment", lineNo)
		}
		f := strings.Split(rest, " ")
		if len(f) != 4 {
			return nil, fmt.Errorf("trust bundle line %d: want key ID, public key, not-before and not-after", lineNo)
		}
		id, err := ParseKeyID(f[0])
		if err != nil {
			return nil, fmt.Errorf("trust bundle line %d: %v", lineNo, err)
		}
		pub, err := decodeB64(f[1], ed25519.PublicKeySize)
		if err != nil {
			return nil, fmt.Errorf("trust bundle line %d: public key: %v", lineNo, err)
		}
		if KeyIDOf(pub) != id {
			return nil, fmt.Errorf("trust bundle line %d: key ID %s does not belong to that public key", lineNo, id)
		}
		nb, err := parseOptTime(f[2])
		if err != nil {
			return nil, fmt.Errorf("trust bundle line %d: not-before: %v", lineNo, err)
		}
		na, err := parseOptTime(f[3])
		if err != nil {
			return nil, fmt.Errorf("trust bundle line %d: not-after: %v", lineNo, err)
		}
		if !nb.IsZero() && !na.IsZero() && na.Before(nb) {
			return nil, fmt.Errorf("trust bundle line %d: not-after is before not-before", lineNo)
		}
		if len(t.Keys) == maxTrustKeys {
			return nil, fmt.Errorf("trust bundle holds more than %d keys", maxTrustKeys)
		}
		if err := t.Add(pub, nb, na); err != nil {
			return nil, fmt.Errorf("trust bundle line %d: %v", lineNo, err)
		}
	}
	if len(t.Keys) == 0 {
		return nil, errors.New("trust bundle holds no key")
	}
	return t, nil
}

func formatOptTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return formatTime(t)
}

func parseOptTime(s string) (time.Time, error) {
	if s == "-" {
		return time.Time{}, nil
	}
	return parseTime(s)
}

// timeLayout is RFC 3339 in UTC with whole seconds: one spelling per
// instant, so the encoding stays canonical.
const timeLayout = "2006-01-02T15:04:05Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// parseTime parses a time of the formats: RFC 3339 in UTC with whole
// seconds and a literal Z, in the years 1970 to 9999. The lower bound
// keeps Go's zero time, which means "none" in a License, out of reach.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	var canon [len(timeLayout) + 8]byte // room for a year past 9999, which then differs
	if err != nil || string(t.AppendFormat(canon[:0], timeLayout)) != s || t.Year() < 1970 {
		return time.Time{}, fmt.Errorf("%s is not a UTC time like 2026-01-02T15:04:05Z from 1970 on", quoteShort(s))
	}
	return t, nil
}

// b64 is canonical unpadded standard base64, made once: Strict returns
// a new Encoding at each call.
var b64 = base64.RawStdEncoding.Strict()

// decodeB64 decodes canonical unpadded standard base64 of exactly n bytes.
func decodeB64(s string, n int) ([]byte, error) {
	b := make([]byte, n)
	if err := decodeB64Into(b, s); err != nil {
		return nil, err
	}
	return b, nil
}

// decodeB64Into decodes canonical unpadded standard base64 of exactly
// len(dst) bytes into dst, which it leaves undefined on an error.
func decodeB64Into(dst []byte, s string) error {
	n := len(dst)
	if len(s) != base64.RawStdEncoding.EncodedLen(n) {
		return fmt.Errorf("want %d bytes in unpadded base64", n)
	}
	var buf [64]byte // room for a hash or a signature: no allocation
	src := append(buf[:0], s...)
	if m, err := b64.Decode(dst, src); err != nil || m != n {
		return fmt.Errorf("want %d bytes in canonical unpadded base64", n)
	}
	return nil
}
