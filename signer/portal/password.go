package portal

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Passwords are hashed with argon2id (RFC 9106) and stored in the PHC
// string form that other tools read:
//
//	$argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash>
//
// with unpadded standard base64. The parameters are those of RFC 9106's
// second recommended option (64 MiB, 3 passes) with two lanes, for the
// desk's small servers: about a tenth of a second per sign-in.
const (
	argonTime    = 3
	argonMemory  = 64 << 10 // KiB
	argonThreads = 2
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Bounds on a password: long enough to resist guessing offline, short
// enough that hashing it costs what it should.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// CheckPassword says why a new password is not acceptable, or returns nil.
func CheckPassword(pw string) error {
	if !utf8.ValidString(pw) {
		return errors.New("the password is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen {
		return fmt.Errorf("the password has %d characters; use at least %d", n, MinPasswordLen)
	}
	if len(pw) > MaxPasswordLen {
		return fmt.Errorf("the password is longer than %d bytes", MaxPasswordLen)
	}
	return nil
}

var b64 = base64.RawStdEncoding.Strict()

// HashPassword returns the argon2id hash of pw with a fresh salt.
func HashPassword(pw string) string { return hashPassword(pw, argonTime, argonMemory, argonThreads) }

// hashPassword hashes with the given cost; VerifyPassword reads the cost
// from the hash.
func hashPassword(pw string, time, memory uint32, threads uint8) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, time, memory, threads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memory, time, threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Bounds on the parameters of a stored hash, so that a hash edited in the
// ledger cannot make a sign-in take minutes or gigabytes.
const (
	maxArgonMemory  = 1 << 20 // KiB: 1 GiB
	maxArgonTime    = 16
	maxArgonThreads = 16
)

// phc is a parsed argon2id hash.
type phc struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parsePHC reads an argon2id hash in PHC string form, refusing costs
// beyond the bounds above.
func parsePHC(hash string) (*phc, bool) {
	f := strings.Split(hash, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return nil, false
	}
	var h phc
	if n, err := fmt.Sscanf(f[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &h.threads); n != 3 || err != nil ||
		f[3] != fmt.Sprintf("m=%d,t=%d,p=%d", h.memory, h.time, h.threads) {
		return nil, false
	}
	if h.memory < 8 || h.memory > maxArgonMemory || h.time < 1 || h.time > maxArgonTime || h.threads < 1 || h.threads > maxArgonThreads {
		return nil, false
	}
	var err1, err2 error
	h.salt, err1 = b64.DecodeString(f[4])
	h.key, err2 = b64.DecodeString(f[5])
	if err1 != nil || err2 != nil || len(h.salt) < 8 || len(h.key) < 16 || len(h.key) > 64 {
		return nil, false
	}
	return &h, true
}

// VerifyPassword reports whether pw matches the PHC hash. A malformed
// hash matches nothing.
func VerifyPassword(hash, pw string) bool {
	h, ok := parsePHC(hash)
	if !ok {
		return false
	}
	got := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// dummyHash is verified against when an account does not exist, so that
// a sign-in for a missing name takes as long as one for a real name.
// It is made on first use: hashing at start-up would slow every olr-sign
// command.
var dummyHash = sync.OnceValue(func() string { return HashPassword("olr portal: no such account") })
