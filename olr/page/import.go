package page

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/store"
)

// ImportResult is the answer of an import (api/import).
type ImportResult struct {
	Kind      string  `json:"kind"` // "license" or "revocation-list"
	LicenseID string  `json:"license_id,omitempty"`
	Number    int64   `json:"revocation_list,omitempty"`
	Revoked   int     `json:"revoked,omitempty"`
	Message   string  `json:"message"`
	Status    *Status `json:"status,omitempty"`
}

const crlBegin = "-----BEGIN OLR REVOCATION LIST-----"

// readUpload returns the file of an import form: the uploaded file, or
// else the pasted text. A body over MaxUpload is refused.
func readUpload(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxUpload)
	tooLarge := func(err error) error {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return &Problem{Title: "File too large", code: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("the upload is larger than %d KiB: a license.olr is about 2 KiB and a revoked.olr at most %d KiB", MaxUpload>>10, olr.MaxCRLSize>>10),
				Hint:    "choose the license.olr file the vendor sent"}
		}
		return &Problem{Title: "Upload failed", Message: err.Error(), code: http.StatusBadRequest}
	}
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "multipart/form-data") && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		// api/import also takes the file as the body itself.
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, tooLarge(err)
		}
		return data, nil
	}
	if err := r.ParseMultipartForm(MaxUpload); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return nil, tooLarge(err)
	}
	if f, _, err := r.FormFile("file"); err == nil {
		defer f.Close()
		data, err := io.ReadAll(f)
		if err != nil {
			return nil, tooLarge(err)
		}
		if len(bytes.TrimSpace(data)) > 0 {
			return data, nil
		}
	}
	return []byte(r.PostFormValue("text")), nil
}

// install verifies and installs a license.olr or a revoked.olr for p,
// through the same store calls as olr import.
func (h *Handler) install(r *http.Request, p *product, data []byte) (*ImportResult, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Problem{Title: "No file", code: http.StatusBadRequest,
			Message: "choose the license.olr file, or paste its text", Hint: "the vendor sends license.olr in answer to req.olr"}
	}
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(crlBegin)) {
		list, err := p.store.InstallRevocations(data, h.cfg.Trust)
		if err != nil {
			title := "Not a revocation list"
			if errors.Is(err, store.ErrOlderRevocations) {
				title = "Older revocation list"
			}
			return nil, &Problem{Title: title, Message: err.Error(), code: http.StatusUnprocessableEntity,
				Hint: "import the newest revoked.olr the vendor published"}
		}
		h.log.InfoContext(r.Context(), "license: revocation list installed", "product", p.Name, "number", list.Number, "revoked", len(list.Revoked))
		return &ImportResult{Kind: "revocation-list", Number: int64(list.Number), Revoked: len(list.Revoked),
			Message: fmt.Sprintf("revocation list %d installed (%d licenses revoked)", list.Number, len(list.Revoked))}, nil
	}
	if len(data) > olr.MaxLicenseSize {
		return nil, &Problem{Title: "Not a license", Reason: olr.ReasonMalformed, code: http.StatusUnprocessableEntity,
			Message: fmt.Sprintf("the file is larger than a license can be (%d KiB)", olr.MaxLicenseSize>>10),
			Hint:    "choose the license.olr file the vendor sent"}
	}
	mach, err := h.cfg.Machine(r.Context())
	if err != nil {
		return nil, &Problem{Title: "Cannot read this machine", Reason: olr.ReasonFingerprintFailed, code: http.StatusInternalServerError,
			Message: fmt.Sprintf("cannot fingerprint this machine: %v", err)}
	}
	defer mach.Close()
	res, err := p.store.Install(data, h.cfg.Trust, mach.Fingerprint, h.cfg.Now(), &olr.VerifyOptions{Product: p.Name, TPM: mach.Prover()})
	if err != nil {
		prob := problemOf(res, err)
		prob.code = http.StatusUnprocessableEntity
		if res.Reason == olr.ReasonWrongProduct && res.License != nil {
			prob.Message = fmt.Sprintf("this license is for product %q, and this tab holds the %s license: one license per product on a machine", res.License.Product, p.Name)
			prob.Hint = fmt.Sprintf("this machine has no product %q: ask the vendor for a %s license", clip(res.License.Product), p.Name)
			for _, q := range h.products {
				if q.Name == res.License.Product {
					prob.Hint = fmt.Sprintf("import it on the %s tab", q.Title)
				}
			}
		}
		if res.Reason == olr.ReasonHardwareMismatch {
			prob.Message = "this license does not match this machine: " + prob.Message
		}
		h.log.WarnContext(r.Context(), "license: import refused", "product", p.Name, "reason", res.Reason, "err", err)
		return nil, prob
	}
	h.log.InfoContext(r.Context(), "license: installed", "product", p.Name, "license_id", res.License.ID,
		"licensee", res.License.Licensee, "status", res.Status)
	return &ImportResult{Kind: "license", LicenseID: res.License.ID,
		Message: fmt.Sprintf("license %s installed for %s", res.License.ID, res.License.Licensee)}, nil
}

// serveImport is the Off-line Update button.
func (h *Handler) serveImport(w http.ResponseWriter, r *http.Request) {
	data, err := readUpload(w, r)
	p, perr := h.productOf(r)
	if perr != nil {
		h.fail(w, r, 0, perr)
		return
	}
	if err != nil {
		h.render(w, r, p, 0, &flash{Section: "import", Problem: asProblem(err)})
		return
	}
	res, err := h.install(r, p, data)
	if err != nil {
		h.render(w, r, p, 0, &flash{Section: "import", Problem: asProblem(err)})
		return
	}
	h.render(w, r, p, http.StatusOK, &flash{Section: "import", Message: res.Message})
}

// apiImport is POST api/import: the file as the body, or as the import
// form's "file" or "text".
func (h *Handler) apiImport(w http.ResponseWriter, r *http.Request) {
	data, err := readUpload(w, r)
	if err != nil {
		h.failJSON(w, err)
		return
	}
	p, err := h.productOf(r)
	if err != nil {
		h.failJSON(w, err)
		return
	}
	res, err := h.install(r, p, data)
	if err != nil {
		h.failJSON(w, err)
		return
	}
	res.Status = h.monitor.check(r.Context(), p)
	writeJSON(w, http.StatusOK, res)
}
