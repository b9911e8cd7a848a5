package page

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"filippo.io/age/armor"

	"github.com/olr-dev/olr/internal/qrcode"
	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/internal/tpmreq"
	"github.com/olr-dev/olr/olr"
)

// The last request generated on the page is kept in the product's state
// directory until a license answers it: the encrypted file (so that it
// can be downloaded again and shown as QR codes) and what the page shows
// of it. The license key is kept only masked.
const (
	pendingFile = "request.olr"
	pendingMeta = "request.json"
)

// Pending is the last offline license request generated on the page.
type Pending struct {
	ID       string    `json:"request_id"`
	Created  time.Time `json:"created"`
	Licensee string    `json:"licensee"`
	Key      string    `json:"key"` // masked
	// Armored is the req.olr file, and Parts the texts of its QR codes;
	// both only in api/request answers.
	Armored string     `json:"armored,omitempty"`
	Parts   []PartInfo `json:"parts,omitempty"`
}

// PartInfo is one QR code of a request.
type PartInfo struct {
	Index   int    `json:"index"`
	Count   int    `json:"count"`
	Version int    `json:"qr_version"`
	Text    string `json:"text"`
	Image   string `json:"image"` // path of its PNG, relative to the page
}

// generate writes a request for p and keeps it as the pending one.
func (h *Handler) generate(r *http.Request, p *product, licensee, key string) (*Pending, error) {
	if licensee == "" || key == "" {
		return nil, &Problem{Title: "Licensee and key needed", code: http.StatusBadRequest,
			Message: "enter the licensee name and the license key",
			Hint:    "both are case sensitive: enter them exactly as on the software receipt"}
	}
	mach, err := h.cfg.Machine(r.Context())
	if err != nil {
		return nil, &Problem{Title: "Cannot read this machine", Reason: olr.ReasonFingerprintFailed, code: http.StatusInternalServerError,
			Message: fmt.Sprintf("cannot fingerprint this machine: %v", err)}
	}
	defer mach.Close()
	fp := mach.Fingerprint
	if len(fp.Factors) == 0 {
		return nil, &Problem{Title: "Cannot read this machine", Reason: olr.ReasonFingerprintFailed, code: http.StatusInternalServerError,
			Message: "found no hardware factor to bind a license to", Hint: "run the product as root so that DMI identities can be read"}
	}
	now := h.cfg.Now()
	req, err := olr.NewRequest(p.Name, licensee, key, hostname(), h.cfg.Tool, fp, now)
	if err != nil {
		return nil, &Problem{Title: "Cannot make the request", code: http.StatusBadRequest, Message: err.Error(),
			Hint: "enter the licensee name and the license key exactly as on the software receipt, without spaces around them"}
	}
	if err := tpmreq.Attach(r.Context(), mach, req); err != nil {
		return nil, &Problem{Title: "Cannot read the TPM", code: http.StatusInternalServerError, Message: err.Error(),
			Hint: "check that the product may open the TPM (/dev/tpmrm0, the tss group)"}
	}
	arm, err := olr.EncryptRequestCompressed(req, h.cfg.Vendor, true)
	if err != nil {
		return nil, err
	}
	pend := &Pending{ID: req.ID, Created: now.UTC().Truncate(time.Second), Licensee: licensee, Key: maskKey(key)}
	meta, _ := json.MarshalIndent(pend, "", "  ")
	if err := os.MkdirAll(p.StateDir, 0o700); err != nil {
		return nil, err
	}
	if err := safefile.Replace(filepath.Join(p.StateDir, pendingFile), arm, 0o644); err != nil {
		return nil, err
	}
	if err := safefile.Replace(filepath.Join(p.StateDir, pendingMeta), append(meta, '\n'), 0o644); err != nil {
		return nil, err
	}
	h.log.InfoContext(r.Context(), "license: offline license request generated", "product", p.Name,
		"request_id", req.ID, "factors", len(fp.Factors))
	pend.Armored = string(arm)
	return pend, nil
}

// pending returns the pending request of p, without its file.
func (h *Handler) pending(p *product) (*Pending, error) {
	data, err := safefile.ReadFile(filepath.Join(p.StateDir, pendingMeta), 64<<10)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pend Pending
	if err := json.Unmarshal(data, &pend); err != nil {
		return nil, err
	}
	return &pend, nil
}

