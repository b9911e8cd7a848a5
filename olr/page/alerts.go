package page

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/olr"
)

// Alert events.
const (
	AlertInvalid      = "license-invalid" // the license is not usable: the product stops
	AlertGrace        = "license-grace"   // the hardware changed: a grace period started
	AlertGraceEnding  = "grace-ending"    // a grace period ends within a day
	AlertQuotaOverrun = "quota-overrun"   // usage went above a quota: its grace period started
	AlertQuotaStopped = "quota-stopped"   // a quota's grace period ended with usage above it
)

// Alert is a license error, given to Config.OnAlert (and, by olr serve
// --on-alert, to a command as JSON on its standard input) once per
// change: when it first appears, not at every check.
type Alert struct {
	Event     string     `json:"event"`
	Product   string     `json:"product"`
	Time      time.Time  `json:"time"`
	Status    olr.Status `json:"status"`
	Reason    olr.Reason `json:"reason,omitempty"`
	Message   string     `json:"message"`
	Hint      string     `json:"hint,omitempty"`
	LicenseID string     `json:"license_id,omitempty"`
	Module    string     `json:"module,omitempty"`
	Usage     *int64     `json:"usage,omitempty"`
	Quota     *int64     `json:"quota,omitempty"`
	Deadline  *time.Time `json:"deadline,omitempty"`
	key       string
}

// alertsFile records, in a product's state directory, the alerts in
// force, so that each is raised once even across restarts.
const alertsFile = "alerts.json"

// alerts raises the alerts of s that were not in force at the last check.
func (m *Monitor) alerts(ctx context.Context, p *product, s *Status, res *olr.Result, now time.Time) {
	if res.Reason == olr.ReasonNotInstalled {
		return // nothing to alert about before the first activation
	}
	var cur []Alert
	add := func(a Alert) {
		a.Product, a.Time, a.Status, a.Reason = p.Name, now.UTC(), s.Status, s.Reason
		if s.License != nil {
			a.LicenseID = s.License.ID
		}
		cur = append(cur, a)
	}
	switch {
	case s.Problem != nil:
		lid := ""
		if s.License != nil {
			lid = s.License.ID
		}
		add(Alert{Event: AlertInvalid, Message: s.Problem.Message, Hint: s.Problem.Hint,
			key: AlertInvalid + "/" + string(s.Reason) + "/" + lid})
	case s.GraceUntil != nil:
		g := *s.GraceUntil
		key := s.License.ID + "/" + g.Format(time.RFC3339)
		add(Alert{Event: AlertGrace, Deadline: &g, key: AlertGrace + "/" + key,
			Message: "this machine no longer matches its license; the product stops at " + g.Format(time.RFC3339) + " unless a new license is imported"})
		if g.Sub(now) <= graceWarning {
			add(Alert{Event: AlertGraceEnding, Deadline: &g, key: AlertGraceEnding + "/" + key,
				Message: "the hardware grace period ends at " + g.Format(time.RFC3339)})
		}
	}
	for _, o := range s.Overruns {
		until, usage, quota := o.Until, o.Usage, o.Quota
		key := o.Module + "/" + o.Since.Format(time.RFC3339)
		a := Alert{Module: o.Module, Usage: &usage, Quota: &quota, Deadline: &until}
		for _, b := range s.Banners {
			if b.Deadline != nil && b.Deadline.Equal(until) {
				a.Message, a.Hint = b.Message, b.Hint
			}
		}
		over := a
		over.Event, over.key = AlertQuotaOverrun, AlertQuotaOverrun+"/"+key
		add(over)
		if o.Over(now) {
			stop := a
			stop.Event, stop.key = AlertQuotaStopped, AlertQuotaStopped+"/"+key
			add(stop)
		} else if until.Sub(now) <= graceWarning {
			end := a
			end.Event, end.key = AlertGraceEnding, AlertGraceEnding+"/"+key
			add(end)
		}
	}
	path := filepath.Join(p.StateDir, alertsFile)
	prev := readAlerts(path)
	keys := make([]string, 0, len(cur))
	for _, a := range cur {
		keys = append(keys, a.key)
		if slices.Contains(prev, a.key) {
			continue
		}
		m.h.log.WarnContext(ctx, "license alert", "event", a.Event, "product", a.Product, "status", a.Status,
			"reason", a.Reason, "module", a.Module, "message", a.Message)
		if m.h.cfg.OnAlert != nil {
			m.h.cfg.OnAlert(ctx, a)
		}
	}
	if slices.Equal(keys, prev) {
		return
	}
	if _, err := os.Stat(p.StateDir); err != nil {
		return // no state yet: nothing installed here
	}
	data, _ := json.Marshal(keys)
	if err := safefile.Replace(path, append(data, '\n'), 0o600); err != nil {
		m.h.log.ErrorContext(ctx, "license: cannot record the alerts raised", "err", err)
	}
}

func readAlerts(path string) []string {
	data, err := safefile.ReadFile(path, 1<<20)
	if err != nil {
		return nil // none recorded, or unreadable: raise them again
	}
	var keys []string
	if json.NewDecoder(bytes.NewReader(data)).Decode(&keys) != nil {
		return nil
	}
	return keys
}
