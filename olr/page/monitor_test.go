package page_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr/olrtest"
	"github.com/olr-dev/olr/olr/page"
)

// activate runs a whole activation through the JSON API: api/request,
// the real olr-sign, api/import.
func activate(t *testing.T, s *site, v *vendor, issueArgs ...string) {
	t.Helper()
	res, err := http.Post(s.url("api/request"), "application/json",
		strings.NewReader(`{"licensee":"Example Backup Ltd","key":"OEM-7Q2D-K9XW-4M3T"}`))
	if err != nil {
		t.Fatal(err)
	}
	var pend page.Pending
	json.NewDecoder(res.Body).Decode(&pend)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || pend.Armored == "" || len(pend.Parts) == 0 {
		t.Fatalf("api/request: %s %+v", res.Status, pend)
	}
	lic := v.issue(t, []byte(pend.Armored), issueArgs...)
	res, err = http.Post(s.url("api/import"), "application/octet-stream", bytes.NewReader(lic))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("api/import: %s\n%s", res.Status, body)
	}
}

// logLines returns the messages logged since the last call.
func (s *site) logLines(t *testing.T) []string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Left string `json:"left"`
		}
		if line == "" || json.Unmarshal([]byte(line), &rec) != nil || rec.Msg == "license page" {
			continue
		}
		if rec.Left != "" {
			rec.Msg += " " + rec.Left
		}
		out = append(out, rec.Msg)
	}
	s.logs.Reset()
	return out
}

func (s *site) takeAlerts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.alerts {
		out = append(out, a.Event)
	}
	s.alerts = nil
	return out
}

func (s *site) check(t *testing.T) *page.Status {
	t.Helper()
	st, err := s.h.Monitor().Check(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func same(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			return false
		}
	}
	return true
}

