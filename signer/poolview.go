package signer

import (
	"time"

	"github.com/olr-dev/olr/signer/ledger"
)

// PoolView is a pool as pages and scripts show it: its balance per
// module, the terms of a key issued from it now, and its keys. It is
// the JSON of olr-sign pool show --json.
type PoolView struct {
	Name     string    `json:"name"`
	Licensee string    `json:"licensee"`
	Product  string    `json:"product"`
	Created  time.Time `json:"created"`
	// At is when the balance was read: sources and keys expire.
	At      time.Time        `json:"at"`
	Modules []PoolModuleView `json:"modules"`
	// Languages, Expires and Maintenance are what a key issued now gets:
	// the languages of every live source, the first expiry and the first
	// end of maintenance among them (YYYY-MM-DD; empty: none).
	Languages   []string      `json:"languages"`
	Expires     string        `json:"expires,omitempty"`
	Maintenance string        `json:"maintenance,omitempty"`
	Sources     []PoolKeyView `json:"sources"`
	Issued      []PoolKeyView `json:"issued"`
}

// PoolModuleView is the balance of one module; quotas are numbers or
// "unlimited".
type PoolModuleView struct {
	Module    string       `json:"module"`
	Total     ledger.Quota `json:"total"`
	Allocated ledger.Quota `json:"allocated"`
	Available ledger.Quota `json:"available"`
}

// Pool key states, as PoolKeyView.State gives them.
const (
	// PoolKeyPooled: a source, its CALs in the pool.
	PoolKeyPooled = "pooled"
	// PoolKeyExpired: past its expiry; a source's CALs have left the
	// pool, an issued key's came back.
	PoolKeyExpired = "expired"
	// PoolKeyUnused: issued, never activated (or every license revoked).
	PoolKeyUnused = "unused"
	// PoolKeyInUse: issued and activated: a license is not revoked.
	PoolKeyInUse = "in use"
	// PoolKeyReleased: issued, then its CALs given back.
	PoolKeyReleased = "released"
)

// PoolKeyView is one key of a pool.
type PoolKeyView struct {
	Key         string                  `json:"license_key"`
	Licensee    string                  `json:"licensee"`
	Modules     map[string]ledger.Quota `json:"modules"`
	Languages   []string                `json:"languages"`
	Expires     string                  `json:"expires,omitempty"`
	Maintenance string                  `json:"maintenance,omitempty"`
	Added       time.Time               `json:"added"`
	State       string                  `json:"state"`
	Released    *time.Time              `json:"released,omitempty"`
}

// ViewPool returns the view of a pool read from the ledger.
func ViewPool(st *ledger.PoolState) *PoolView {
	v := &PoolView{
		Name: st.Name, Licensee: st.Licensee, Product: st.Product, Created: st.Created.UTC(), At: st.At.UTC(),
		Modules: []PoolModuleView{}, Languages: nonNil(st.Languages),
		Expires: dateText(st.Expires), Maintenance: dateText(st.Maintenance),
		Sources: []PoolKeyView{}, Issued: []PoolKeyView{},
	}
	for _, m := range st.Modules {
		v.Modules = append(v.Modules, PoolModuleView{Module: m.Name, Total: m.Total, Allocated: m.Allocated, Available: m.Available})
	}
	for i := range st.Sources {
		v.Sources = append(v.Sources, viewPoolKey(&st.Sources[i]))
	}
	for i := range st.Issued {
		v.Issued = append(v.Issued, viewPoolKey(&st.Issued[i]))
	}
	return v
}

func viewPoolKey(k *ledger.PoolKey) PoolKeyView {
	v := PoolKeyView{
		Key: k.Key, Licensee: k.Sold.Licensee, Modules: k.Sold.Modules, Languages: nonNil(k.Sold.Languages),
		Expires: dateText(k.Sold.Expires), Maintenance: dateText(k.Sold.Maintenance), Added: k.Added.UTC(),
	}
	if v.Modules == nil {
		v.Modules = map[string]ledger.Quota{}
	}
	switch {
	case !k.Released.IsZero():
		r := k.Released.UTC()
		v.State, v.Released = PoolKeyReleased, &r
	case !k.Live:
		v.State = PoolKeyExpired
	case k.Role == ledger.PoolSource:
		v.State = PoolKeyPooled
	case k.InUse > 0:
		v.State = PoolKeyInUse
	default:
		v.State = PoolKeyUnused
	}
	return v
}

func dateText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
