// Package page is the product's License page: an [http.Handler] that a
// product mounts under its admin console (and that olr serve runs on its
// own) to show the installed license, write an offline license request
// (as a file, as text and as QR codes) and import the vendor's answer.
//
// It shows what the vendor's customers know from the License page of
// their backup server: "License Details" with the quota used and
// available per module, "Offline License Request" with a Generate button
// that saves req.olr, "Import License" for license.olr, and license
// errors at the top of every view with the deadline before the product
// stops. Every page has a JSON twin under api/ for scripts and tests.
//
// The page is server-rendered from html/template with embedded CSS and a
// few lines of JS, so it works on an air-gapped machine; it sends a strict
// Content-Security-Policy, refuses cross-origin form posts
// ([http.CrossOriginProtection]), bounds uploads and logs with log/slog.
// It does not authenticate users: mount it behind the console's login, or
// run olr serve, which asks for a token.
package page

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"filippo.io/age"

	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/store"
)

// Limits of the handler.
const (
	// MaxUpload bounds the body of an import: the largest revocation list,
	// with room for the form around it.
	MaxUpload = olr.MaxCRLSize + 64<<10
	// maxForm bounds the body of any other form.
	maxForm = 64 << 10
	// requestTimeout bounds the work of one request, fingerprinting
	// included.
	requestTimeout = 60 * time.Second
)

// Product is one licensed product on the machine, shown as one tab. A
// machine holds one license per product.
type Product struct {
	// Name is the product as licenses name it, e.g. "backup-server".
	Name string
	// Title labels the tab, e.g. "Backup"; Name when empty.
	Title string
	// StateDir holds this product's license; default: Config.StateDir for
	// the first product, a subdirectory named after the product for the
	// others.
	StateDir string
	// Usage returns how much of a module is in use; default Config.Usage.
	Usage func(module string) (int64, error)
	// Modules are the modules the product counts, shown even when the
	// license lacks them (an upgrade that uses a module not bought).
	Modules []string
}

// Config configures a Handler.
type Config struct {
	// Trust is the vendor's trust bundle, which the product embeds.
	Trust *olr.Trust
	// StateDir is the state directory (store.DefaultDir() for olr's).
	StateDir string
	// Products are the products on this machine, at least one.
	Products []Product
	// Vendor holds the vendor's request recipients (vendor.key.recipient).
	Vendor []age.Recipient
	// Usage returns the current usage of a module, for every product
	// without its own.
	Usage func(module string) (int64, error)
	// Quota is the grace policy for usage above the license's quotas.
	Quota QuotaPolicy
	// Machine reads this machine: its fingerprint, and its TPM for
	// TPM-bound licenses and requests. Default: fingerprint/machine's
	// Collect with its defaults, exactly as olr request reads it.
	Machine func(ctx context.Context) (*machine.Machine, error)
	// OnAlert is called once for every new license error (see Alert),
	// from within the check that found it: it must return quickly, and
	// hand slow work (mail, a command) to another goroutine.
	OnAlert func(ctx context.Context, a Alert)
	// Logger receives the page's and the monitor's logs; default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Tool names the software that writes requests; default "olr page".
	Tool string
}

// Handler serves the License page. Create it with New.
type Handler struct {
	cfg      Config
	products []*product
	handler  http.Handler
	log      *slog.Logger
	tmpl     *template.Template
	monitor  *Monitor
}

type product struct {
	Product
	store *store.Store
}

//go:embed assets
var assets embed.FS

