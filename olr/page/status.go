package page

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/store"
)

// Status is what the page shows of one product, and the JSON of
// api/status.
type Status struct {
	Product string     `json:"product"`
	Title   string     `json:"title"`
	Checked time.Time  `json:"checked"`
	Status  olr.Status `json:"status"`
	Reason  olr.Reason `json:"reason,omitempty"`
	// Problem explains an invalid license or a failed check.
	Problem *Problem `json:"problem,omitempty"`
	// GraceUntil ends a hardware grace period.
	GraceUntil *time.Time   `json:"grace_until,omitempty"`
	License    *LicenseInfo `json:"license,omitempty"`
	Modules    []ModuleInfo `json:"modules,omitempty"`
	// Overruns are the modules used beyond their quota, each with its
	// "stops at" time.
	Overruns []store.Overrun `json:"overruns,omitempty"`
	// Stopped is set when the product must stop: the license is invalid
	// or a quota grace period ended.
	Stopped bool `json:"stopped"`
	// Banners are the errors and warnings shown at the top of every view.
	Banners []Banner            `json:"banners,omitempty"`
	Match   *fingerprint.Report `json:"match,omitempty"`
	// Factors is the match as olr verify --explain shows it.
	Factors []FactorRow `json:"-"`
	// Remedy lists the factors that would make a failed match pass.
	Remedy  []fingerprint.KindResult `json:"remedy,omitempty"`
	Pending *Pending                 `json:"pending_request,omitempty"`
}

// FactorRow is one factor of the hardware match.
type FactorRow struct {
	Kind   fingerprint.Kind
	Status fingerprint.Status
	Weight int
	Value  string
	Source string
}

func factorRows(m *fingerprint.Report) []FactorRow {
	weights := map[fingerprint.Kind]int{}
	for _, k := range m.Kinds {
		weights[k.Kind] = k.Weight
	}
	rows := make([]FactorRow, 0, len(m.Entries))
	for _, e := range m.Entries {
		rows = append(rows, FactorRow{Kind: e.Kind, Status: e.Status, Weight: weights[e.Kind], Value: e.Value, Source: e.Source})
	}
	return rows
}

// lastDay shows the end of a period as the vendor sold it: one that ends
// at midnight UTC is shown as its last day, the date on the receipt.
func lastDay(t *time.Time) string {
	if t == nil {
		return "never"
	}
	end := t.UTC()
	if end.Hour() == 0 && end.Minute() == 0 && end.Second() == 0 {
		return end.AddDate(0, 0, -1).Format(time.DateOnly) + " (the last day)"
	}
	return "before " + end.Format(shownTime)
}

// LicenseInfo is the License Details section.
type LicenseInfo struct {
	ID          string          `json:"id"`
	Licensee    string          `json:"licensee"`
	Key         string          `json:"key,omitempty"` // masked but for its last group; known when the request was made here
	Type        olr.LicenseType `json:"type"`
	Product     string          `json:"product"`
	KeyID       string          `json:"key_id"`
	RequestID   string          `json:"request_id"`
	Issued      time.Time       `json:"issued"`
	Expires     *time.Time      `json:"expires,omitempty"`
	Maintenance *time.Time      `json:"maintenance,omitempty"`
	Languages   []string        `json:"languages"`
	GraceDays   int             `json:"grace_days"`
	Installed   *time.Time      `json:"installed,omitempty"`
}

// ModuleInfo is one row of the quota table.
type ModuleInfo struct {
	Name      string `json:"name"`
	Group     string `json:"group"`
	Licensed  bool   `json:"licensed"`
	Quota     string `json:"quota"` // a number, "unlimited", or "0" when not licensed
	Used      *int64 `json:"used,omitempty"`
	Available string `json:"available,omitempty"` // a number, "unlimited", or "0"
	Over      bool   `json:"over"`
	Error     string `json:"error,omitempty"` // the usage callback failed
}

// Problem is an error as the page shows it: what happened, why, and what
// to do.
type Problem struct {
	Title   string     `json:"title"`
	Reason  olr.Reason `json:"reason,omitempty"`
	Message string     `json:"message"`
	Hint    string     `json:"hint,omitempty"`
	code    int
}

func (p *Problem) Error() string { return p.Message }

// Banner is a license error or warning at the top of the page.
type Banner struct {
	Level    string     `json:"level"` // "error" or "warning"
	Title    string     `json:"title"`
	Message  string     `json:"message"`
	Hint     string     `json:"hint,omitempty"`
	Deadline *time.Time `json:"deadline,omitempty"` // the product stops then
}

// moduleGroups sorts modules into the sections of the vendor's License
// Details: client software, client add-on modules, server add-on modules.
var moduleGroups = map[string]string{
	"obm": "Client software", "acb": "Client software",
	"cbs": "Server add-on modules", "replication": "Server add-on modules", "redirection": "Server add-on modules",
	"ubs": "Server add-on modules",
}

// groupRank orders the groups as the vendor's License Details does.
func groupRank(g string) int {
	switch g {
	case "Client software":
		return 0
	case "Client add-on modules":
		return 1
	}
	return 2
}

