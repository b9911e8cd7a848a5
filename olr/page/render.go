package page

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"time"

	"github.com/olr-dev/olr/olr"
)

// flash is the outcome of a form, shown in its section.
type flash struct {
	Section string // "request" or "import"
	Message string
	Problem *Problem
}

// view is what the page template renders.
type view struct {
	*Status
	Products []*product
	Flash    *flash
	Pending  *Pending
	// Generated is set right after Generate: the page offers the download.
	Generated bool
	// MaxFile is the largest file an import takes (a revocation list);
	// the upload limit adds room for the form around it.
	MaxFile int64
}

var funcs = template.FuncMap{
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"ptime": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format(shownTime)
	},
	"unix":  func(t *time.Time) int64 { return t.Unix() },
	"day":   lastDay,
	"deref": func(p *int64) int64 { return *p },
	"kib":   func(n int64) int64 { return n >> 10 },
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	p, err := h.productOf(r)
	if err != nil {
		h.fail(w, r, 0, err)
		return
	}
	h.render(w, r, p, http.StatusOK, nil)
}

// render shows the page of p, with the outcome of a form when f is set.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, p *product, code int, f *flash) {
	if code == 0 {
		code = http.StatusUnprocessableEntity
		if f != nil && f.Problem != nil && f.Problem.code != 0 {
			code = f.Problem.code
		}
	}
	s := h.monitor.check(r.Context(), p)
	v := &view{Status: s, Products: h.products, Flash: f, Generated: r.URL.Query().Get("generated") != "", MaxFile: olr.MaxCRLSize}
	if pend, _, err := h.pendingWithCodes(p); err == nil && pend != nil && (s.License == nil || s.License.RequestID != pend.ID) {
		v.Pending = pend
	}
	if err := h.writeHTML(w, code, "page.html", v); err != nil {
		h.log.ErrorContext(r.Context(), "license page: template", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// writeHTML renders the template name with data and sends it with code;
// nothing is sent when the template fails.
func (h *Handler) writeHTML(w http.ResponseWriter, code int, name string, data any) error {
	var b bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
	return nil
}

// fail shows an error page for a request that has no product page to
// show it on.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	p := asProblem(err)
	if code == 0 {
		code = p.status()
	}
	if h.writeHTML(w, code, "error.html", p) != nil {
		http.Error(w, p.Message, code)
	}
}

// status is the HTTP status of p: 500 unless it says otherwise.
func (p *Problem) status() int {
	if p.code == 0 {
		return http.StatusInternalServerError
	}
	return p.code
}

// asProblem turns any error into a Problem; an unexpected one keeps its
// message.
func asProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	return &Problem{Title: "Error", Message: err.Error(), code: http.StatusInternalServerError}
}

func (h *Handler) failJSON(w http.ResponseWriter, err error) {
	p := asProblem(err)
	writeJSON(w, p.status(), struct {
		Error *Problem `json:"error"`
	}{p})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// apiStatus is GET api/status: the Status of a product.
func (h *Handler) apiStatus(w http.ResponseWriter, r *http.Request) {
	p, err := h.productOf(r)
	if err != nil {
		h.failJSON(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.monitor.check(r.Context(), p))
}