// New checks cfg and returns the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Trust == nil {
		return nil, errors.New("page: no trust bundle")
	}
	if len(cfg.Products) == 0 {
		return nil, errors.New("page: no product")
	}
	if len(cfg.Vendor) == 0 {
		return nil, errors.New("page: no vendor recipient")
	}
	if cfg.StateDir == "" {
		return nil, errors.New("page: no state directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tool == "" {
		cfg.Tool = "olr page"
	}
	if cfg.Machine == nil {
		cfg.Machine = func(ctx context.Context) (*machine.Machine, error) {
			return machine.Collect(ctx, machine.Options{})
		}
	}
	cfg.Quota = cfg.Quota.withDefaults()
	h := &Handler{cfg: cfg, log: cfg.Logger}
	for i, p := range cfg.Products {
		if !isName(p.Name) { // which also makes it a valid license field
			return nil, fmt.Errorf("page: product name %q: want lower-case letters, digits and '-'", p.Name)
		}
		if slices.ContainsFunc(cfg.Products[:i], func(q Product) bool { return q.Name == p.Name }) {
			return nil, fmt.Errorf("page: product %s listed twice", p.Name)
		}
		if p.Title == "" {
			p.Title = p.Name
		}
		if p.StateDir == "" {
			p.StateDir = cfg.StateDir
			if i > 0 {
				p.StateDir = filepath.Join(cfg.StateDir, p.Name)
			}
		}
		if p.Usage == nil {
			p.Usage = cfg.Usage
		}
		st := store.Open(p.StateDir)
		st.Clock = cfg.Now
		h.products = append(h.products, &product{Product: p, store: st})
	}
	tmpl, err := template.New("").Funcs(funcs).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, err
	}
	h.tmpl = tmpl
	h.monitor = &Monitor{h: h}
	h.routes()
	return h, nil
}

// Monitor returns the handler's license monitor, for a product that
// checks its license and quotas on a timer.
func (h *Handler) Monitor() *Monitor { return h.monitor }

func (h *Handler) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /{$}", h.servePage)
	m.HandleFunc("POST /request", h.serveRequest)
	m.HandleFunc("GET /request/req.olr", h.serveRequestFile)
	m.HandleFunc("GET /request/qr/{n}", h.serveQR)
	m.HandleFunc("POST /import", h.serveImport)
	m.HandleFunc("GET /api/status", h.apiStatus)
	m.HandleFunc("GET /api/request", h.apiPending)
	m.HandleFunc("POST /api/request", h.apiRequest)
	m.HandleFunc("POST /api/import", h.apiImport)
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(h.denyCrossOrigin))
	h.handler = csrf.Handler(m)
}

// ServeHTTP serves the page with its security headers, a time bound and
// a log line per request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.cfg.Now()
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	h.handler.ServeHTTP(rec, r.WithContext(ctx))
	h.log.LogAttrs(ctx, slog.LevelInfo, "license page", slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", rec.code),
		slog.Duration("took", h.cfg.Now().Sub(start)))
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (h *Handler) denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	h.log.Warn("license page: cross-origin request refused", "method", r.Method, "path", r.URL.Path,
		"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	h.fail(w, r, http.StatusForbidden, &Problem{
		Title:   "Request refused",
		Message: "this form was sent from another site, or the browser did not say where it came from",
		Hint:    "open the License page itself and use its buttons",
	})
}

// productOf returns the product a request names (path, form or query
// "product"), the first one by default.
func (h *Handler) productOf(r *http.Request) (*product, error) {
	// Every URL of the page is relative to where the product mounted
	// it, one level deep; the product is a query parameter.
	name := r.URL.Query().Get("product")
	if name == "" && r.Form != nil {
		name = r.Form.Get("product")
	}
	return h.product(name)
}

// product returns the named product, the first one for "".
func (h *Handler) product(name string) (*product, error) {
	if name == "" {
		return h.products[0], nil
	}
	for _, p := range h.products {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, &Problem{Title: "Unknown product", Message: fmt.Sprintf("this machine has no product %q", clip(name)),
		Hint: "choose one of the tabs", code: http.StatusNotFound}
}

func isName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// clip bounds customer-controlled text that goes into a message.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return s
}

// hostname names the machine in requests, as olr request does.
func hostname() string {
	name, _ := os.Hostname()
	if olr.CheckText(name) != nil {
		return "unknown"
	}
	return name
}
