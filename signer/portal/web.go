package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The web layer: who is signed in, what they may do, and rendering a
// view as a page or, under /api, as JSON.

// handlerFunc serves one page for a signed-in account.
type handlerFunc func(w http.ResponseWriter, r *http.Request, a *Account)

// isAPI reports whether r asked for JSON.
func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// sessionCookie names the session cookie. Under TLS the __Host- prefix
// makes the browser refuse it unless it is Secure, for this host only and
// for every path.
func (s *Server) sessionCookie() string {
	if s.cfg.Secure {
		return "__Host-olr_session"
	}
	return "olr_session"
}

// account returns the signed-in account of r, or nil. A session whose
// account was disabled or whose password changed since is ended.
func (s *Server) account(r *http.Request) (*Account, string) {
	c, err := r.Cookie(s.sessionCookie())
	if err != nil {
		return nil, ""
	}
	ss := s.sessions.lookup(c.Value, s.now())
	if ss == nil {
		return nil, ""
	}
	a, err := s.cfg.Accounts.Account(r.Context(), ss.account)
	if err != nil || a.Disabled || passwordTag(a.PasswordHash) != ss.pwTag {
		if err != nil && !errors.Is(err, ErrNoAccount) {
			s.log.Error("reading account", "account", ss.account, "err", err)
		}
		s.sessions.close(c.Value)
		return nil, ""
	}
	return a, c.Value
}

// authorize serves h to a signed-in account that has perm, with the
// request body capped at limit bytes (0: MaxFormBytes). A signed-out
// browser is sent to the sign-in page; an API client gets 401.
func (s *Server) authorize(perm Permission, limit int64, h handlerFunc) http.Handler {
	if limit == 0 {
		limit = MaxFormBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		a, _ := s.account(r)
		if a == nil {
			if isAPI(r) || r.Method != http.MethodGet {
				s.fail(w, r, nil, http.StatusUnauthorized, "not signed in (or the session ended): sign in first")
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		setAccount(r, a)
		if !a.Role.Allows(perm) {
			s.fail(w, r, a, http.StatusForbidden, "your role ("+string(a.Role)+") may not do this")
			return
		}
		h(w, r, a)
	})
}

// view is what every page gets: the account, the page's own data, and a
// message.
type view struct {
	Account *Account
	Title   string
	Nav     string
	Data    any
	Error   string
	Status  int
}

// render writes data as the named page, or as JSON for the API.
func (s *Server) render(w http.ResponseWriter, r *http.Request, a *Account, status int, name string, data any) {
	if isAPI(r) {
		writeJSON(w, status, data)
		return
	}
	t := s.pages[name]
	var buf bytes.Buffer
	v := view{Account: a, Title: pageTitles[name], Nav: name, Data: data, Status: status}
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("rendering page", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// apiError is the JSON body of every API error.
type apiError struct {
	Error string `json:"error"`
	// Rule names the issuing rule of a refusal.
	Rule string `json:"rule,omitempty"`
}

// fail answers with an error: JSON for the API, an error page otherwise.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, a *Account, status int, msg string) {
	if isAPI(r) {
		writeJSON(w, status, apiError{Error: msg})
		return
	}
	s.render(w, r, a, status, "error", errorView{Status: status, StatusText: http.StatusText(status), Message: msg})
}

type errorView struct {
	Status     int
	StatusText string
	Message    string
}

// requestError answers an error in reading a form or its body: 413 for a
// body over the limit, 400 otherwise.
func (s *Server) requestError(w http.ResponseWriter, r *http.Request, a *Account, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		s.fail(w, r, a, http.StatusRequestEntityTooLarge, "the upload is larger than "+sizeText(mbe.Limit)+": send fewer or smaller files")
		return
	}
	s.fail(w, r, a, http.StatusBadRequest, "cannot read the form: "+err.Error())
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// statusWriter records what a handler answered, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accountKey carries the signed-in account's name from authorize to the
// access log.
type accountKey struct{}

type accountSlot struct{ name string }

func setAccount(r *http.Request, a *Account) {
	if slot, ok := r.Context().Value(accountKey{}).(*accountSlot); ok {
		slot.name = a.Name
	}
}

// accessLog logs one structured line per request: method, path, status,
// size, duration, client address and account. Query strings are left
// out: they may hold a license key someone searched for.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		slot := &accountSlot{}
		r = r.WithContext(context.WithValue(r.Context(), accountKey{}, slot))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Int64("bytes", sw.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", clientAddr(r)), slog.String("account", slot.name))
	})
}

// clientAddr is the client's IP address, without the port: the key of
// the per-address sign-in limit. Headers such as X-Forwarded-For are not
// trusted: anyone can send them.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var pageTitles = map[string]string{
	"login": "Sign in", "inbox": "Inbox", "inspect": "Requests", "issued": "License issued",
	"keys": "Keys", "key": "Key", "license": "License", "crl": "Revocation list", "ledger": "Ledger",
	"audit": "Audit log", "accounts": "Accounts", "error": "Error", "imported": "Keys imported",
	"revoked": "License revoked", "pools": "Pools", "pool": "Pool",
}

// parsePages parses each page template together with the layout.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"date":     func(t time.Time) string { return fmtTime(t, time.DateOnly) },
		"datetime": func(t time.Time) string { return fmtTime(t, "2006-01-02 15:04:05 MST") },
		"can":      func(a *Account, p string) bool { return a != nil && a.Role.Allows(permNames[p]) },
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

var permNames = map[string]Permission{"read": PermRead, "inspect": PermInspect, "issue": PermIssue, "admin": PermAdmin}

func fmtTime(t time.Time, layout string) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(layout)
}
