package portal

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/signer/ledger"
)

// Keys and licenses: search, one key's history, a license's file,
// revocation, and importing the keys sold.

// maxSearchResults bounds a key search's answer.
const maxSearchResults = 200

// KeyRow is one key in a search result.
type KeyRow struct {
	Key      string `json:"license_key"`
	Licensee string `json:"licensee"`
	Type     string `json:"type"`
	Product  string `json:"product,omitempty"`
	// Active is the license of the key's active activation, if any.
	Active string `json:"active_license,omitempty"`
}

type keysView struct {
	Query     string   `json:"query"`
	Keys      []KeyRow `json:"keys"`
	Total     int      `json:"total"`
	Truncated bool     `json:"truncated"`
	CanAdmin  bool     `json:"can_admin"`
}

// keysPage searches the keys sold by key, licensee or product (case
// insensitive, substring), or finds the key of a license or request ID.
func (s *Server) keysPage(w http.ResponseWriter, r *http.Request, a *Account) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v := keysView{Query: q, Keys: []KeyRow{}, CanAdmin: a.Role.Allows(PermAdmin)}
	var byID string
	err := s.cfg.Issuer.Ledger.View(r.Context(), func(tx *ledger.Tx) error {
		if q != "" {
			lic, err := tx.License(q)
			if err == nil {
				byID = lic.Key
				return nil
			}
			if lic, err = tx.LicenseByRequest(q); err == nil {
				byID = lic.Key
				return nil
			}
		}
		keys, err := tx.Keys()
		if err != nil {
			return err
		}
		lq := strings.ToLower(q)
		for _, k := range keys {
			if q != "" && !strings.Contains(strings.ToLower(k.Key), lq) &&
				!strings.Contains(strings.ToLower(k.Licensee), lq) && !strings.Contains(strings.ToLower(k.Product), lq) {
				continue
			}
			v.Total++
			if len(v.Keys) == maxSearchResults {
				v.Truncated = true
				continue
			}
			row := KeyRow{Key: k.Key, Licensee: k.Licensee, Type: string(k.Type), Product: k.Product}
			act, err := tx.ActiveActivation(k.Key)
			if err == nil {
				row.Active = act.LicenseID
			} else if !errors.Is(err, ledger.ErrNotFound) {
				return err
			}
			v.Keys = append(v.Keys, row)
		}
		return nil
	})
	if err != nil {
		s.internalError(w, r, a, err)
		return
	}
	if byID != "" {
		u := keyURL(byID)
		if isAPI(r) {
			u = "/api" + u
		}
		http.Redirect(w, r, u, http.StatusSeeOther)
		return
	}
	s.render(w, r, a, http.StatusOK, "keys", v)
}

func keyURL(key string) string { return "/keys/" + url.PathEscape(key) }

// Event is one entry of a key's history.
type Event struct {
	Time time.Time `json:"time"`
	// Kind is activation, license, transfer or revocation.
	Kind    string `json:"kind"`
	License string `json:"license_id,omitempty"`
	// What says what happened, Who who did it.
	What string `json:"what"`
	Who  string `json:"operator,omitempty"`
}

// LicenseRow is one license issued for a key.
type LicenseRow struct {
	ID        string    `json:"license_id"`
	RequestID string    `json:"request_id"`
	Issued    time.Time `json:"issued"`
	Operator  string    `json:"operator"`
	Status    string    `json:"status"`
}

func licenseRow(l *ledger.IssuedLicense) LicenseRow {
	return LicenseRow{ID: l.ID, RequestID: l.RequestID, Issued: l.Issued, Operator: l.Operator, Status: string(l.Status)}
}

type keyView struct {
	Sale     *SaleView    `json:"sale"`
	Active   string       `json:"active_license,omitempty"`
	Licenses []LicenseRow `json:"licenses"`
	// History is the key's activations, licenses, transfers and
	// revocations in time order.
	History  []Event `json:"history"`
	CanAdmin bool    `json:"can_admin"`
}

