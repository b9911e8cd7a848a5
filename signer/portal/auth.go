package portal

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/olr-dev/olr/signer/ledger"
)

// ActionLogin is the audit record of a sign-in to the desk.
const ActionLogin = "portal.login"

type loginView struct {
	Next  string `json:"-"`
	Name  string `json:"-"`
	Error string `json:"error,omitempty"`
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if a, _ := s.account(r); a != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.render(w, r, nil, http.StatusOK, "login", loginView{Next: safeNext(r.URL.Query().Get("next"))})
}

// safeNext keeps a post-sign-in redirect on this site: a path, not a
// URL to somewhere else.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

// meView is the signed-in account, for GET /api/me and the sign-in
// answer.
type meView struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Expires is when the session ends at the latest.
	Expires time.Time `json:"session_expires"`
}

// login checks a name and password, within the per-account and
// per-address limits, and opens a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.requestError(w, r, nil, err)
		return
	}
	name, pw := strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	now := s.now()
	addr := clientAddr(r)
	wait := max(s.byName.blocked("name:"+name, now), s.byAddr.blocked("addr:"+addr, now))
	if wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.log.Warn("sign-in refused: too many failures", "account", name, "remote", addr)
		s.loginFailed(w, r, http.StatusTooManyRequests, name, next,
			"too many failed sign-ins: try again in "+(time.Duration(secs)*time.Second).String())
		return
	}
	a, ok := s.checkPassword(r.Context(), name, pw)
	if !ok {
		s.byName.fail("name:"+name, now)
		s.byAddr.fail("addr:"+addr, now)
		s.log.Warn("sign-in failed", "account", name, "remote", addr)
		s.loginFailed(w, r, http.StatusUnauthorized, name, next, "wrong name or password, or the account is disabled")
		return
	}
	s.byName.reset("name:" + name)
	setAccount(r, a)
	err := s.cfg.Issuer.Ledger.Update(r.Context(), a.Name, func(tx *ledger.Tx) error {
		return tx.Log(ActionLogin, a.Name, map[string]any{"remote": addr})
	})
	if err != nil {
		s.fail(w, r, nil, http.StatusInternalServerError, "cannot record the sign-in in the ledger: "+err.Error())
		return
	}
	token := s.sessions.open(a, now)
	http.SetCookie(w, &http.Cookie{
		Name: s.sessionCookie(), Value: token, Path: "/", HttpOnly: true, Secure: s.cfg.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.cfg.AbsoluteTimeout.Seconds()),
	})
	if isAPI(r) {
		writeJSON(w, http.StatusOK, meView{Name: a.Name, Role: a.Role, Expires: now.Add(s.cfg.AbsoluteTimeout).UTC()})
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) loginFailed(w http.ResponseWriter, r *http.Request, status int, name, next, msg string) {
	if isAPI(r) {
		writeJSON(w, status, apiError{Error: msg})
		return
	}
	s.render(w, r, nil, status, "login", loginView{Next: next, Name: name, Error: msg})
}

// checkPassword returns the account if name exists, is enabled and pw is
// its password. A missing name costs as much time as a wrong password.
func (s *Server) checkPassword(ctx context.Context, name, pw string) (*Account, bool) {
	if len(pw) > MaxPasswordLen {
		return nil, false
	}
	a, err := s.cfg.Accounts.Account(ctx, name)
	if err != nil && !errors.Is(err, ErrNoAccount) {
		s.log.Error("reading account", "account", name, "err", err)
	}
	hash := dummyHash()
	if err == nil {
		hash = a.PasswordHash
	}
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return nil, false
	}
	ok := VerifyPassword(hash, pw)
	<-s.hashing
	if err != nil || !ok || a.Disabled {
		return nil, false
	}
	return a, true
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if _, token := s.account(r); token != "" {
		s.sessions.close(token)
	}
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookie(), Value: "", Path: "/", HttpOnly: true,
		Secure: s.cfg.Secure, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	if isAPI(r) {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, a *Account) {
	if !isAPI(r) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	v := meView{Name: a.Name, Role: a.Role}
	if c, err := r.Cookie(s.sessionCookie()); err == nil {
		if ss := s.sessions.lookup(c.Value, s.now()); ss != nil {
			v.Expires = ss.created.Add(s.cfg.AbsoluteTimeout).UTC()
		}
	}
	writeJSON(w, http.StatusOK, v)
}
