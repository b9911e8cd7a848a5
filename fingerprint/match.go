package fingerprint

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// SaltSize is the size of the per-license salt that keys factor hashes.
const SaltSize = 32

// hashLabel separates factor hashes from every other SHA-256 use.
const hashLabel = "olr/v1/factor-hash\x00"

// Hash is the salted hash of one factor.
type Hash [sha256.Size]byte

// String returns the hash in unpadded standard base64, as licenses carry it.
func (h Hash) String() string { return base64.RawStdEncoding.EncodeToString(h[:]) }

// MarshalText encodes the hash as String does, for JSON reports.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// HashFactor returns SHA-256(label || salt || kind || 0x00 || value). The
// salt is random per license, so the same NIC hashes differently in two
// licenses and a leaked license links to no other; the kind is inside the
// hash so that a value cannot be moved from one kind to another.
func HashFactor(salt []byte, k Kind, value string) Hash {
	var buf []byte
	return hashFactor(&buf, salt, k, value)
}

// hashFactor is HashFactor with a buffer to reuse for the hashed bytes:
// one allocation for all of a fingerprint's factors, where writing each
// part to a hash.Hash made four per factor.
func hashFactor(buf *[]byte, salt []byte, k Kind, value string) Hash {
	b := append((*buf)[:0], hashLabel...)
	b = append(b, salt...)
	b = append(b, k...)
	b = append(b, 0)
	b = append(b, value...)
	*buf = b
	return sha256.Sum256(b)
}

// HashedFactor is a factor as a license records it: kind and salted hash.
type HashedFactor struct {
	Kind Kind
	Hash Hash
}

// Policy decides whether a machine still is the licensed machine. Each
// kind recorded in the license weighs Weights[kind] when at least one of
// its licensed values is present on the machine; the machine matches when
// the matched weight reaches Threshold percent of the recorded weight and
// every Required kind that the license recorded matched.
type Policy struct {
	Threshold int          // percent of the recorded weight, 1..100
	Weights   map[Kind]int // 0..1000 per kind; kinds absent weigh 0
	Required  []Kind       // kinds that must match when the license recorded them
}

// Policy bounds, checked by [Policy.Validate].
const (
	MaxWeight = 1000
)

// DefaultPolicy is the policy olr-sign uses unless the vendor chooses
// another. Stable hardware identities weigh most; IP addresses weigh
// almost nothing because DHCP and renumbering change them. With every
// kind present, a changed IP, one replaced NIC, a replaced disk or a
// replaced TPM still match; a clone that shares only the machine-id (and
// perhaps an address) does not, since 51% of the recorded weight is
// needed.
func DefaultPolicy() Policy {
	return Policy{
		Threshold: 51,
		Weights: map[Kind]int{
			KindTPMEK:         40,
			KindProductUUID:   30,
			KindBoardSerial:   20,
			KindProductSerial: 20,
			KindMachineID:     25,
			KindMAC:           25,
			KindDiskSerial:    15,
			KindIP:            1,
		},
	}
}

// Validate checks the policy's bounds.
func (p Policy) Validate() error {
	if p.Threshold < 1 || p.Threshold > 100 {
		return fmt.Errorf("match threshold %d is not a percentage from 1 to 100", p.Threshold)
	}
	for k, w := range p.Weights {
		if !k.Known() {
			return fmt.Errorf("match policy weighs unknown factor kind %q", k)
		}
		if w < 0 || w > MaxWeight {
			return fmt.Errorf("weight %d of %s is outside 0..%d", w, k, MaxWeight)
		}
	}
	for i, k := range p.Required {
		if !k.Known() {
			return fmt.Errorf("match policy requires unknown factor kind %q", k)
		}
		if slices.Contains(p.Required[:i], k) {
			return fmt.Errorf("match policy requires %s twice", k)
		}
	}
	return nil
}

// Binding ties a license to a machine: the salt, the salted hashes of the
// machine's factors and the policy that judges a later fingerprint.
type Binding struct {
	Salt    []byte
	Factors []HashedFactor // sorted by kind, then hash
	Policy  Policy
}

