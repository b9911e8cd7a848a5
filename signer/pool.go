package signer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

// License pools, as the License Management Portal keeps them: a
// partner's poolable keys converted into one stock of CALs per module,
// from which new OEM keys are issued for any number of servers. The
// ledger keeps the count and guarantees that a pool never lets out more
// than its sources hold (see package ledger); these are the vendor's
// rules on what may be pooled and how a new key is made, in the calls a
// command line and a web page both make.
//
// What may be pooled: OEM keys (the keys that activate offline), not
// expired, each in no other pool, with no license that is not revoked
// (never activated, or every license revoked), all sold to one licensee
// for one product (the pool's, fixed by its first key). A module a key
// has unlimited must be unlimited in every source that has it: a pool
// cannot add an unlimited quota to counted ones.
//
// A key issued from a pool is an OEM key of the pool's product, sold to
// the pool's licensee unless another is named. Its quotas come out of
// the pool's counted CALs; an unlimited quota is possible only for a
// module that every live source has unlimited. It carries the languages
// every live source has (or fewer), expires when the first live source
// expires, and its maintenance ends when the first source's does (none
// if a source has none): a new key never holds more than every key it
// was made from.

// Rules of pool refusals, beside the issuing rules.
const (
	// RulePoolOEMOnly: only OEM keys are pooled.
	RulePoolOEMOnly = "pool-oem-only"
	// RulePoolLicensee and RulePoolProduct: a pool holds the keys of
	// one licensee, for one product.
	RulePoolLicensee = "pool-licensee"
	RulePoolProduct  = "pool-product"
	// RulePoolKeyExpired: an expired key has no CALs left to pool.
	RulePoolKeyExpired = "pool-key-expired"
	// RulePoolMixedQuota: a module unlimited in one key and counted in
	// another.
	RulePoolMixedQuota = "pool-mixed-quota"
	// RulePoolKeyPooled: the key is already in a pool.
	RulePoolKeyPooled = "pool-key-pooled"
	// RulePoolKeyInUse: the key has a license that is not revoked.
	RulePoolKeyInUse = "pool-key-in-use"
	// RulePoolShort: the pool lacks the CALs a new key asks for.
	RulePoolShort = "pool-short"
	// RulePoolLanguage: a new key asks for a language the pool lacks.
	RulePoolLanguage = "pool-language"
	// RulePooledKey: a request for a key converted into a pool's CALs.
	RulePooledKey = "pooled-key"
	// RuleReleasedKey: a request for a key whose CALs went back to its
	// pool.
	RuleReleasedKey = "released-pool-key"
)

// Pools manages the license pools of a ledger. It is safe for
// concurrent use; each call is one ledger transaction.
type Pools struct {
	Ledger *ledger.Ledger
}

// PoolKeySpec is what a key issued from a pool asks for.
type PoolKeySpec struct {
	// Key names the new key; empty means a new random one (NewPoolKey).
	Key string
	// Licensee is who the key is sold to, the name its requests must
	// carry exactly; empty means the pool's licensee.
	Licensee string
	// Modules are the quotas the key takes from the pool (at least one).
	Modules map[string]ledger.Quota
	// Languages are the key's languages, among the pool's; nil means all
	// of the pool's.
	Languages []string
}

// Create records a new, empty pool.
func (ps *Pools) Create(ctx context.Context, operator, name string) (*ledger.PoolState, error) {
	var st *ledger.PoolState
	err := ps.Ledger.Update(ctx, operator, func(tx *ledger.Tx) error {
		if _, err := tx.CreatePool(name); err != nil {
			return err
		}
		var err error
		st, err = tx.Pool(name)
		return err
	})
	return st, poolError(err)
}

// Show returns the pool called name, with its balance now.
func (ps *Pools) Show(ctx context.Context, name string) (*ledger.PoolState, error) {
	var st *ledger.PoolState
	err := ps.Ledger.View(ctx, func(tx *ledger.Tx) (err error) {
		st, err = tx.Pool(name)
		return err
	})
	return st, err
}

