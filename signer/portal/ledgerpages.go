package portal

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
)

// The ledger's state: verification and the anchor to note elsewhere,
// the audit log, the revocation list, and the accounts.

type ledgerView struct {
	// Verified is true when the chain and every row check out; Problem
	// says what is wrong otherwise.
	Verified bool      `json:"verified"`
	Problem  string    `json:"problem,omitempty"`
	Checked  time.Time `json:"checked"`
	Records  int64     `json:"records"`
	// Anchor is the head as SEQ:HASH, as olr-sign prints it after a
	// write (AuditHead.String): note it outside the ledger, and a later
	// olr-sign ledger verify --anchor proves nothing before it was
	// rewritten.
	Anchor string `json:"anchor"`
}

func (s *Server) ledgerPage(w http.ResponseWriter, r *http.Request, a *Account) {
	l := s.cfg.Issuer.Ledger
	v := ledgerView{Checked: s.now().UTC()}
	err := l.Verify(r.Context())
	var ce *ledger.ChainError
	switch {
	case errors.As(err, &ce):
		v.Problem = ce.Error()
	case err != nil:
		s.internalError(w, r, a, err)
		return
	default:
		v.Verified = true
	}
	h, err := l.Head(r.Context())
	if err != nil && !errors.As(err, &ce) {
		s.internalError(w, r, a, err)
		return
	}
	v.Records, v.Anchor = h.Seq, h.String()
	status := http.StatusOK
	if !v.Verified {
		status = http.StatusConflict
	}
	s.render(w, r, a, status, "ledger", v)
}

// maxAuditRecords is how many of the latest audit records the audit page
// shows.
const maxAuditRecords = 500

// AuditRow is one audit record for a page.
type AuditRow struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Operator string          `json:"operator"`
	Action   string          `json:"action"`
	Subject  string          `json:"subject"`
	Details  json.RawMessage `json:"details"`
	Hash     string          `json:"hash"`
}

type auditView struct {
	Operator string     `json:"operator,omitempty"`
	Action   string     `json:"action,omitempty"`
	Records  []AuditRow `json:"records"`
	// Truncated: older matching records are left out.
	Truncated bool `json:"truncated"`
}

// auditPage lists the latest audit records, newest first, optionally of
// one operator or action.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, a *Account) {
	q := r.URL.Query()
	v := auditView{Operator: q.Get("operator"), Action: q.Get("action"), Records: []AuditRow{}}
	var ring []AuditRow
	err := s.cfg.Issuer.Ledger.View(r.Context(), func(tx *ledger.Tx) error {
		return tx.Audit(func(rec *ledger.AuditRecord) error {
			if v.Operator != "" && rec.Operator != v.Operator || v.Action != "" && rec.Action != v.Action {
				return nil
			}
			if len(ring) == maxAuditRecords {
				ring = ring[1:]
				v.Truncated = true
			}
			ring = append(ring, AuditRow{Seq: rec.Seq, Time: rec.Time, Operator: rec.Operator, Action: rec.Action,
				Subject: rec.Subject, Details: rec.Details, Hash: hex.EncodeToString(rec.Hash[:])})
			return nil
		})
	})
	if err != nil {
		s.internalError(w, r, a, err)
		return
	}
	for i := len(ring) - 1; i >= 0; i-- {
		v.Records = append(v.Records, ring[i])
	}
	s.render(w, r, a, http.StatusOK, "audit", v)
}

// RevocationRow is one revoked license.
type RevocationRow struct {
	LicenseID string    `json:"license_id"`
	Reason    string    `json:"reason"`
	Time      time.Time `json:"time"`
	Operator  string    `json:"operator"`
}

type crlView struct {
	Revoked  []RevocationRow `json:"revoked"`
	CanAdmin bool            `json:"can_admin"`
}

func (s *Server) crlPage(w http.ResponseWriter, r *http.Request, a *Account) {
	v := crlView{Revoked: []RevocationRow{}, CanAdmin: a.Role.Allows(PermAdmin)}
	err := s.cfg.Issuer.Ledger.View(r.Context(), func(tx *ledger.Tx) error {
		revs, err := tx.Revocations()
		for _, rv := range revs {
			v.Revoked = append(v.Revoked, RevocationRow{LicenseID: rv.LicenseID, Reason: rv.Reason, Time: rv.Time, Operator: rv.Operator})
		}
		return err
	})
	if err != nil {
		s.internalError(w, r, a, err)
		return
	}
	s.render(w, r, a, http.StatusOK, "crl", v)
}

// publishedCRL is the API's answer to publishing the revocation list.
type publishedCRL struct {
	Number  uint64   `json:"number"`
	Revoked []string `json:"revoked"`
	File    string   `json:"file"`
}

// publishCRL signs a new revocation list under the next number and
// hands it out as revoked.olr.
func (s *Server) publishCRL(w http.ResponseWriter, r *http.Request, a *Account) {
	var data []byte
	var n uint64
	var revoked []string
	err := s.cfg.Issuer.Ledger.Update(r.Context(), a.Name, func(tx *ledger.Tx) error {
		crl, d, err := signer.PublishCRL(tx, s.cfg.Issuer.Keys)
		if err != nil {
			return err
		}
		data, n, revoked = d, crl.Number, crl.Revoked
		return nil
	})
	if err != nil {
		s.internalError(w, r, a, err)
		return
	}
	if isAPI(r) {
		if revoked == nil {
			revoked = []string{}
		}
		writeJSON(w, http.StatusOK, publishedCRL{Number: n, Revoked: revoked, File: string(data)})
		return
	}
	download(w, "revoked.olr", data)
}

type accountsView struct {
	Accounts []Account `json:"accounts"`
}

func (s *Server) accountsPage(w http.ResponseWriter, r *http.Request, a *Account) {
	list, err := s.cfg.Accounts.ListAccounts(r.Context())
	if err != nil {
		s.internalError(w, r, a, fmt.Errorf("reading accounts: %w", err))
		return
	}
	if list == nil {
		list = []Account{}
	}
	s.render(w, r, a, http.StatusOK, "accounts", accountsView{Accounts: list})
}
