// Package signer is the vendor side of olr: the vendor's keys at rest,
// what was sold (Entitlement) and the vendor's choices for a license
// (IssueOptions), the issuing rules (rules.go), the one decision that
// answers a request through the ledger (Issuer, issuer.go), batch
// issuing of a directory of requests, and license pools (Pools,
// pool.go: what may be pooled, and the keys issued from a pool). The record of keys sold and
// activations is in signer/ledger; clone detection across requests in
// signer/clones.
package signer

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/olr"
)

// Keys are the vendor's secret keys: the age identity that opens requests
// and the Ed25519 key that signs licenses.
type Keys struct {
	Identity  age.Identity
	Recipient string // the age recipient machines encrypt requests to
	Signing   ed25519.PrivateKey
	KeyID     olr.KeyID
	Created   time.Time
	// bundle, when set by Rotate, is the trust bundle written with the
	// key: the previous keys with their windows closed, and this one.
	bundle *olr.Trust
}

// Files that keygen writes next to the identity file named by the user.
const (
	signingSuffix   = ".sign"      // Ed25519 signing key (secret)
	recipientSuffix = ".recipient" // age recipient (public)
	trustSuffix     = ".trust"     // trust bundle (public)
	signingHeader   = "olr-signing-key/v1"
)

// Paths of the files that make up a vendor key named path.
func SigningPath(path string) string   { return path + signingSuffix }
func RecipientPath(path string) string { return path + recipientSuffix }
func TrustPath(path string) string     { return path + trustSuffix }

// GenerateKeys makes a new vendor key set. Hybrid selects the
// post-quantum ML-KEM-768 + X25519 age identity (the default for new
// keys); otherwise a classic X25519 identity.
func GenerateKeys(hybrid bool, now time.Time) (*Keys, error) {
	k := &Keys{Created: now.UTC().Truncate(time.Second)}
	if hybrid {
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			return nil, err
		}
		k.Identity, k.Recipient = id, id.Recipient().String()
	} else {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, err
		}
		k.Identity, k.Recipient = id, id.Recipient().String()
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	k.Signing = priv
	k.KeyID = olr.KeyIDOf(priv.Public().(ed25519.PublicKey))
	return k, nil
}

// Public returns the signing public key.
func (k *Keys) Public() ed25519.PublicKey { return k.Signing.Public().(ed25519.PublicKey) }

// Trust returns the trust bundle to ship with the key: the signing key,
// valid from its creation on, after the keys it rotated out (see Rotate).
func (k *Keys) Trust() *olr.Trust {
	if k.bundle != nil {
		return k.bundle
	}
	t := &olr.Trust{}
	t.Add(k.Public(), k.Created, time.Time{})
	return t
}

// Rotate makes k the successor of the keys in old: each of them that has
// no end yet is closed at k's creation time, and k is added from then on.
// Products that receive the new bundle keep accepting licenses the old
// keys signed before the rotation, and refuse any they sign after it.
func (k *Keys) Rotate(old *olr.Trust) error {
	t := &olr.Trust{}
	for _, ok := range old.Keys {
		if ok.ID == k.KeyID {
			return fmt.Errorf("key %s is already in the old bundle", ok.ID)
		}
		if ok.NotAfter.IsZero() || ok.NotAfter.After(k.Created) {
			ok.NotAfter = k.Created
		}
		if err := t.Add(ok.Public, ok.NotBefore, ok.NotAfter); err != nil {
			return err
		}
	}
	if err := t.Add(k.Public(), k.Created, time.Time{}); err != nil {
		return err
	}
	k.bundle = t
	return nil
}

type stringer interface{ String() string }