// TestQuotaOverrunGrace follows a quota overrun with a fake clock, as the
// vendor's server treats it: a 12-hour grace period, a countdown logged
// in the last hour, the countdown stopped when usage falls back, and the
// product stopped after the deadline; each alert raised once.
func TestQuotaOverrunGrace(t *testing.T) {
	v := newVendor(t, true)
	s := newSite(t, v, olrtest.Fingerprint())
	activate(t, s, v)
	t0 := s.clock.Now()
	s.logLines(t)
	if st := s.check(t); st.Status != "valid" || len(st.Overruns) != 0 || len(st.Banners) != 0 || s.takeAlerts() != nil {
		t.Fatalf("after activation: %+v", st)
	}

	s.setUsage("obm", 53) // a smaller license, or users added behind the page's back
	st := s.check(t)
	if len(st.Overruns) != 1 || !st.Overruns[0].Until.Equal(t0.Add(12*time.Hour).UTC()) {
		t.Fatalf("overruns %+v, want obm until %s", st.Overruns, t0.Add(12*time.Hour))
	}
	if len(st.Banners) != 1 || st.Banners[0].Deadline == nil || !strings.Contains(st.Banners[0].Message, "53 in use, 50 licensed") {
		t.Fatalf("banners %+v", st.Banners)
	}
	if got := s.logLines(t); !same(got, "license: quota exceeded, grace period started", "license alert", "license alert") {
		t.Fatalf("log at the overrun: %q", got)
	}
	if got := s.takeAlerts(); !same(got, page.AlertQuotaOverrun, page.AlertGraceEnding) {
		t.Fatalf("alerts at the overrun: %q", got)
	}
	s.clock.Set(t0.Add(6 * time.Hour))
	s.check(t)
	if got, alerts := s.logLines(t), s.takeAlerts(); got != nil || alerts != nil {
		t.Fatalf("checked again: logged %q, alerted %q", got, alerts)
	}

	// The countdown starts in the last hour and logs at its marks.
	for _, step := range []struct {
		at   time.Duration
		want []string
	}{
		{11*time.Hour - time.Minute, nil},
		{11*time.Hour + time.Minute, []string{"license: server stop countdown 59m0s"}},
		{11*time.Hour + 5*time.Minute, nil},
		{11*time.Hour + 12*time.Minute, []string{"license: server stop countdown 48m0s"}},
		{11*time.Hour + 56*time.Minute, []string{"license: server stop countdown 4m0s"}},
	} {
		s.clock.Set(t0.Add(step.at))
		s.check(t)
		if got := s.logLines(t); !same(got, step.want...) {
			t.Fatalf("at +%s: logged %q, want %q", step.at, got, step.want)
		}
	}
	// Usage back within the quota: the countdown stops.
	s.setUsage("obm", 49)
	if st := s.check(t); len(st.Overruns) != 0 || len(st.Banners) != 0 || st.Stopped {
		t.Fatalf("after the fix: %+v", st)
	}
	if got := s.logLines(t); !same(got, "license: quota usage back within the quota, server stop countdown stopped") {
		t.Fatalf("log at the fix: %q", got)
	}

	// Again, and nobody acts: the product stops at the deadline.
	t1 := t0.Add(13 * time.Hour)
	s.clock.Set(t1)
	s.setUsage("obm", 51)
	s.check(t)
	if got := s.takeAlerts(); !same(got, page.AlertQuotaOverrun, page.AlertGraceEnding) {
		t.Fatalf("alerts at the second overrun: %q", got)
	}
	s.clock.Set(t1.Add(12 * time.Hour))
	s.logLines(t)
	st = s.check(t)
	if !st.Stopped || len(st.Banners) != 1 || st.Banners[0].Level != "error" || !strings.Contains(st.Banners[0].Message, "product is stopped") {
		t.Fatalf("after the deadline: stopped %v, banners %+v", st.Stopped, st.Banners)
	}
	if got := s.logLines(t); !same(got, "license: quota grace period over, server stopped", "license alert") {
		t.Fatalf("log at the deadline: %q", got)
	}
	if got := s.takeAlerts(); !same(got, page.AlertQuotaStopped) {
		t.Fatalf("alerts at the deadline: %q", got)
	}
	s.clock.Set(t1.Add(13 * time.Hour))
	s.check(t)
	if got, alerts := s.logLines(t), s.takeAlerts(); got != nil || alerts != nil {
		t.Fatalf("stopped, checked again: logged %q, alerted %q", got, alerts)
	}
}

// TestHardwareGraceAlerts: a machine that drifts raises "grace started",
// then "grace ending" in its last day, then "invalid", each once.
func TestHardwareGraceAlerts(t *testing.T) {
	v := newVendor(t, true)
	s := newSite(t, v, olrtest.Fingerprint())
	activate(t, s, v)
	t0 := s.clock.Now()
	s.check(t)
	s.takeAlerts()

	// Two NICs and the disk replaced, the rest kept: a partial match.
	s.mu.Lock()
	s.fp = olrtest.Only(olrtest.Fingerprint(), fingerprint.KindMachineID, fingerprint.KindProductUUID, fingerprint.KindIP)
	s.mu.Unlock()
	st := s.check(t)
	if st.Status != "grace" || st.GraceUntil == nil {
		t.Fatalf("drifted machine: %s %s", st.Status, st.Reason)
	}
	for _, step := range []struct {
		at   time.Duration
		want []string
	}{
		{0, []string{page.AlertGrace}},
		{time.Hour, nil},
		{13*24*time.Hour + time.Hour, []string{page.AlertGraceEnding}},
		{13*24*time.Hour + 2*time.Hour, nil},
		{14*24*time.Hour + time.Hour, []string{page.AlertInvalid}},
		{14*24*time.Hour + 2*time.Hour, nil},
	} {
		s.clock.Set(t0.Add(step.at))
		s.check(t)
		if got := s.takeAlerts(); !same(got, step.want...) {
			t.Fatalf("at +%s: alerts %q, want %q", step.at, got, step.want)
		}
	}
}