func (s *Server) keyPage(w http.ResponseWriter, r *http.Request, a *Account) {
	key := r.PathValue("key")
	v := keyView{Licenses: []LicenseRow{}, History: []Event{}, CanAdmin: a.Role.Allows(PermAdmin)}
	err := s.cfg.Issuer.Ledger.View(r.Context(), func(tx *ledger.Tx) error {
		k, err := tx.Key(key)
		if err != nil {
			return err
		}
		v.Sale = saleView(k)
		acts, err := tx.Activations(key)
		if err != nil {
			return err
		}
		lics, err := tx.Licenses(key)
		if err != nil {
			return err
		}
		transfers, err := tx.Transfers(key)
		if err != nil {
			return err
		}
		revs, err := tx.Revocations()
		if err != nil {
			return err
		}
		ours := map[string]bool{}
		for _, l := range lics {
			ours[l.ID] = true
			v.Licenses = append(v.Licenses, licenseRow(&l))
			v.History = append(v.History, Event{Time: l.Issued, Kind: "license", License: l.ID, Who: l.Operator,
				What: "issued for request " + l.RequestID + " (now " + string(l.Status) + ")"})
		}
		for _, act := range acts {
			if act.State == ledger.StateActive {
				v.Active = act.LicenseID
			}
			v.History = append(v.History, Event{Time: act.Created, Kind: "activation", License: act.LicenseID,
				What: fmt.Sprintf("activated on a machine, activation %d (now %s)", act.ID, act.State)})
			if !act.Ended.IsZero() {
				v.History = append(v.History, Event{Time: act.Ended, Kind: "activation", License: act.LicenseID,
					What: fmt.Sprintf("activation %d ended: %s", act.ID, act.State)})
			}
		}
		for _, t := range transfers {
			v.History = append(v.History, Event{Time: t.Time, Kind: "transfer", License: t.ToLicense, Who: t.Operator,
				What: "moved from license " + t.FromLicense + ": " + t.Reason})
		}
		for _, rv := range revs {
			if ours[rv.LicenseID] {
				v.History = append(v.History, Event{Time: rv.Time, Kind: "revocation", License: rv.LicenseID, Who: rv.Operator,
					What: "revoked: " + rv.Reason})
			}
		}
		return nil
	})
	if errors.Is(err, ledger.ErrNotFound) {
		s.fail(w, r, a, http.StatusNotFound, "no key "+safetext.Quote(key)+" in the ledger (keys are case sensitive)")
		return
	}
	if err != nil {
		s.internalError(w, r, a, err)
		return
	}
	slices.SortStableFunc(v.History, func(x, y Event) int { return cmp.Compare(x.Time.UnixNano(), y.Time.UnixNano()) })
	s.render(w, r, a, http.StatusOK, "key", v)
}

type licenseView struct {
	LicenseRow
	Key      string `json:"license_key"`
	License  string `json:"license"`
	CanAdmin bool   `json:"can_admin"`
}

func (s *Server) readLicense(r *http.Request) (*ledger.IssuedLicense, error) {
	var lic *ledger.IssuedLicense
	err := s.cfg.Issuer.Ledger.View(r.Context(), func(tx *ledger.Tx) (err error) {
		lic, err = tx.License(r.PathValue("id"))
		return err
	})
	return lic, err
}

func (s *Server) licenseError(w http.ResponseWriter, r *http.Request, a *Account, err error) {
	if errors.Is(err, ledger.ErrNotFound) {
		s.fail(w, r, a, http.StatusNotFound, "no license "+safetext.Quote(r.PathValue("id"))+" in the ledger")
		return
	}
	s.internalError(w, r, a, err)
}