// pendingWithFile returns the pending request of p with its armored file.
func (h *Handler) pendingWithFile(p *product) (*Pending, error) {
	pend, err := h.pending(p)
	if err != nil || pend == nil {
		return nil, err
	}
	arm, err := safefile.ReadFile(filepath.Join(p.StateDir, pendingFile), olr.MaxRequestSize)
	if err != nil {
		return nil, err
	}
	pend.Armored = string(arm)
	return pend, nil
}

// pendingWithCodes returns the pending request of p with its armored file
// and its QR codes.
func (h *Handler) pendingWithCodes(p *product) (*Pending, []*qrcode.Code, error) {
	pend, err := h.pendingWithFile(p)
	if err != nil || pend == nil {
		return nil, nil, err
	}
	bin, err := io.ReadAll(armor.NewReader(strings.NewReader(pend.Armored)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", pendingFile, err)
	}
	codes, err := qrcode.Request(bin, pend.ID)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range codes {
		pend.Parts = append(pend.Parts, PartInfo{Index: c.Part.Index, Count: c.Part.Count, Version: c.Version,
			Text: c.Part.Text(), Image: fmt.Sprintf("request/qr/%d?product=%s", c.Part.Index, p.Name)})
	}
	return pend, codes, nil
}

// serveRequest is the Generate button: it makes the request and shows
// the page with it (download, text, QR codes).
func (h *Handler) serveRequest(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	p, err := h.productOf(r)
	if err != nil {
		h.fail(w, r, 0, err)
		return
	}
	r.ParseForm()
	if _, err := h.generate(r, p, r.PostFormValue("licensee"), r.PostFormValue("key")); err != nil {
		h.render(w, r, p, http.StatusBadRequest, &flash{Section: "request", Problem: asProblem(err)})
		return
	}
	// A relative Location, resolved by the browser against the page's
	// own URL wherever the product mounted it (http.Redirect would
	// resolve it against the path the handler sees).
	w.Header().Set("Location", "./?product="+url.QueryEscape(p.Name)+"&generated=1#request")
	w.WriteHeader(http.StatusSeeOther)
}

// serveRequestFile downloads the pending req.olr.
func (h *Handler) serveRequestFile(w http.ResponseWriter, r *http.Request) {
	p, err := h.productOf(r)
	if err != nil {
		h.fail(w, r, 0, err)
		return
	}
	pend, err := h.pendingWithFile(p)
	if err != nil || pend == nil {
		h.fail(w, r, http.StatusNotFound, &Problem{Title: "No request", Message: "no offline license request was generated on this page",
			Hint: "generate one with the Generate button"})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="req.olr"`)
	io.WriteString(w, pend.Armored)
}

// serveQR sends the PNG of one QR code of the pending request.
func (h *Handler) serveQR(w http.ResponseWriter, r *http.Request) {
	p, err := h.productOf(r)
	if err != nil {
		h.fail(w, r, 0, err)
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	_, codes, cerr := h.pendingWithCodes(p)
	if err != nil || cerr != nil || n < 1 || n > len(codes) {
		http.NotFound(w, r)
		return
	}
	img, err := codes[n-1].PNG(4)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(img)
}

// apiRequest is POST api/request: licensee, key (and product) as a form
// or JSON; the answer is the request with its file and QR texts.
func (h *Handler) apiRequest(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	var in struct{ Product, Licensee, Key string }
	if r.Header.Get("Content-Type") == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			h.failJSON(w, &Problem{Title: "Bad request", Message: "the body is not a JSON object with licensee and key", code: http.StatusBadRequest})
			return
		}
	} else {
		in.Product, in.Licensee, in.Key = r.FormValue("product"), r.FormValue("licensee"), r.FormValue("key")
	}
	if in.Product == "" {
		in.Product = r.URL.Query().Get("product")
	}
	p, err := h.product(in.Product)
	if err != nil {
		h.failJSON(w, err)
		return
	}
	if _, err := h.generate(r, p, in.Licensee, in.Key); err != nil {
		h.failJSON(w, err)
		return
	}
	h.writePending(w, p)
}

// apiPending is GET api/request: the pending request.
func (h *Handler) apiPending(w http.ResponseWriter, r *http.Request) {
	p, err := h.productOf(r)
	if err != nil {
		h.failJSON(w, err)
		return
	}
	h.writePending(w, p)
}

func (h *Handler) writePending(w http.ResponseWriter, p *product) {
	pend, _, err := h.pendingWithCodes(p)
	if err != nil {
		h.failJSON(w, err)
		return
	}
	if pend == nil {
		h.failJSON(w, &Problem{Title: "No request", Message: "no offline license request was generated on this page", code: http.StatusNotFound})
		return
	}
	writeJSON(w, http.StatusOK, pend)
}