// shownTime is how messages show a deadline.
const shownTime = "2006-01-02 15:04 UTC"

func groupOf(module string) string {
	if g, ok := moduleGroups[module]; ok {
		return g
	}
	return "Client add-on modules"
}

// maskKey hides a license key but for its last group: "OEM-7Q2D-K9XW-4M3T"
// is shown as "***-****-****-4M3T".
func maskKey(key string) string {
	i := strings.LastIndexAny(key, "-_ ")
	if i < 0 {
		if len(key) <= 4 {
			return strings.Repeat("*", len(key))
		}
		i = len(key) - 5
	}
	var b strings.Builder
	for _, r := range key[:i+1] {
		if r == '-' || r == '_' || r == ' ' {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
	}
	return b.String() + key[i+1:]
}

// reasonText is the title of each failure Reason, and for most a hint
// that says what to do on this page.
var reasonText = map[olr.Reason]struct{ title, hint string }{
	olr.ReasonNotInstalled: {"No license installed",
		"generate an offline license request below, send req.olr to the vendor, and import the license.olr it sends back"},
	olr.ReasonHardwareMismatch: {"License for another machine", ""},
	olr.ReasonGraceExpired: {"Grace period over",
		"the hardware changed: generate a new offline license request and send it to the vendor"},
	olr.ReasonWrongProduct: {"License for another product", ""},
	olr.ReasonExpired: {"License expired",
		"ask the vendor to renew the license, then import the new license.olr"},
	olr.ReasonNotYetValid: {"License not yet valid",
		"check the system clock, or wait for the license's start date"},
	olr.ReasonRevoked: {"License revoked",
		"the vendor revoked this license: contact the vendor"},
	olr.ReasonClockRollback: {"Clock set back",
		"set the system clock to the current time"},
	olr.ReasonUntrustedKey: {"License from an unknown vendor key",
		"this product does not trust the key that signed the file: is it a license for this product's vendor?"},
	olr.ReasonBadSignature: {"Damaged license",
		"the file was altered after the vendor signed it: use the license.olr exactly as the vendor sent it"},
	olr.ReasonMalformed:         {"Not a license", ""},
	olr.ReasonUnsupported:       {"Not a license", ""},
	olr.ReasonFingerprintFailed: {"Cannot read this machine", ""},
	olr.ReasonTPMUnavailable: {"TPM not reachable",
		"the license is bound to this machine's TPM: check that the product may open it (/dev/tpmrm0, the tss group) and that the TPM is enabled"},
	olr.ReasonTPMMismatch: {"License bound to another TPM",
		"this machine's TPM is not the one the license was issued for; if the TPM or mainboard was replaced, generate a new offline license request and ask the vendor for a transfer"},
}

// problemOf explains a verification result: its error, with a hint that
// says what to do on this page.
func problemOf(res *olr.Result, err error) *Problem {
	p := &Problem{Title: "License " + string(res.Reason), Reason: res.Reason, Message: err.Error()}
	var ve *olr.VerifyError
	if errors.As(err, &ve) {
		p.Message = ve.Err.Error()
	}
	p.Hint = store.Hint(err) // a damaged state file says how to repair it
	if t, ok := reasonText[res.Reason]; ok {
		p.Title = t.title
		if t.hint != "" {
			p.Hint = t.hint
		}
	}
	switch res.Reason {
	case olr.ReasonHardwareMismatch:
		switch m := res.Match; {
		case m != nil && len(m.RequiredUnmatched) > 0:
			p.Hint = fmt.Sprintf("the license requires the %s factor to match: restore that hardware, or generate a new offline license request", m.RequiredUnmatched[0])
		case m != nil && m.Partial:
			p.Hint = "this machine's hardware changed since the license was issued: generate a new offline license request and send it to the vendor"
		default:
			p.Hint = "this license was issued for another machine: generate an offline license request on this machine and send req.olr to the vendor"
		}
	case olr.ReasonMalformed, olr.ReasonUnsupported:
		if errors.Is(err, store.ErrDamaged) || errors.Is(err, store.ErrRevocationsMissing) {
			p.Title = "Damaged license state"
		} else if p.Hint == "" {
			p.Hint = "choose the license.olr file the vendor sent, or paste its text from -----BEGIN OLR LICENSE----- to the END line"
		}
	}
	return p
}

// licenseInfo fills in the License Details of l.
func licenseInfo(l *olr.License, st *store.State, pend *Pending) *LicenseInfo {
	li := &LicenseInfo{ID: l.ID, Licensee: l.Licensee, Type: l.Type, Product: l.Product, KeyID: l.KeyID.String(),
		RequestID: l.RequestID, Issued: l.Issued, Languages: l.Languages, GraceDays: l.GraceDays}
	if li.Languages == nil {
		li.Languages = []string{}
	}
	if !l.Expires.IsZero() {
		li.Expires = &l.Expires
	}
	if !l.Maintenance.IsZero() {
		li.Maintenance = &l.Maintenance
	}
	if st != nil && st.LicenseID == l.ID {
		li.Installed = &st.Installed
	}
	if pend != nil && pend.ID == l.RequestID {
		li.Key = pend.Key
	}
	return li
}
