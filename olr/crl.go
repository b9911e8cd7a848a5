package olr

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// RevocationList is a signed list of revoked license IDs (revoked.olr).
// Its Number only grows: a machine keeps the highest number it has seen
// and refuses an older list, so an old list cannot un-revoke a license.
type RevocationList struct {
	KeyID   KeyID
	Number  uint64
	Issued  time.Time
	Revoked []string // license IDs, sorted, unique
}

const (
	crlFormat = "olr-crl/v1"
	// MaxCRLSize bounds a revocation list: about 100,000 revoked licenses.
	MaxCRLSize = 4 << 20
)

var crlDoc = &signedDoc{name: "revocation list", begin: "-----BEGIN OLR REVOCATION LIST-----\n",
	end: "-----END OLR REVOCATION LIST-----\n", format: crlFormat, max: MaxCRLSize,
	label: "olr/v1/crl-signature\x00"}

// IsRevoked reports whether the list revokes the license ID.
func (c *RevocationList) IsRevoked(licenseID string) bool {
	_, ok := slices.BinarySearch(c.Revoked, licenseID)
	return ok
}

// SignRevocationList signs c with key.
func SignRevocationList(c *RevocationList, key ed25519.PrivateKey) ([]byte, error) {
	if id := KeyIDOf(key.Public().(ed25519.PublicKey)); id != c.KeyID {
		return nil, fmt.Errorf("list names key %s but the signing key is %s", c.KeyID, id)
	}
	ids := slices.Clone(c.Revoked)
	slices.Sort(ids)
	if len(slices.Compact(ids)) != len(c.Revoked) || !slices.Equal(ids, c.Revoked) {
		return nil, errors.New("revoked license IDs must be sorted and unique")
	}
	if c.Number == 0 {
		return nil, errors.New("revocation list numbers start at 1")
	}
	body := []byte("format: " + crlFormat + "\nkey-id: " + c.KeyID.String() + "\nnumber: " +
		strconv.FormatUint(c.Number, 10) + "\nissued: " + formatTime(c.Issued) + "\n")
	for _, id := range c.Revoked {
		if !isHexID(id) {
			return nil, fmt.Errorf("license ID %q is not 32 lower-case hex digits", id)
		}
		body = append(body, "revoked: "+id+"\n"...)
	}
	return crlDoc.seal(body, key), nil
}

// ParseRevocationList verifies and parses a revocation list signed by a
// key in trust.
func ParseRevocationList(data []byte, trust *Trust) (*RevocationList, error) {
	body, key, err := crlDoc.authenticate(data, trust)
	if err != nil {
		return nil, err
	}
	p := &bodyParser{rest: string(body), line: 1}
	p.field("format")
	p.field("key-id")
	c := &RevocationList{KeyID: key.ID}
	num := p.field("number")
	n, perr := strconv.ParseUint(num, 10, 64)
	if p.err == nil && (perr != nil || n == 0 || strconv.FormatUint(n, 10) != num) {
		p.fail("number %q is not a whole number from 1", num)
	}
	c.Number = n
	c.Issued = p.time(p.field("issued"))
	for v, ok := p.optional("revoked"); ok; v, ok = p.optional("revoked") {
		if !isHexID(v) || (len(c.Revoked) > 0 && c.Revoked[len(c.Revoked)-1] >= v) {
			p.fail("revoked license IDs must be 32 hex digits, sorted and unique")
			break
		}
		c.Revoked = append(c.Revoked, v)
	}
	if p.err == nil && p.load() {
		p.fail("unexpected field %q", p.name)
	}
	if p.err != nil {
		return nil, p.err
	}
	if !key.ValidAt(c.Issued) {
		return nil, fmt.Errorf("revocation list issued %s, %w %s", formatTime(c.Issued), ErrKeyNotValid, key.ID)
	}
	return c, nil
}