// WriteKeys writes the key set: path (the age identity file, usable with
// `age -d -i path`), path.sign (the signing key), and the public
// path.recipient and path.trust. Secret files are created with O_EXCL and
// mode 0600: an existing key is never overwritten. On any failure the
// files this call created are removed.
//
// With a passphrase, both secret files are age files encrypted to it with
// scrypt (the stock age CLI opens such an identity file after asking for
// the passphrase); an empty passphrase writes them in the clear, which
// callers must only do when the user asked for it explicitly.
func WriteKeys(path string, k *Keys, passphrase string) error {
	created := []string{}
	fail := func(err error) error {
		for _, p := range created {
			os.Remove(p)
		}
		return err
	}
	stamp := k.Created.Format(time.RFC3339)
	ident := fmt.Sprintf("# olr vendor request key, created %s\n# public key: %s\n%s\n", stamp, k.Recipient, k.Identity.(stringer).String())
	seed := base64.RawStdEncoding.EncodeToString(k.Signing.Seed())
	sign := fmt.Sprintf("%s\nkey-id: %s\ncreated: %s\nseed: %s\n", signingHeader, k.KeyID, stamp, seed)
	if passphrase != "" {
		var err error
		if ident, err = sealSecret(ident, passphrase); err != nil {
			return err
		}
		if sign, err = sealSecret(sign, passphrase); err != nil {
			return err
		}
	}
	files := []struct {
		path string
		data string
		perm os.FileMode
	}{
		{path, ident, 0o600},
		{SigningPath(path), sign, 0o600},
		{RecipientPath(path), k.Recipient + "\n", 0o644},
		{TrustPath(path), string(k.Trust().Marshal()), 0o644},
	}
	for _, f := range files {
		if err := writeExclusive(f.path, []byte(f.data), f.perm); err != nil {
			return fail(err)
		}
		created = append(created, f.path)
	}
	return nil
}

func writeExclusive(path string, data []byte, perm os.FileMode) error {
	err := safefile.CreateExclusive(path, data, perm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; refusing to overwrite a key", path)
	}
	return err
}

// checkPrivate refuses a secret key file that group or others may read,
// as ssh does: such a key must be assumed copied.
func checkPrivate(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is accessible by group or others (mode %04o); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	return nil
}

// LoadKeys reads the key set written by WriteKeys. passphrase is called,
// at most once, when the secret files are encrypted.
func LoadKeys(path string, passphrase func() (string, error)) (*Keys, error) {
	k := &Keys{}
	for _, p := range []string{path, SigningPath(path)} {
		if err := checkPrivate(p); err != nil {
			return nil, err
		}
	}
	pass := &passCache{get: passphrase}
	data, err := readSecret(path, pass)
	if err != nil {
		return nil, err
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: not an age identity file", path)
	}
	if len(ids) != 1 {
		return nil, fmt.Errorf("%s: want exactly one identity, found %d", path, len(ids))
	}
	k.Identity = ids[0]
	switch id := ids[0].(type) {
	case *age.HybridIdentity:
		k.Recipient = id.Recipient().String()
	case *age.X25519Identity:
		k.Recipient = id.Recipient().String()
	}
	sign, err := readSecret(SigningPath(path), pass)
	if err != nil {
		return nil, err
	}
	k.Signing, k.KeyID, k.Created, err = parseSigningKey(SigningPath(path), sign)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// parseSigningKey parses a signing key file. Errors never quote the seed.
func parseSigningKey(path string, data []byte) (ed25519.PrivateKey, olr.KeyID, time.Time, error) {
	var id olr.KeyID
	sc := bufio.NewScanner(bytes.NewReader(data))
	fields := map[string]string{}
	for n := 0; sc.Scan(); n++ {
		line := sc.Text()
		if n == 0 {
			if line != signingHeader {
				return nil, id, time.Time{}, fmt.Errorf("%s: not an olr signing key (first line must be %q)", path, signingHeader)
			}
			continue
		}
		name, val, ok := strings.Cut(line, ": ")
		if !ok {
			return nil, id, time.Time{}, fmt.Errorf("%s: line %d is malformed", path, n+1)
		}
		fields[name] = val
	}
	if err := sc.Err(); err != nil {
		return nil, id, time.Time{}, fmt.Errorf("%s: %v", path, err)
	}
	seed, err := base64.RawStdEncoding.Strict().DecodeString(fields["seed"])
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, id, time.Time{}, fmt.Errorf("%s: the seed is not %d bytes of base64", path, ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	id = olr.KeyIDOf(priv.Public().(ed25519.PublicKey))
	if fields["key-id"] != id.String() {
		return nil, id, time.Time{}, fmt.Errorf("%s: the key ID does not match the key (file damaged?)", path)
	}
	created, err := time.Parse(time.RFC3339, fields["created"])
	if err != nil {
		return nil, id, time.Time{}, fmt.Errorf("%s: bad creation time", path)
	}
	return priv, id, created, nil
}
