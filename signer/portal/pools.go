package portal

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
)

// License pools (signer.Pools): a partner's OEM keys converted into CALs
// that new keys share. Everyone may look; an admin creates pools, adds
// keys sold, issues keys from a pool and releases them.

type poolsView struct {
	Pools    []*signer.PoolView `json:"pools"`
	CanAdmin bool               `json:"can_admin"`
}

func (s *Server) pools() *signer.Pools { return &signer.Pools{Ledger: s.cfg.Issuer.Ledger} }

func (s *Server) poolsPage(w http.ResponseWriter, r *http.Request, a *Account) {
	list, err := s.pools().List(r.Context())
	if err != nil {
		s.internalError(w, r, a, err)
		return
	}
	v := poolsView{Pools: []*signer.PoolView{}, CanAdmin: a.Role.Allows(PermAdmin)}
	for _, st := range list {
		v.Pools = append(v.Pools, signer.ViewPool(st))
	}
	s.render(w, r, a, http.StatusOK, "pools", v)
}

type poolView struct {
	Pool *signer.PoolView `json:"pool"`
	// Issued is the key just issued from the pool, if any.
	Issued   *ledger.SoldKey `json:"issued_key,omitempty"`
	CanAdmin bool            `json:"can_admin"`
}

func poolURL(name string) string { return "/pools/" + url.PathEscape(name) }

func (s *Server) poolPage(w http.ResponseWriter, r *http.Request, a *Account) {
	st, err := s.pools().Show(r.Context(), r.PathValue("name"))
	if err != nil {
		s.poolError(w, r, a, err)
		return
	}
	s.render(w, r, a, http.StatusOK, "pool", poolView{Pool: signer.ViewPool(st), CanAdmin: a.Role.Allows(PermAdmin)})
}

// poolError answers a pool operation's error: 404 for a pool or key the
// ledger lacks, 409 for a refusal (with its rule), 400 for bad input.
func (s *Server) poolError(w http.ResponseWriter, r *http.Request, a *Account, err error) {
	var refused *signer.RefusedError
	var ve *ledger.ValidationError
	switch {
	case errors.As(err, &refused):
		if isAPI(r) {
			writeJSON(w, http.StatusConflict, apiError{Error: refused.Error(), Rule: refused.Rule})
			return
		}
		s.fail(w, r, a, http.StatusConflict, refused.Error())
	case errors.Is(err, ledger.ErrNotFound):
		s.fail(w, r, a, http.StatusNotFound, strings.TrimPrefix(err.Error(), "ledger: ")+" (names and keys are case sensitive)")
	case errors.Is(err, ledger.ErrDuplicate), errors.As(err, &ve):
		s.fail(w, r, a, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "ledger: "))
	default:
		s.internalError(w, r, a, err)
	}
}

// poolDone shows the pool after a change: its page, or its JSON.
func (s *Server) poolDone(w http.ResponseWriter, r *http.Request, a *Account, st *ledger.PoolState, issued *ledger.SoldKey) {
	v := poolView{Pool: signer.ViewPool(st), Issued: issued, CanAdmin: true}
	if !isAPI(r) && issued == nil {
		http.Redirect(w, r, poolURL(st.Name), http.StatusSeeOther)
		return
	}
	s.render(w, r, a, http.StatusOK, "pool", v)
}

// createPool makes a new, empty pool (form field "name").
func (s *Server) createPool(w http.ResponseWriter, r *http.Request, a *Account) {
	if err := r.ParseForm(); err != nil {
		s.requestError(w, r, a, err)
		return
	}
	st, err := s.pools().Create(r.Context(), a.Name, strings.TrimSpace(r.PostForm.Get("name")))
	if err != nil {
		s.poolError(w, r, a, err)
		return
	}
	s.poolDone(w, r, a, st, nil)
}

// splitList splits a form field that lists items one per line or
// separated by spaces or commas.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t' })
}

// addToPool converts keys sold (form field "keys": one per line or
// separated by spaces or commas) into the pool's CALs.
func (s *Server) addToPool(w http.ResponseWriter, r *http.Request, a *Account) {
	if err := r.ParseForm(); err != nil {
		s.requestError(w, r, a, err)
		return
	}
	keys := splitList(r.PostForm.Get("keys"))
	if len(keys) == 0 {
		s.fail(w, r, a, http.StatusBadRequest, "no key: give the license keys sold to add to the pool")
		return
	}
	st, err := s.pools().Add(r.Context(), a.Name, r.PathValue("name"), keys...)
	if err != nil {
		s.poolError(w, r, a, err)
		return
	}
	s.poolDone(w, r, a, st, nil)
}

// issuePoolKey records a new OEM key whose quotas come out of the pool.
// Form fields: "modules" (NAME=QUOTA, one per line or separated by
// spaces or commas), and optionally "licensee", "languages" and "key".
func (s *Server) issuePoolKey(w http.ResponseWriter, r *http.Request, a *Account) {
	if err := r.ParseForm(); err != nil {
		s.requestError(w, r, a, err)
		return
	}
	f := r.PostForm
	spec := &signer.PoolKeySpec{Key: strings.TrimSpace(f.Get("key")), Licensee: strings.TrimSpace(f.Get("licensee")), Modules: map[string]ledger.Quota{}}
	for _, m := range splitList(f.Get("modules")) {
		name, qs, ok := strings.Cut(m, "=")
		q, err := olr.ParseQuota(qs)
		switch {
		case !ok || !olr.ValidModuleName(name):
			s.fail(w, r, a, http.StatusBadRequest, "module "+safetext.Quote(m)+": want NAME=QUOTA, such as obm=30 or mobile=unlimited")
			return
		case err != nil:
			s.fail(w, r, a, http.StatusBadRequest, "module "+safetext.Quote(m)+": "+err.Error())
			return
		}
		if _, dup := spec.Modules[name]; dup {
			s.fail(w, r, a, http.StatusBadRequest, "module "+name+" is given twice")
			return
		}
		spec.Modules[name] = ledger.Quota(q)
	}
	if langs := splitList(f.Get("languages")); len(langs) > 0 {
		spec.Languages = langs
	}
	k, st, err := s.pools().IssueKey(r.Context(), a.Name, r.PathValue("name"), spec)
	if err != nil {
		s.poolError(w, r, a, err)
		return
	}
	s.poolDone(w, r, a, st, k)
}

// releasePoolKey gives the CALs of a key issued from the pool back to it
// (form field "key").
func (s *Server) releasePoolKey(w http.ResponseWriter, r *http.Request, a *Account) {
	if err := r.ParseForm(); err != nil {
		s.requestError(w, r, a, err)
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("key"))
	ps := s.pools()
	var m *ledger.PoolMember
	err := s.cfg.Issuer.Ledger.View(r.Context(), func(tx *ledger.Tx) (err error) {
		m, err = tx.PoolMember(key)
		return err
	})
	if err != nil {
		s.poolError(w, r, a, err)
		return
	}
	if m.Pool != r.PathValue("name") {
		s.fail(w, r, a, http.StatusBadRequest, "key "+safetext.Quote(key)+" belongs to pool "+safetext.Quote(m.Pool))
		return
	}
	st, err := ps.Release(r.Context(), a.Name, key)
	if err != nil {
		s.poolError(w, r, a, err)
		return
	}
	s.poolDone(w, r, a, st, nil)
}
