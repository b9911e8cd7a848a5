package olrcli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/tpm"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/store"
)

// savedFingerprint is the --json form of olr fingerprint: the fields of
// the fingerprint itself and, when a TPM was read, what the TPM says
// about itself, for audits. olr fingerprint diff reads it back.
type savedFingerprint struct {
	fingerprint.Fingerprint
	TPM *tpmDetails `json:"tpm,omitempty"`
}

// tpmDetails is what an auditor wants to know about the TPM behind the
// tpm-ek factor. The EK Name itself is the factor's value.
type tpmDetails struct {
	Source          string `json:"source"`
	Manufacturer    string `json:"manufacturer"`
	FirmwareVersion string `json:"firmware_version"`
	EKAlgorithm     string `json:"ek_algorithm"`
	EKCertPresent   bool   `json:"ek_cert_present"`
}

// tpmDetailsOf returns the details of the TPM that was read, or nil when
// none was.
func tpmDetailsOf(info *tpm.Info) *tpmDetails {
	if info == nil {
		return nil
	}
	return &tpmDetails{Source: info.Source, Manufacturer: info.Manufacturer, FirmwareVersion: info.FirmwareVersion,
		EKAlgorithm: info.EKAlgorithm, EKCertPresent: info.EKCertPresent}
}

// printFingerprint shows the factors of fp and, when t is not nil, the
// TPM they were read from.
func printFingerprint(w io.Writer, fp *fingerprint.Fingerprint, t *tpmDetails) {
	kind := fp.Machine.Class
	if fp.Machine.Detail != "" {
		kind += " (" + fp.Machine.Detail + ")"
	}
	fmt.Fprintf(w, "machine: %s\n", kind)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSTABILITY\tVALUE\tSOURCE")
	for _, f := range fp.Factors {
		src := f.Source
		if f.Removable {
			src += " (removable)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Kind, f.Kind.Stability(), f.Value, src)
	}
	tw.Flush()
	if t != nil {
		cert := "none in NV"
		if t.EKCertPresent {
			cert = "present in NV"
		}
		fmt.Fprintf(w, "tpm: %s\n", t.Source)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  manufacturer:\t%s\n", orDash(t.Manufacturer))
		fmt.Fprintf(tw, "  firmware version:\t%s\n", orDash(t.FirmwareVersion))
		fmt.Fprintf(tw, "  EK algorithm:\t%s\n", orDash(t.EKAlgorithm))
		fmt.Fprintf(tw, "  EK certificate:\t%s\n", cert)
		tw.Flush()
	}
	for _, n := range fp.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// lastDay shows the end of a period as the vendor sold it: a period that
// ends at midnight UTC is shown as its last day ("2027-12-31, last day"),
// which is the date on the receipt; any other end as a time.
func lastDay(end time.Time) string {
	if end.IsZero() {
		return "never"
	}
	end = end.UTC()
	if end.Hour() == 0 && end.Minute() == 0 && end.Second() == 0 {
		return end.AddDate(0, 0, -1).Format(time.DateOnly) + " (the last day, UTC)"
	}
	return "before " + end.Format(time.RFC3339)
}

// printResult shows a verification result; explain adds every factor.
func printResult(w io.Writer, r *olr.Result, explain bool) {
	fmt.Fprintf(w, "status:      %s", r.Status)
	if r.Reason != "" {
		fmt.Fprintf(w, " (%s)", r.Reason)
	}
	fmt.Fprintln(w)
	if r.Status == olr.Grace {
		fmt.Fprintf(w, "grace until: %s\n", r.GraceUntil.Format(time.RFC3339))
	}
	if r.Err != nil {
		fmt.Fprintf(w, "problem:     %v\n", r.Err)
	}
	if t := tpmVerdict(r); t != "" {
		fmt.Fprintf(w, "tpm:         %s\n", t)
	}
	if l := r.License; l != nil {
		fmt.Fprintf(w, "license:     %s (%s, signed by key %s)\n", l.ID, l.Type, l.KeyID)
		fmt.Fprintf(w, "licensee:    %s\n", l.Licensee)
		fmt.Fprintf(w, "product:     %s\n", l.Product)
		fmt.Fprintf(w, "issued:      %s\n", l.Issued.Format(time.RFC3339))
		fmt.Fprintf(w, "expires:     %s\n", lastDay(l.Expires))
		if !l.Maintenance.IsZero() {
			fmt.Fprintf(w, "maintenance: %s\n", lastDay(l.Maintenance))
		}
		var mods []string
		for _, m := range l.Modules {
			mods = append(mods, m.Name+" "+m.QuotaText())
		}
		fmt.Fprintf(w, "modules:     %s\n", orNone(strings.Join(mods, ", ")))
		fmt.Fprintf(w, "languages:   %s\n", orNone(strings.Join(l.Languages, ", ")))
		fmt.Fprintf(w, "grace:       %d days\n", l.GraceDays)
	}
	if m := r.Match; m != nil {
		verdict := "matches"
		if !m.Pass {
			verdict = "does not match"
		}
		fmt.Fprintf(w, "hardware:    %s (score %d of %d, %d%% needed)\n", verdict, m.Score, m.Total, m.Threshold)
		for _, k := range m.RequiredUnmatched {
			fmt.Fprintf(w, "             required factor %s did not match\n", k)
		}
		if explain || !m.Pass {
			printReport(w, m, nil)
		}
	}
}

// printReport shows every factor of a match, the score, and what would
// make a failed match pass. values, when known, maps the recorded hashes
// to the values they were made from (a saved fingerprint, not a license).
func printReport(w io.Writer, m *fingerprint.Report, values map[fingerprint.Hash]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "  FACTOR\tSTATUS\tWEIGHT\tVALUE ON THIS MACHINE\tSOURCE"
	if values != nil {
		header = "  FACTOR\tSTATUS\tWEIGHT\tRECORDED VALUE\tVALUE ON THIS MACHINE\tSOURCE"
	}
	fmt.Fprintln(tw, header)
	weights := map[fingerprint.Kind]int{}
	for _, k := range m.Kinds {
		weights[k.Kind] = k.Weight
	}
	for _, e := range m.Entries {
		v := orDash(e.Value)
		if e.Status == fingerprint.Matched && values != nil {
			v = "(same)"
		}
		if values != nil {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\n", e.Kind, e.Status, weights[e.Kind], orDash(recorded(values, e)), v, e.Source)
		} else {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", e.Kind, e.Status, weights[e.Kind], v, e.Source)
		}
	}
	tw.Flush()
	verdict := "passes"
	if !m.Pass {
		verdict = "fails"
	}
	fmt.Fprintf(w, "  score %d of %d: %s (%d%% = %d needed)\n", m.Score, m.Total, verdict, m.Threshold, m.PassScore())
	for _, k := range m.RequiredUnmatched {
		fmt.Fprintf(w, "  %s is required and did not match\n", k)
	}
	if fix := m.Remedy(); len(fix) > 0 {
		var names []string
		for _, k := range fix {
			names = append(names, fmt.Sprintf("%s (%d)", k.Kind, k.Weight))
		}
		fmt.Fprintf(w, "  it would pass if these matched again: %s\n", strings.Join(names, ", "))
	} else if !m.Pass {
		fmt.Fprintln(w, "  no set of factors can make it pass: this is another machine, or the license must be re-issued")
	}
}

// recorded returns the recorded value of an entry, when known.
func recorded(values map[fingerprint.Hash]string, e fingerprint.Entry) string {
	return values[e.Hash]
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// jsonResult is the --json form of a verification.
type jsonResult struct {
	Status     olr.Status          `json:"status"`
	Reason     olr.Reason          `json:"reason,omitempty"`
	Error      string              `json:"error,omitempty"`
	GraceUntil *time.Time          `json:"grace_until,omitempty"`
	License    *jsonLicense        `json:"license,omitempty"`
	Match      *fingerprint.Report `json:"match,omitempty"`
	State      *store.State        `json:"state,omitempty"`
	// TPM is the TPM binding's verdict, for a TPM-bound license.
	TPM string `json:"tpm,omitempty"`
}

type jsonLicense struct {
	ID          string            `json:"id"`
	KeyID       string            `json:"key_id"`
	RequestID   string            `json:"request_id"`
	Type        olr.LicenseType   `json:"type"`
	Product     string            `json:"product"`
	Licensee    string            `json:"licensee"`
	Issued      time.Time         `json:"issued"`
	NotBefore   time.Time         `json:"not_before"`
	Expires     *time.Time        `json:"expires,omitempty"`
	Maintenance *time.Time        `json:"maintenance,omitempty"`
	Modules     map[string]string `json:"modules"`
	Languages   []string          `json:"languages"`
	GraceDays   int               `json:"grace_days"`
}

func resultJSON(r *olr.Result, st *store.State) *jsonResult {
	j := &jsonResult{Status: r.Status, Reason: r.Reason, Match: r.Match, State: st, TPM: tpmVerdict(r)}
	if r.Err != nil {
		j.Error = r.Err.Error()
	}
	if !r.GraceUntil.IsZero() {
		j.GraceUntil = &r.GraceUntil
	}
	if l := r.License; l != nil {
		jl := &jsonLicense{ID: l.ID, KeyID: l.KeyID.String(), RequestID: l.RequestID, Type: l.Type, Product: l.Product,
			Licensee: l.Licensee, Issued: l.Issued, NotBefore: l.NotBefore, Modules: map[string]string{},
			Languages: l.Languages, GraceDays: l.GraceDays}
		if !l.Expires.IsZero() {
			jl.Expires = &l.Expires
		}
		if !l.Maintenance.IsZero() {
			jl.Maintenance = &l.Maintenance
		}
		for _, m := range l.Modules {
			jl.Modules[m.Name] = m.QuotaText()
		}
		if jl.Languages == nil {
			jl.Languages = []string{}
		}
		j.License = jl
	}
	return j
}
