package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

var policy = QuotaPolicy{
	Grace: func(_ string, licensed bool) time.Duration {
		if !licensed {
			return 60 * 24 * time.Hour
		}
		return 12 * time.Hour
	},
	Countdown: time.Hour,
}

type quotaRun struct {
	t   *testing.T
	s   *Store
	lic *olr.License
	now time.Time
}

func (r *quotaRun) check(usage map[string]int64) ([]Overrun, []QuotaEvent) {
	r.t.Helper()
	out, ev, err := r.s.CheckQuotas(r.lic, usage, policy, r.now)
	if err != nil {
		r.t.Fatal(err)
	}
	return out, ev
}

func kinds(ev []QuotaEvent) []QuotaEventKind {
	var k []QuotaEventKind
	for _, e := range ev {
		k = append(k, e.Kind)
	}
	return k
}

func expect(t *testing.T, when string, ev []QuotaEvent, want ...QuotaEventKind) {
	t.Helper()
	got := kinds(ev)
	if len(got) != len(want) {
		t.Fatalf("%s: events %v, want %v", when, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: events %v, want %v", when, got, want)
		}
	}
}

// TestQuotaOverrun follows an overrun with a fake clock: it begins with a
// 12-hour grace period, the countdown reports in the last hour at each
// mark once, and either usage falls back (resolved) or the deadline
// passes (stopped).
func TestQuotaOverrun(t *testing.T) {
	lic, _ := olrtest.License(olrtest.Key("quota"), olrtest.Fingerprint()) // obm 50
	start := olrtest.Epoch.Add(time.Hour)
	r := &quotaRun{t: t, s: Open(t.TempDir()), lic: lic, now: start}

	_, ev := r.check(map[string]int64{"obm": 50})
	expect(t, "at the quota", ev)

	out, ev := r.check(map[string]int64{"obm": 53})
	expect(t, "above the quota", ev, QuotaOverrun)
	if len(out) != 1 || !out[0].Until.Equal(start.Add(12*time.Hour)) || out[0].Usage != 53 || out[0].Quota != 50 {
		t.Fatalf("overrun %+v, want obm until %s", out, start.Add(12*time.Hour))
	}
	_, ev = r.check(map[string]int64{"obm": 53})
	expect(t, "checked again", ev)

	r.now = start.Add(10*time.Hour + 59*time.Minute)
	_, ev = r.check(map[string]int64{"obm": 53})
	expect(t, "61 minutes before the deadline", ev)
	r.now = start.Add(11*time.Hour + 1*time.Minute)
	_, ev = r.check(map[string]int64{"obm": 53})
	expect(t, "59 minutes before the deadline", ev, QuotaCountdown)
	if ev[0].Overrun.Countdown != 60 || ev[0].Left != 59*time.Minute {
		t.Fatalf("countdown event %+v", ev[0])
	}
	r.now = start.Add(11*time.Hour + 5*time.Minute)
	_, ev = r.check(map[string]int64{"obm": 53})
	expect(t, "55 minutes before", ev)
	r.now = start.Add(11*time.Hour + 12*time.Minute)
	_, ev = r.check(map[string]int64{"obm": 53})
	expect(t, "48 minutes before", ev, QuotaCountdown)
	r.now = start.Add(11*time.Hour + 55*time.Minute)
	_, ev = r.check(map[string]int64{"obm": 53})
	expect(t, "5 minutes before", ev, QuotaCountdown)
	if ev[0].Overrun.Countdown != 5 {
		t.Fatalf("countdown mark %d, want 5", ev[0].Overrun.Countdown)
	}

	// A resolved overrun ends the countdown; a new one starts afresh.
	_, ev = r.check(map[string]int64{"obm": 49})
	expect(t, "usage back within the quota", ev, QuotaResolved)
	if out, _ := r.s.Overruns(); len(out) != 0 {
		t.Fatalf("overruns recorded after resolution: %+v", out)
	}
	r.now = start.Add(20 * time.Hour)
	out, ev = r.check(map[string]int64{"obm": 51})
	expect(t, "above again", ev, QuotaOverrun)
	if !out[0].Until.Equal(r.now.Add(12 * time.Hour)) {
		t.Fatalf("a new overrun's deadline is %s", out[0].Until)
	}

	// Nobody acts: the deadline passes once, and the product stays
	// stopped until usage is within the quota.
	deadline := out[0].Until
	r.now = deadline
	out, ev = r.check(map[string]int64{"obm": 51})
	expect(t, "at the deadline", ev, QuotaStopped)
	if !out[0].Stopped || !out[0].Over(r.now) {
		t.Fatalf("overrun after its deadline: %+v", out[0])
	}
	r.now = deadline.Add(time.Hour)
	_, ev = r.check(map[string]int64{"obm": 51})
	expect(t, "after the deadline", ev)
	_, ev = r.check(map[string]int64{"obm": 50})
	expect(t, "back within", ev, QuotaResolved)
}