// Bind hashes the factors of fp with salt under policy p. It fails when no
// recorded factor carries weight, since such a binding could never match.
func Bind(fp *Fingerprint, salt []byte, p Policy) (Binding, error) {
	if len(salt) != SaltSize {
		return Binding{}, fmt.Errorf("salt is %d bytes, want %d", len(salt), SaltSize)
	}
	if err := p.Validate(); err != nil {
		return Binding{}, err
	}
	b := Binding{Salt: slices.Clone(salt), Policy: p}
	weight := 0
	seen := map[Kind]bool{}
	for _, f := range fp.Factors {
		hf := HashedFactor{Kind: f.Kind, Hash: HashFactor(salt, f.Kind, f.Value)}
		if slices.Contains(b.Factors, hf) {
			continue
		}
		b.Factors = append(b.Factors, hf)
		if !seen[f.Kind] {
			seen[f.Kind] = true
			weight += p.Weights[f.Kind]
		}
	}
	if weight == 0 {
		return Binding{}, errors.New("the fingerprint has no factor that the match policy weighs")
	}
	SortHashed(b.Factors)
	return b, nil
}

// SortHashed puts hashed factors in canonical order: by kind, then by the
// hash bytes (the order in which licenses list them).
func SortHashed(fs []HashedFactor) {
	slices.SortFunc(fs, CompareHashed)
}

// CompareHashed orders hashed factors by kind, then by hash bytes.
func CompareHashed(a, b HashedFactor) int {
	if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
		return c
	}
	return bytes.Compare(a.Hash[:], b.Hash[:])
}

// Status is the outcome for one factor in a [Report].
type Status string

// Factor statuses.
const (
	Matched Status = "matched" // licensed and present
	Changed Status = "changed" // licensed, and the machine has another value of that kind instead
	Missing Status = "missing" // licensed, and the machine has no value of that kind left to pair it with
	New     Status = "new"     // present on the machine, not licensed
)

// Entry reports one factor. Value and Source are known only for factors
// present on the machine (matched, changed, new): a license holds hashes,
// never raw values.
type Entry struct {
	Kind   Kind   `json:"kind"`
	Status Status `json:"status"`
	Hash   Hash   `json:"hash,omitzero"`    // licensed hash (matched, changed, missing)
	Value  string `json:"value,omitempty"`  // value on this machine (matched, changed, new)
	Source string `json:"source,omitempty"` // where that value was read
}

// KindResult sums up one kind recorded in the license.
type KindResult struct {
	Kind     Kind `json:"kind"`
	Weight   int  `json:"weight"`
	Matched  bool `json:"matched"`
	Required bool `json:"required,omitempty"`
}

// Report explains a match: per factor, per kind, and the score.
type Report struct {
	Entries   []Entry      `json:"factors"`
	Kinds     []KindResult `json:"kinds"`
	Score     int          `json:"score"`     // matched weight
	Total     int          `json:"total"`     // recorded weight
	Threshold int          `json:"threshold"` // percent of Total needed
	// RequiredUnmatched lists required kinds the license recorded that
	// did not match; any makes the match fail.
	RequiredUnmatched []Kind `json:"required_unmatched,omitempty"`
	// Pass is the verdict.
	Pass bool `json:"pass"`
	// Partial reports that some licensed hardware factor that the policy
	// weighs still matches (not an IP address, which is shared by chance,
	// nor the machine-id, which every clone of an image shares, nor a kind
	// the policy ignores): the machine drifted rather
	// than being another machine. Only a partial match can earn a grace
	// period.
	Partial bool `json:"partial"`
}

// Needed returns the weight still missing for the match to pass on
// score, or 0 when the score is enough.
func (r *Report) Needed() int {
	need := r.PassScore()
	if r.Score >= need {
		return 0
	}
	return need - r.Score
}

