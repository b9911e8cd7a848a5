package portal

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/olr-dev/olr/internal/webserve"
	"github.com/olr-dev/olr/signer"
)

//go:embed templates static
var assets embed.FS

// Bounds on what a client may send, each checked before the work it
// bounds.
const (
	// MaxUploadBytes bounds one inbox submission: many requests (each at
	// most olr.MaxRequestSize) or pasted QR parts.
	MaxUploadBytes = 8 << 20
	// MaxUploadFiles bounds the request files of one submission.
	MaxUploadFiles = 64
	// MaxImportBytes bounds a sales export uploaded to import keys.
	MaxImportBytes = 32 << 20
	// MaxFormBytes bounds every other request body.
	MaxFormBytes = 64 << 10
)

// Config is what a support desk serves.
type Config struct {
	// Issuer holds the vendor's keys, unlocked, and the ledger.
	Issuer *signer.Issuer
	// Accounts are the desk's accounts.
	Accounts Accounts
	// Options are the vendor's choices for every license issued here
	// (product, grace period, match policy); Transfer and AllowWeak come
	// from each request's form.
	Options signer.IssueOptions
	// Logger receives the access log and errors; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Secure marks cookies Secure and sends HSTS: set it when serving
	// over TLS.
	Secure bool
	// IdleTimeout and AbsoluteTimeout bound sessions (zero: the
	// defaults).
	IdleTimeout, AbsoluteTimeout time.Duration
	// AccountFailures and AddressFailures are how many failed sign-ins
	// an account or a client address may make in FailureWindow (zero:
	// the defaults).
	AccountFailures, AddressFailures int
	FailureWindow                    time.Duration
}

// Server is the support desk: an http.Handler.
type Server struct {
	cfg      Config
	log      *slog.Logger
	pages    map[string]*template.Template
	sessions *sessionStore
	byName   *limiter
	byAddr   *limiter
	// hashing bounds the argon2id computations running at once: each
	// takes 64 MiB.
	hashing chan struct{}
	handler http.Handler
}

// New returns the support desk serving cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Issuer == nil || cfg.Issuer.Keys == nil || cfg.Issuer.Ledger == nil {
		return nil, errors.New("portal: the issuer needs keys and a ledger")
	}
	if cfg.Accounts == nil {
		return nil, errors.New("portal: no account store")
	}
	if err := cfg.Options.Validate(); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.IdleTimeout = cmpOr(cfg.IdleTimeout, DefaultIdleTimeout)
	cfg.AbsoluteTimeout = cmpOr(cfg.AbsoluteTimeout, DefaultAbsoluteTimeout)
	cfg.AccountFailures = cmpOr(cfg.AccountFailures, DefaultAccountFailures)
	cfg.AddressFailures = cmpOr(cfg.AddressFailures, DefaultAddressFailures)
	cfg.FailureWindow = cmpOr(cfg.FailureWindow, DefaultFailureWindow)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: log, pages: pages,
		sessions: newSessionStore(cfg.IdleTimeout, cfg.AbsoluteTimeout),
		byName:   newLimiter(cfg.AccountFailures, cfg.FailureWindow),
		byAddr:   newLimiter(cfg.AddressFailures, cfg.FailureWindow),
		hashing:  make(chan struct{}, 2),
	}
	s.handler = s.routes()
	return s, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// ServeHTTP serves the desk.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// routes registers every page and its JSON twin under /api, each behind
// the permission it needs, and wraps them in the layers every request
// goes through: access log, security headers, cross-origin protection.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticFiles(static)))

	page := func(pattern string, perm Permission, limit int64, h handlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		wrapped := s.authorize(perm, limit, h)
		mux.Handle(method+" "+path, wrapped)
		mux.Handle(method+" /api"+path, wrapped)
	}
	mux.HandleFunc("GET /login", s.loginPage)
	mux.Handle("POST /login", s.limitBody(MaxFormBytes, http.HandlerFunc(s.login)))
	mux.Handle("POST /api/login", s.limitBody(MaxFormBytes, http.HandlerFunc(s.login)))
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("POST /api/logout", s.logout)

	page("GET /{$}", PermRead, 0, s.inboxPage)
	page("GET /me", PermRead, 0, s.me)
	page("POST /inspect", PermInspect, MaxUploadBytes, s.inspect)
	page("POST /issue", PermIssue, MaxUploadBytes, s.issue)
	page("GET /keys", PermRead, 0, s.keysPage)
	page("POST /keys/import", PermAdmin, MaxImportBytes, s.importKeys)
	page("GET /keys/{key}", PermRead, 0, s.keyPage)
	page("GET /licenses/{id}", PermRead, 0, s.licensePage)
	page("GET /licenses/{id}/license.olr", PermRead, 0, s.licenseFile)
	page("POST /licenses/{id}/revoke", PermAdmin, MaxFormBytes, s.revoke)
	page("GET /crl", PermRead, 0, s.crlPage)
	page("POST /crl", PermAdmin, MaxFormBytes, s.publishCRL)
	page("GET /ledger", PermRead, 0, s.ledgerPage)
	page("GET /audit", PermRead, 0, s.auditPage)
	page("GET /accounts", PermAdmin, 0, s.accountsPage)
	page("GET /pools", PermRead, 0, s.poolsPage)
	page("POST /pools", PermAdmin, MaxFormBytes, s.createPool)
	page("GET /pools/{name}", PermRead, 0, s.poolPage)
	page("POST /pools/{name}/add", PermAdmin, MaxFormBytes, s.addToPool)
	page("POST /pools/{name}/issue-key", PermAdmin, MaxFormBytes, s.issuePoolKey)
	page("POST /pools/{name}/release", PermAdmin, MaxFormBytes, s.releasePoolKey)

	var h http.Handler = mux
	h = http.NewCrossOriginProtection().Handler(h)
	h = s.securityHeaders(h)
	return s.accessLog(h)
}

// staticFiles serves the embedded assets, which change only with the
// binary, so they may be cached for a day.
func staticFiles(fsys fs.FS) http.Handler {
	fh := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || r.URL.Path == "" {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fh.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy allows the page's own style sheet, script and
// images, forms that post to the desk itself, and nothing else: no
// inline script or style, no frames, no other origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if s.cfg.Secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps the request body at n bytes.
func (s *Server) limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// Serve serves srv (whose Handler is a Server) on ln until ctx is done,
// then shuts it down gracefully, giving requests in flight up to grace to
// finish. certFile and keyFile, when set, serve TLS.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, certFile, keyFile string, grace time.Duration) error {
	return webserve.Serve(ctx, srv, ln, certFile, keyFile, grace)
}