// TestQuotaOverrunSurvivesReimport: a license with more quota ends the
// overrun; importing the same small license again does not restart it.
func TestQuotaOverrunKeepsDeadline(t *testing.T) {
	lic, _ := olrtest.License(olrtest.Key("quota"), olrtest.Fingerprint())
	r := &quotaRun{t: t, s: Open(t.TempDir()), lic: lic, now: olrtest.Epoch}
	out, _ := r.check(map[string]int64{"obm": 60})
	until := out[0].Until
	r.now = r.now.Add(6 * time.Hour)
	again, ev := r.check(map[string]int64{"obm": 60})
	expect(t, "later", ev)
	if !again[0].Until.Equal(until) {
		t.Fatalf("deadline moved from %s to %s", until, again[0].Until)
	}
	bigger := *lic
	bigger.Modules = []olr.Module{{Name: "obm", Quota: 100}}
	r.lic = &bigger
	_, ev = r.check(map[string]int64{"obm": 60})
	expect(t, "with a bigger license", ev, QuotaResolved)
}

// TestQuotaUnlicensedModule: a module in use that the license lacks gets
// the longer grace period; a failed count leaves its record alone.
func TestQuotaUnlicensedModule(t *testing.T) {
	lic, _ := olrtest.License(olrtest.Key("quota"), olrtest.Fingerprint())
	r := &quotaRun{t: t, s: Open(t.TempDir()), lic: lic, now: olrtest.Epoch}
	out, ev := r.check(map[string]int64{"hyperv-vm": 3, "mobile": 1000, "obm": 0})
	expect(t, "unlicensed module", ev, QuotaOverrun)
	if out[0].Module != "hyperv-vm" || out[0].Licensed || !out[0].Until.Equal(r.now.Add(60*24*time.Hour)) {
		t.Fatalf("overrun %+v", out[0])
	}
	out, ev = r.check(map[string]int64{"obm": 1})
	expect(t, "hyperv-vm not counted", ev)
	if len(out) != 1 || out[0].Module != "hyperv-vm" {
		t.Fatalf("record of an uncounted module changed: %+v", out)
	}
}

func TestCountdownMarks(t *testing.T) {
	for _, tc := range []struct {
		left time.Duration
		want int
	}{
		{60 * time.Minute, 60}, {59 * time.Minute, 60}, {50 * time.Minute, 50}, {49 * time.Minute, 50},
		{11 * time.Minute, 20}, {10 * time.Minute, 10}, {6 * time.Minute, 10}, {5 * time.Minute, 5},
		{2 * time.Minute, 5}, {30 * time.Second, 1},
	} {
		if got := mark(tc.left, time.Hour); got != tc.want {
			t.Errorf("mark(%s) = %d, want %d", tc.left, got, tc.want)
		}
	}
}

// TestQuotaCheckUnchangedWritesNothing: a check that finds the overruns
// as recorded leaves quota.json as it is, so that a monitor checking every
// minute does not rewrite and sync it every minute.
func TestQuotaCheckUnchangedWritesNothing(t *testing.T) {
	lic, _ := olrtest.License(olrtest.Key("quota"), olrtest.Fingerprint()) // obm 50
	r := &quotaRun{t: t, s: Open(t.TempDir()), lic: lic, now: olrtest.Epoch.Add(time.Hour)}
	r.check(map[string]int64{"obm": 53})
	path := filepath.Join(r.s.Dir, QuotaFile)
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	r.now = r.now.Add(time.Minute)
	r.check(map[string]int64{"obm": 53})
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Fatal("quota.json was replaced by a check that changed nothing")
	}
	r.check(map[string]int64{"obm": 54}) // the usage recorded changes
	if after, err = os.Stat(path); err != nil || os.SameFile(before, after) {
		t.Fatalf("quota.json kept after the usage changed (%v)", err)
	}
}