// Match compares the machine's fingerprint with the binding.
func (b *Binding) Match(fp *Fingerprint) *Report {
	r := &Report{Threshold: b.Policy.Threshold}
	current := make([]HashedFactor, len(fp.Factors))
	buf := make([]byte, 0, 256)
	for i, f := range fp.Factors {
		current[i] = HashedFactor{Kind: f.Kind, Hash: hashFactor(&buf, b.Salt, f.Kind, f.Value)}
	}
	r.Entries = make([]Entry, 0, len(b.Factors)+len(fp.Factors))
	used := make([]bool, len(current))
	// unmatched licensed factors per kind, for pairing as "changed"
	var pending []HashedFactor
	for _, lf := range b.Factors {
		kr := kindResult(r, lf.Kind, b.Policy)
		found := false
		for i, cf := range current {
			if !used[i] && cf == lf {
				used[i], found = true, true
				kr.Matched = true
				f := fp.Factors[i]
				r.Entries = append(r.Entries, Entry{Kind: lf.Kind, Status: Matched, Hash: lf.Hash, Value: f.Value, Source: f.Source})
				break
			}
		}
		if !found {
			pending = append(pending, lf)
		}
	}
	for _, lf := range pending {
		paired := false
		for i, cf := range current {
			if !used[i] && cf.Kind == lf.Kind {
				used[i], paired = true, true
				f := fp.Factors[i]
				r.Entries = append(r.Entries, Entry{Kind: lf.Kind, Status: Changed, Hash: lf.Hash, Value: f.Value, Source: f.Source})
				break
			}
		}
		if !paired {
			r.Entries = append(r.Entries, Entry{Kind: lf.Kind, Status: Missing, Hash: lf.Hash})
		}
	}
	for i, f := range fp.Factors {
		if !used[i] {
			r.Entries = append(r.Entries, Entry{Kind: f.Kind, Status: New, Value: f.Value, Source: f.Source})
		}
	}
	slices.SortStableFunc(r.Entries, func(a, b Entry) int { return strings.Compare(string(a.Kind), string(b.Kind)) })
	for _, kr := range r.Kinds {
		r.Total += kr.Weight
		if kr.Matched {
			r.Score += kr.Weight
			if kr.Weight > 0 && kr.Kind != KindIP && kr.Kind != KindMachineID {
				r.Partial = true
			}
		} else if kr.Required {
			r.RequiredUnmatched = append(r.RequiredUnmatched, kr.Kind)
		}
	}
	r.Pass = r.Total > 0 && r.Score*100 >= r.Threshold*r.Total && len(r.RequiredUnmatched) == 0
	return r
}

// kindResult returns the report's entry for kind k, adding it on first use.
func kindResult(r *Report, k Kind, p Policy) *KindResult {
	for i := range r.Kinds {
		if r.Kinds[i].Kind == k {
			return &r.Kinds[i]
		}
	}
	r.Kinds = append(r.Kinds, KindResult{Kind: k, Weight: p.Weights[k], Required: slices.Contains(p.Required, k)})
	return &r.Kinds[len(r.Kinds)-1]
}

// Remedy returns the recorded kinds that, matching again, would make a
// failed match pass: every required kind that did not match, then the
// heaviest unmatched kinds until the score reaches the threshold. It
// returns nil for a match that passes, and for one no remedy can save.
func (r *Report) Remedy() []KindResult {
	if r.Pass {
		return nil
	}
	var out []KindResult
	score := r.Score
	var rest []KindResult
	for _, k := range r.Kinds {
		switch {
		case k.Matched:
		case k.Required:
			out = append(out, k)
			score += k.Weight
		default:
			rest = append(rest, k)
		}
	}
	slices.SortStableFunc(rest, func(a, b KindResult) int { return b.Weight - a.Weight })
	need := r.PassScore()
	for _, k := range rest {
		if score >= need {
			break
		}
		out = append(out, k)
		score += k.Weight
	}
	if score < need {
		return nil
	}
	return out
}

// PassScore is the smallest score that passes: Threshold percent of
// Total, rounded up.
func (r *Report) PassScore() int { return (r.Threshold*r.Total + 99) / 100 }
