package ledger

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// An Anchor names an audit record by its sequence number and its hash
// (all of it, or a prefix of at least MinAnchorHexDigits hex digits), as
// noted from a ledger's head at some moment. Verify with an anchor fails
// unless the chain still reaches that record with that hash: a deleted
// tail, an older copy restored, or a chain rewritten from an earlier
// point is then detected.
type Anchor struct {
	Seq  int64
	Hash []byte // 1 to 32 bytes: a prefix of the record's hash
}

const (
	// MinAnchorHexDigits is the shortest hash prefix an anchor may give:
	// 128 bits, as hard to match by a forged record as a full hash is
	// for any practical purpose.
	MinAnchorHexDigits = 32
	// shortAnchorHexDigits is how much of the hash AuditHead.String
	// shows, for an operator to note.
	shortAnchorHexDigits = 32
)

// String returns the short form of the head, "SEQ:HASH" with the first
// 32 hex digits of the hash, for an operator to note or publish.
func (h AuditHead) String() string {
	return strconv.FormatInt(h.Seq, 10) + ":" + hex.EncodeToString(h.Hash[:])[:shortAnchorHexDigits]
}

// Anchor returns the head as an anchor with its whole hash.
func (h AuditHead) Anchor() Anchor {
	return Anchor{Seq: h.Seq, Hash: h.Hash[:]}
}

// ParseAnchor parses "SEQ:HASH": a record number from 1 and 32 to 64
// lower-case hex digits of its hash.
func ParseAnchor(s string) (Anchor, error) {
	seq, hash, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 1 || strconv.FormatInt(n, 10) != seq {
		return Anchor{}, fmt.Errorf("anchor %q: want SEQ:HASH, as the ledger's head is printed (42:3f5a...)", printable(s))
	}
	if len(hash) < MinAnchorHexDigits || len(hash) > 64 || len(hash)%2 != 0 || strings.ToLower(hash) != hash {
		return Anchor{}, fmt.Errorf("anchor %q: the hash must be %d to 64 lower-case hex digits", printable(s), MinAnchorHexDigits)
	}
	b, err := hex.DecodeString(hash)
	if err != nil {
		return Anchor{}, fmt.Errorf("anchor %q: the hash is not hex", printable(s))
	}
	return Anchor{Seq: n, Hash: b}, nil
}

func (a Anchor) String() string {
	return strconv.FormatInt(a.Seq, 10) + ":" + hex.EncodeToString(a.Hash)
}
