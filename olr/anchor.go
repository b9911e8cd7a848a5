package olr

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// LedgerAnchor is the head of the vendor's ledger (its latest audit
// record's sequence number and hash), signed by the vendor's license
// signing key (head.olr). Kept away from the ledger, it lets a later
// check prove that the ledger still holds that record unchanged: that no
// tail was cut off and no older copy restored. The signature stops an
// anchor kept elsewhere from being forged along with the ledger.
type LedgerAnchor struct {
	KeyID  KeyID
	Issued time.Time
	Seq    uint64
	Hash   [32]byte
}

const (
	anchorFormat = "olr-ledger-anchor/v1"
	// MaxAnchorSize bounds a ledger anchor file; a real one is about
	// 400 bytes.
	MaxAnchorSize = 4 << 10
)

var anchorDoc = &signedDoc{name: "ledger anchor", begin: "-----BEGIN OLR LEDGER ANCHOR-----\n",
	end: "-----END OLR LEDGER ANCHOR-----\n", format: anchorFormat, max: MaxAnchorSize,
	label: "olr/v1/ledger-anchor-signature\x00"}

// SignLedgerAnchor signs a with key.
func SignLedgerAnchor(a *LedgerAnchor, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("signing key has the wrong size")
	}
	if id := KeyIDOf(key.Public().(ed25519.PublicKey)); id != a.KeyID {
		return nil, fmt.Errorf("anchor names key %s but the signing key is %s", a.KeyID, id)
	}
	if a.Seq == 0 {
		return nil, fmt.Errorf("a ledger anchor names a record, numbered from 1")
	}
	body := []byte("format: " + anchorFormat + "\nkey-id: " + a.KeyID.String() +
		"\nissued: " + formatTime(a.Issued) + "\nseq: " + strconv.FormatUint(a.Seq, 10) +
		"\nhash: " + hex.EncodeToString(a.Hash[:]) + "\n")
	return anchorDoc.seal(body, key), nil
}

// ParseLedgerAnchor verifies and parses a ledger anchor signed by a key
// in trust.
func ParseLedgerAnchor(data []byte, trust *Trust) (*LedgerAnchor, error) {
	body, key, err := anchorDoc.authenticate(data, trust)
	if err != nil {
		return nil, err
	}
	p := &bodyParser{rest: string(body), line: 1}
	p.field("format")
	p.field("key-id")
	a := &LedgerAnchor{KeyID: key.ID}
	a.Issued = p.time(p.field("issued"))
	seq := p.field("seq")
	n, perr := strconv.ParseUint(seq, 10, 63)
	if p.err == nil && (perr != nil || n == 0 || strconv.FormatUint(n, 10) != seq) {
		p.fail("seq %s is not a whole number from 1", quoteShort(seq))
	}
	a.Seq = n
	h := p.field("hash")
	if p.err == nil && (len(h) != 64 || hex.EncodeToString(mustHex(h)) != h) {
		p.fail("hash %s is not 64 lower-case hex digits", quoteShort(h))
	}
	if p.err == nil {
		copy(a.Hash[:], mustHex(h))
	}
	if p.err == nil && p.load() {
		p.fail("unexpected field %s", quoteShort(p.name))
	}
	if p.err != nil {
		return nil, p.err
	}
	if !key.ValidAt(a.Issued) {
		return nil, fmt.Errorf("ledger anchor issued %s, %w %s", formatTime(a.Issued), ErrKeyNotValid, key.ID)
	}
	return a, nil
}

// mustHex decodes s, or returns nil.
func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}