func (s *Server) licensePage(w http.ResponseWriter, r *http.Request, a *Account) {
	lic, err := s.readLicense(r)
	if err != nil {
		s.licenseError(w, r, a, err)
		return
	}
	s.render(w, r, a, http.StatusOK, "license", licenseView{
		LicenseRow: licenseRow(lic), Key: lic.Key, License: string(lic.File), CanAdmin: a.Role.Allows(PermAdmin)})
}

// licenseFile serves license.olr as a download, exactly as issued.
func (s *Server) licenseFile(w http.ResponseWriter, r *http.Request, a *Account) {
	lic, err := s.readLicense(r)
	if err != nil {
		s.licenseError(w, r, a, err)
		return
	}
	download(w, "license.olr", lic.File)
}

func download(w http.ResponseWriter, name string, data []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	w.Write(data)
}

type revokedView struct {
	LicenseID string `json:"license_id"`
	Key       string `json:"license_key"`
	Reason    string `json:"reason"`
}

// revoke revokes a license with a reason, under the signed-in admin.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request, a *Account) {
	if err := r.ParseForm(); err != nil {
		s.requestError(w, r, a, err)
		return
	}
	id := r.PathValue("id")
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	if reason == "" {
		s.fail(w, r, a, http.StatusBadRequest, "a revocation needs a reason, recorded in the ledger")
		return
	}
	var key string
	err := s.cfg.Issuer.Ledger.Update(r.Context(), a.Name, func(tx *ledger.Tx) error {
		lic, err := tx.License(id)
		if err != nil {
			return err
		}
		key = lic.Key
		_, err = tx.Revoke(id, reason)
		return err
	})
	var ve *ledger.ValidationError
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		s.licenseError(w, r, a, err)
		return
	case errors.Is(err, ledger.ErrDuplicate):
		s.fail(w, r, a, http.StatusConflict, "license "+id+" is already revoked")
		return
	case errors.As(err, &ve):
		s.fail(w, r, a, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		s.internalError(w, r, a, err)
		return
	}
	s.render(w, r, a, http.StatusOK, "revoked", revokedView{LicenseID: id, Key: key, Reason: reason})
}

type importedView struct {
	Source    string   `json:"source"`
	Created   []string `json:"created"`
	Updated   []string `json:"updated"`
	Unchanged int      `json:"unchanged"`
}

// importKeys imports a sales export (CSV or JSON, the form field
// "file"), all or nothing, under the signed-in admin.
func (s *Server) importKeys(w http.ResponseWriter, r *http.Request, a *Account) {
	f, fh, err := r.FormFile("file")
	if err != nil {
		s.requestError(w, r, a, fmt.Errorf("no file: choose a CSV or JSON export of the keys sold (%v)", err))
		return
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		s.requestError(w, r, a, err)
		return
	}
	name := path.Base(strings.ReplaceAll(fh.Filename, "\\", "/"))
	var keys []ledger.SoldKey
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		keys, err = ledger.ImportJSON(bytes.NewReader(data))
	} else {
		keys, err = ledger.ImportCSV(bytes.NewReader(data))
	}
	if err != nil {
		s.fail(w, r, a, http.StatusBadRequest, safetext.Quote(name)+": "+err.Error())
		return
	}
	var res *ledger.ImportResult
	err = s.cfg.Issuer.Ledger.Update(r.Context(), a.Name, func(tx *ledger.Tx) (err error) {
		res, err = tx.ImportKeys(name, keys)
		return err
	})
	var ve *ledger.ValidationError
	if errors.As(err, &ve) {
		s.fail(w, r, a, http.StatusBadRequest, safetext.Quote(name)+": "+err.Error())
		return
	}
	if err != nil {
		s.internalError(w, r, a, err)
		return
	}
	v := importedView{Source: name, Created: res.Created, Updated: res.Updated, Unchanged: len(res.Unchanged)}
	if v.Created == nil {
		v.Created = []string{}
	}
	if v.Updated == nil {
		v.Updated = []string{}
	}
	s.render(w, r, a, http.StatusOK, "imported", v)
}