// List returns every pool, by name, with its balance now.
func (ps *Pools) List(ctx context.Context) ([]*ledger.PoolState, error) {
	var out []*ledger.PoolState
	err := ps.Ledger.View(ctx, func(tx *ledger.Tx) error {
		pools, err := tx.Pools()
		if err != nil {
			return err
		}
		for _, p := range pools {
			st, err := tx.Pool(p.Name)
			if err != nil {
				return err
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// Add converts keys sold into CALs of the pool called name, all or none:
// from then on they no longer activate on their own. Keys that may not
// be pooled are refused (*RefusedError).
func (ps *Pools) Add(ctx context.Context, operator, name string, keys ...string) (*ledger.PoolState, error) {
	var st *ledger.PoolState
	err := ps.Ledger.Update(ctx, operator, func(tx *ledger.Tx) error {
		var err error
		if st, err = tx.Pool(name); err != nil {
			return err
		}
		sources := make([]*ledger.SoldKey, 0, len(st.Sources)+len(keys))
		for i := range st.Sources {
			sources = append(sources, &st.Sources[i].Sold)
		}
		for _, key := range keys {
			k, err := tx.Key(key)
			if errors.Is(err, ledger.ErrNotFound) {
				continue // the ledger says which, in its order
			}
			if err != nil {
				return err
			}
			if st.Product == "" { // the first key fixes them
				st.Licensee, st.Product = k.Licensee, k.Product
			}
			if err := poolable(k, &st.Pool, sources, tx.Now()); err != nil {
				return err
			}
			sources = append(sources, k)
		}
		if err := tx.AddToPool(name, keys...); err != nil {
			return err
		}
		st, err = tx.Pool(name)
		return err
	})
	return st, poolError(err)
}

// poolable applies the rules on what may join pool p, whose sources are
// sources.
func poolable(k *ledger.SoldKey, p *ledger.Pool, sources []*ledger.SoldKey, now time.Time) error {
	if k.Type != olr.TypeOEM {
		return refuse(RulePoolOEMOnly, "key %s is of type %s: only OEM keys are pooled (keys issued from a pool are OEM keys, which activate offline)", k.Key, k.Type)
	}
	if k.Licensee != p.Licensee {
		return refuse(RulePoolLicensee, "key %s was sold to %s, the keys of pool %s to %s: a pool holds one licensee's keys",
			k.Key, safetext.Quote(k.Licensee), safetext.Quote(p.Name), safetext.Quote(p.Licensee))
	}
	if k.Product != p.Product {
		return refuse(RulePoolProduct, "key %s is for product %s, the keys of pool %s for %s: a pool holds one product's CALs",
			k.Key, safetext.Quote(k.Product), safetext.Quote(p.Name), safetext.Quote(p.Product))
	}
	if !k.Expires.IsZero() && !now.Before(k.Expires.AddDate(0, 0, 1)) {
		return refuse(RulePoolKeyExpired, "key %s expired on %s: it has no CALs left to pool", k.Key, k.Expires.Format(time.DateOnly))
	}
	for _, s := range sources {
		for name, q := range k.Modules {
			if p, ok := s.Modules[name]; ok && (p == ledger.Unlimited) != (q == ledger.Unlimited) {
				return refuse(RulePoolMixedQuota, "module %s is %s in key %s and %s in key %s: a pool cannot add an unlimited quota to counted ones; pool them apart",
					name, q, k.Key, p, s.Key)
			}
		}
	}
	return nil
}

// IssueKey records a new OEM key whose quotas come out of the pool
// called name, and returns it with the pool's balance after. A pool that
// lacks the CALs asked for refuses with the numbers (a *RefusedError
// wrapping a *ledger.PoolShortError). Concurrent calls, from any number
// of processes, never let out more than the pool holds: the check and
// the record are one ledger transaction.
func (ps *Pools) IssueKey(ctx context.Context, operator, name string, spec *PoolKeySpec) (*ledger.SoldKey, *ledger.PoolState, error) {
	if len(spec.Modules) == 0 {
		return nil, nil, errors.New("a key issued from a pool needs at least one module")
	}
	var key *ledger.SoldKey
	var st *ledger.PoolState
	err := ps.Ledger.Update(ctx, operator, func(tx *ledger.Tx) error {
		pool, err := tx.Pool(name)
		if err != nil {
			return err
		}
		for _, l := range spec.Languages {
			if !slices.Contains(pool.Languages, l) {
				return refuse(RulePoolLanguage, "pool %s has no language %s: a key from it carries only the languages every source has (%s)",
					safetext.Quote(name), safetext.Quote(l), strings.Join(pool.Languages, ", "))
			}
		}
		for attempt := 0; ; attempt++ {
			key = newPoolKey(pool, spec)
			err = tx.IssueFromPool(name, key)
			// A random name already sold: draw another (80 bits make it
			// all but impossible).
			if spec.Key != "" || !errors.Is(err, ledger.ErrDuplicate) || attempt == 3 {
				break
			}
		}
		if err != nil {
			return err
		}
		st, err = tx.Pool(name)
		return err
	})
	if err != nil {
		return nil, nil, poolError(err)
	}
	return key, st, nil
}

// newPoolKey is the key spec asks for, on the pool's terms.
func newPoolKey(st *ledger.PoolState, spec *PoolKeySpec) *ledger.SoldKey {
	k := &ledger.SoldKey{
		Key: spec.Key, Licensee: spec.Licensee, Type: olr.TypeOEM, Product: st.Product,
		Modules: spec.Modules, Languages: spec.Languages,
		Expires: st.Expires, Maintenance: st.Maintenance,
	}
	if k.Key == "" {
		k.Key = NewPoolKey()
	}
	if k.Licensee == "" {
		k.Licensee = st.Licensee
	}
	if k.Languages == nil {
		k.Languages = slices.Clone(st.Languages)
	}
	return k
}

// keyAlphabet is 32 letters and digits that cannot be misread for one
// another (no 0, O, 1, I): keys are typed in by hand.
const keyAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// NewPoolKey returns a new random license key, OEM-XXXX-XXXX-XXXX-XXXX
// (80 bits).
func NewPoolKey() string {
	var b [16]byte
	rand.Read(b[:])
	out := []byte("OEM")
	for i, c := range b {
		if i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, keyAlphabet[c%32])
	}
	return string(out)
}

// Release gives the CALs of a key issued from a pool back to the pool,
// and returns the pool's balance after. The key must have no license
// that is not revoked: it was never activated, or its license was
// revoked. A released key never activates again.
func (ps *Pools) Release(ctx context.Context, operator, key string) (*ledger.PoolState, error) {
	var st *ledger.PoolState
	err := ps.Ledger.Update(ctx, operator, func(tx *ledger.Tx) error {
		if err := tx.ReleasePoolKey(key); err != nil {
			return err
		}
		m, err := tx.PoolMember(key)
		if err != nil {
			return err
		}
		st, err = tx.Pool(m.Pool)
		return err
	})
	return st, poolError(err)
}

// poolError turns the ledger's refusals of a pool change into the
// rules' refusals, keeping the ledger's error (and its numbers) inside.
func poolError(err error) error {
	var short *ledger.PoolShortError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &short):
		msg := fmt.Sprintf("pool %s lacks the CALs asked for:", safetext.Quote(short.Pool))
		for i, f := range short.Short {
			if i > 0 {
				msg += ";"
			}
			msg += fmt.Sprintf(" %s: %s asked, %s available (%s in the pool, %s allocated)", f.Name, f.Asked, f.Available, f.Total, f.Allocated)
		}
		return &RefusedError{Rule: RulePoolShort, Msg: msg, Err: err}
	case errors.Is(err, ledger.ErrPooled):
		return &RefusedError{Rule: RulePoolKeyPooled, Msg: ledgerText(err), Err: err}
	case errors.Is(err, ledger.ErrInUse):
		return &RefusedError{Rule: RulePoolKeyInUse,
			Msg: ledgerText(err) + ": a machine may hold one, so the key keeps its CALs; revoke them first (olr-sign revoke)", Err: err}
	}
	return err
}

// ledgerText is the ledger's message without its package prefix.
func ledgerText(err error) string { return strings.TrimPrefix(err.Error(), "ledger: ") }

// poolRefusal is the issuing rules' refusal of a request for a key in a
// pool, or nil: a source's CALs are the pool's, a released key's went
// back to it.
func poolRefusal(m *ledger.PoolMember) *RefusedError {
	switch {
	case m == nil:
		return nil
	case m.Role == ledger.PoolSource:
		return refuse(RulePooledKey, "the license key was converted into CALs of pool %s: it no longer activates on its own; activate a key issued from the pool (olr-sign pool issue-key)",
			safetext.Quote(m.Pool))
	case !m.Released.IsZero():
		return refuse(RuleReleasedKey, "the license key was issued from pool %s and released on %s: its CALs went back to the pool, and it no longer activates",
			safetext.Quote(m.Pool), m.Released.UTC().Format(time.DateOnly))
	}
	return nil
}
