package page

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/store"
)

// QuotaPolicy is the product's grace for usage above its license's
// quotas. The zero value takes the vendor's terms: 12 hours over a quota,
// 60 days for a module the license lacks (an upgrade that needs a module
// not bought), and a countdown in the last hour.
type QuotaPolicy struct {
	Grace           time.Duration
	UnlicensedGrace time.Duration
	Countdown       time.Duration
}

func (q QuotaPolicy) withDefaults() QuotaPolicy {
	if q.Grace <= 0 {
		q.Grace = 12 * time.Hour
	}
	if q.UnlicensedGrace <= 0 {
		q.UnlicensedGrace = 60 * 24 * time.Hour
	}
	if q.Countdown <= 0 {
		q.Countdown = time.Hour
	}
	return q
}

func (q QuotaPolicy) store() store.QuotaPolicy {
	return store.QuotaPolicy{Countdown: q.Countdown, Grace: func(_ string, licensed bool) time.Duration {
		if licensed {
			return q.Grace
		}
		return q.UnlicensedGrace
	}}
}

// graceWarning is how long before a deadline the page warns and alerts.
const graceWarning = 24 * time.Hour

// Monitor checks the license and the quotas of every product, records
// what it saw, logs each change once and raises alerts. Every view of
// the page runs it; a product also runs it on a timer (Run), so that a
// quota countdown is logged while nobody looks.
type Monitor struct {
	h  *Handler
	mu sync.Mutex // one check at a time: they record state
}

// Run checks every product now and then at every tick of interval until
// ctx ends.
func (m *Monitor) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, p := range m.h.products {
			m.Check(ctx, p.Name)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check checks one product (by name; "" for the first) and returns what
// the page shows of it.
func (m *Monitor) Check(ctx context.Context, productName string) (*Status, error) {
	for _, p := range m.h.products {
		if productName == "" || p.Name == productName {
			return m.check(ctx, p), nil
		}
	}
	return nil, fmt.Errorf("no product %q", productName)
}

func (m *Monitor) check(ctx context.Context, p *product) *Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.h
	now := h.cfg.Now()
	s := &Status{Product: p.Name, Title: p.Title, Checked: now.UTC()}
	pend, _ := h.pending(p)
	s.Pending = pend
	mach, err := h.cfg.Machine(ctx)
	var res *olr.Result
	if err != nil {
		res = &olr.Result{Status: olr.Invalid, Reason: olr.ReasonFingerprintFailed}
		err = &olr.VerifyError{Reason: olr.ReasonFingerprintFailed, Err: fmt.Errorf("cannot fingerprint this machine: %v", err)}
	} else {
		res, err = p.store.Check(h.cfg.Trust, mach.Fingerprint, now, &olr.VerifyOptions{Product: p.Name, TPM: mach.Prover()})
		mach.Close()
	}
	s.Status, s.Reason, s.Match = res.Status, res.Reason, res.Match
	if s.Match != nil {
		s.Factors = factorRows(s.Match)
		if !s.Match.Pass {
			s.Remedy = s.Match.Remedy()
		}
	}
	if err != nil {
		s.Problem = problemOf(res, err)
		s.Stopped = true
		s.Banners = append(s.Banners, Banner{Level: "error", Title: s.Problem.Title, Message: s.Problem.Message, Hint: s.Problem.Hint})
	}
	if res.Status == olr.Grace {
		g := res.GraceUntil.UTC()
		s.GraceUntil = &g
		s.Banners = append(s.Banners, Banner{Level: "warning", Title: "Hardware changed: grace period",
			Message:  fmt.Sprintf("this machine no longer matches its license; the product stops at %s unless a new license is imported", g.Format(shownTime)),
			Hint:     "generate a new offline license request and send it to the vendor",
			Deadline: &g})
	}
	if l := res.License; l != nil {
		st, _ := p.store.State()
		s.License = licenseInfo(l, st, pend)
		if res.Usable() {
			m.quotas(ctx, p, l, s, now)
		}
	}
	m.alerts(ctx, p, s, res, now)
	return s
}

