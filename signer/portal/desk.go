package portal

import (
	"errors"
	"net/http"
	"strings"

	"filippo.io/age"

	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
)

// The inbox: requests in, what issuing would do, and issuing.

type inboxView struct {
	CanIssue bool `json:"can_issue"`
}

func (s *Server) inboxPage(w http.ResponseWriter, r *http.Request, a *Account) {
	s.render(w, r, a, http.StatusOK, "inbox", inboxView{CanIssue: a.Role.Allows(PermIssue)})
}

type inspectView struct {
	Requests []*Inspection `json:"requests"`
	CanIssue bool          `json:"can_issue"`
	CanAdmin bool          `json:"can_admin"`
}

// inspect decodes the submitted requests and shows, for each, what the
// vendor needs before signing. It records nothing.
func (s *Server) inspect(w http.ResponseWriter, r *http.Request, a *Account) {
	subs, err := readSubmission(r)
	if err != nil {
		s.requestError(w, r, a, err)
		return
	}
	in, list, err := s.newInspector(r.Context(), subs)
	if err != nil {
		s.internalError(w, r, a, err)
		return
	}
	for _, ins := range list {
		if ins.Request == nil {
			continue
		}
		if err := in.inspect(ins); err != nil {
			s.internalError(w, r, a, err)
			return
		}
	}
	s.render(w, r, a, http.StatusOK, "inspect", inspectView{Requests: list, CanIssue: a.Role.Allows(PermIssue), CanAdmin: a.Role.Allows(PermAdmin)})
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, a *Account, err error) {
	s.log.Error("request failed", "path", r.URL.Path, "err", err)
	s.fail(w, r, a, http.StatusInternalServerError, "internal error: "+err.Error())
}

// IssuedView is the answer to an issued request.
type IssuedView struct {
	Outcome    string `json:"outcome"`
	LicenseID  string `json:"license_id"`
	Key        string `json:"license_key"`
	Licensee   string `json:"licensee"`
	Superseded string `json:"superseded,omitempty"`
	// License is the license.olr text.
	License string `json:"license"`
}

// RefusedView is a refusal, with the text for the customer.
type RefusedView struct {
	Error        string `json:"error"`
	Rule         string `json:"rule"`
	Message      string `json:"message"`
	CustomerText string `json:"customer_text,omitempty"`
	Source       string `json:"source"`
}

// issue answers one request, recording the activation under the
// signed-in account. The fields transfer and allow_weak give the reason
// for a transfer or a weak binding; both need an admin.
func (s *Server) issue(w http.ResponseWriter, r *http.Request, a *Account) {
	subs, err := readSubmission(r)
	if err != nil {
		s.requestError(w, r, a, err)
		return
	}
	if len(subs) != 1 {
		s.fail(w, r, a, http.StatusBadRequest, "issue answers one request at a time; inspect several at once in the inbox")
		return
	}
	sub := subs[0]
	opts := s.cfg.Options
	opts.Transfer = strings.TrimSpace(r.PostForm.Get("transfer"))
	opts.AllowWeak = strings.TrimSpace(r.PostForm.Get("allow_weak"))
	if (opts.Transfer != "" || opts.AllowWeak != "") && !a.Role.Allows(PermAdmin) {
		s.fail(w, r, a, http.StatusForbidden, "a transfer or a weak-binding override needs an admin")
		return
	}
	if sub.Err != nil {
		s.fail(w, r, a, http.StatusBadRequest, sub.Source+": "+sub.Err.Error())
		return
	}
	req, err := olr.DecryptRequest(sub.Data, []age.Identity{s.cfg.Issuer.Keys.Identity})
	if err != nil {
		msg, _ := requestErrorText(err)
		s.fail(w, r, a, http.StatusBadRequest, sub.Source+": "+msg)
		return
	}
	res, err := s.cfg.Issuer.Issue(r.Context(), req, &opts, a.Name)
	var refused *signer.RefusedError
	if errors.As(err, &refused) {
		v := RefusedView{Error: refused.Error(), Rule: refused.Rule, Message: refused.Msg,
			CustomerText: CustomerText(refused.Rule), Source: sub.Source}
		s.render(w, r, a, http.StatusConflict, "refused", v)
		return
	}
	var ve *ledger.ValidationError
	if errors.As(err, &ve) {
		s.fail(w, r, a, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		s.internalError(w, r, a, err)
		return
	}
	s.log.Info("license issued", "outcome", res.Outcome, "license", res.License.ID, "account", a.Name, "licensee", safetext.Quote(res.License.Licensee))
	s.render(w, r, a, http.StatusOK, "issued", IssuedView{
		Outcome: string(res.Outcome), LicenseID: res.License.ID, Key: req.LicenseKey, Licensee: res.License.Licensee,
		Superseded: res.Superseded, License: string(res.File),
	})
}