// quotas fills in the quota table and the overruns.
func (m *Monitor) quotas(ctx context.Context, p *product, l *olr.License, s *Status, now time.Time) {
	names := make([]string, 0, len(l.Modules)+len(p.Modules))
	for _, mod := range l.Modules {
		names = append(names, mod.Name)
	}
	for _, n := range p.Modules {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	usage := map[string]int64{}
	for _, name := range names {
		mod, licensed := l.Module(name)
		mi := ModuleInfo{Name: name, Group: groupOf(name), Licensed: licensed, Quota: "0"}
		if licensed {
			mi.Quota = mod.QuotaText()
		}
		if p.Usage != nil {
			used, err := p.Usage(name)
			if err != nil {
				mi.Error = err.Error()
				m.h.log.WarnContext(ctx, "license: cannot count module usage", "product", p.Name, "module", name, "err", err)
			} else {
				usage[name] = used
				mi.Used = &used
				switch {
				case licensed && mod.Quota == olr.Unlimited:
					mi.Available = "unlimited"
				case used >= mod.Quota:
					mi.Available = "0"
				default:
					mi.Available = fmt.Sprint(mod.Quota - used)
				}
				mi.Over = store.Exceeds(l, name, used)
			}
		}
		s.Modules = append(s.Modules, mi)
	}
	slices.SortStableFunc(s.Modules, func(a, b ModuleInfo) int { return groupRank(a.Group) - groupRank(b.Group) })
	if p.Usage == nil {
		return
	}
	overruns, events, err := p.store.CheckQuotas(l, usage, m.h.cfg.Quota.store(), now)
	if err != nil {
		m.h.log.ErrorContext(ctx, "license: cannot record quota overruns", "product", p.Name, "err", err)
	}
	for _, e := range events {
		m.logQuota(ctx, p, e)
	}
	s.Overruns = overruns
	for _, o := range overruns {
		until := o.Until
		b := Banner{Level: "warning", Deadline: &until,
			Title: fmt.Sprintf("Quota exceeded: %s", o.Module),
			Hint:  fmt.Sprintf("reduce the usage of %s to %d or less, or import a license with more", o.Module, o.Quota)}
		if !o.Licensed {
			b.Title = fmt.Sprintf("Module not licensed: %s", o.Module)
			b.Hint = fmt.Sprintf("stop using %s, or import a license that includes it", o.Module)
		}
		if o.Over(now) {
			b.Level = "error"
			s.Stopped = true
			b.Message = fmt.Sprintf("%d in use, %s licensed: the grace period ended at %s and the product is stopped", o.Usage, quotaText(o), until.Format(shownTime))
		} else {
			b.Message = fmt.Sprintf("%d in use, %s licensed: the product stops at %s unless usage falls within the quota", o.Usage, quotaText(o), until.Format(shownTime))
		}
		s.Banners = append(s.Banners, b)
	}
}

func quotaText(o store.Overrun) string {
	if !o.Licensed {
		return "none"
	}
	return fmt.Sprint(o.Quota)
}

// logQuota logs one step of an overrun, as the vendor's server does:
// the counter starts, counts down, stops when usage is solved, or the
// server stops.
func (m *Monitor) logQuota(ctx context.Context, p *product, e store.QuotaEvent) {
	o := e.Overrun
	attrs := []slog.Attr{slog.String("product", p.Name), slog.String("module", o.Module),
		slog.Int64("usage", o.Usage), slog.Int64("quota", o.Quota), slog.Bool("licensed", o.Licensed),
		slog.Time("stops_at", o.Until)}
	switch e.Kind {
	case store.QuotaOverrun:
		m.h.log.LogAttrs(ctx, slog.LevelWarn, "license: quota exceeded, grace period started", append(attrs, slog.String("grace", e.Left.String()))...)
	case store.QuotaCountdown:
		m.h.log.LogAttrs(ctx, slog.LevelWarn, "license: server stop countdown", append(attrs, slog.String("left", e.Left.Round(time.Second).String()))...)
	case store.QuotaResolved:
		m.h.log.LogAttrs(ctx, slog.LevelInfo, "license: quota usage back within the quota, server stop countdown stopped", attrs...)
	case store.QuotaStopped:
		m.h.log.LogAttrs(ctx, slog.LevelError, "license: quota grace period over, server stopped", attrs...)
	}
}
