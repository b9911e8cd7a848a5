package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/olr"
)

// maxQuotaFile bounds quota.json: a record per module, at most a few
// hundred bytes each.
const maxQuotaFile = 1 << 20

// QuotaFile records the modules whose usage is above the license's quota.
const QuotaFile = "quota.json"

// Overrun is a module in use beyond what the license allows: above its
// quota, or not licensed at all (an upgrade that uses a module not
// bought). The product keeps working until Until, the "stops at" time
// chosen when the overrun began, and stops after it until usage is back
// within the quota. Importing another license never moves Until.
type Overrun struct {
	Module   string    `json:"module"`
	Licensed bool      `json:"licensed"`
	Quota    int64     `json:"quota"` // at the last check; 0 when not licensed
	Usage    int64     `json:"usage"` // at the last check
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	// Countdown is the last countdown mark reported, in minutes before
	// Until; 0 before the countdown starts.
	Countdown int  `json:"countdown,omitzero"`
	Stopped   bool `json:"stopped,omitzero"` // the deadline passed
}

// Over reports whether the overrun is past its deadline at now.
func (o *Overrun) Over(now time.Time) bool { return !now.Before(o.Until) }

// QuotaEventKind names a step of an overrun.
type QuotaEventKind string

// The steps of an overrun, each reported once.
const (
	QuotaOverrun   QuotaEventKind = "quota-overrun"   // usage went above the quota: the grace period starts
	QuotaCountdown QuotaEventKind = "quota-countdown" // a countdown mark in the last part of the grace period
	QuotaResolved  QuotaEventKind = "quota-resolved"  // usage is back within the quota: the countdown stops
	QuotaStopped   QuotaEventKind = "quota-stopped"   // the grace period ended with usage still above the quota
)

// QuotaEvent is one step of an overrun, as CheckQuotas saw it.
type QuotaEvent struct {
	Kind    QuotaEventKind
	Overrun Overrun
	// Left is the time left before the deadline, for a countdown.
	Left time.Duration
}

// QuotaPolicy is how long a product lets usage stay above a quota.
type QuotaPolicy struct {
	// Grace returns the grace period of an overrun that starts now:
	// licensed is false for a module the license lacks.
	Grace func(module string, licensed bool) time.Duration
	// Countdown is how long before the deadline the countdown starts.
	Countdown time.Duration
}

// countdownMarks are the minutes before the deadline at which the
// countdown reports, within the countdown period.
var countdownMarks = []int{1, 5, 10, 20, 30, 40, 50, 60, 120, 180, 240, 360, 720, 1440}

// mark returns the countdown mark for the time left: the smallest mark
// that is at least left.
func mark(left, countdown time.Duration) int {
	first := int((countdown + time.Minute - 1) / time.Minute)
	for _, m := range countdownMarks {
		if m >= first {
			break
		}
		if time.Duration(m)*time.Minute >= left {
			return m
		}
	}
	return first
}

// Overruns returns the recorded overruns.
func (s *Store) Overruns() ([]Overrun, error) {
	out, _, err := s.readOverruns()
	return out, err
}

// readOverruns returns the recorded overruns and the file they were read
// from.
func (s *Store) readOverruns() ([]Overrun, []byte, error) {
	path := filepath.Join(s.Dir, QuotaFile)
	data, err := safefile.ReadFile(path, maxQuotaFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var out []Overrun
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return nil, nil, fmt.Errorf("%s is corrupt (%v)", path, err)
	}
	return out, data, nil
}

// Exceeds reports whether used, the usage of module, is beyond what lic
// allows: above its quota, or any use of a module lic lacks.
func Exceeds(lic *olr.License, module string, used int64) bool {
	m, licensed := lic.Module(module)
	return used > 0 && (!licensed || (m.Quota != olr.Unlimited && used > m.Quota))
}

// CheckQuotas compares usage (per module, as the product counts it) with
// the quotas of lic at now, records the overruns and returns those in
// force and the steps taken since the last check, each step once:
// an overrun begins, its countdown passes a mark, it ends because usage
// fell back within the quota, or its deadline passes. Modules missing
// from usage (their count failed) keep their record unchanged.
func (s *Store) CheckQuotas(lic *olr.License, usage map[string]int64, p QuotaPolicy, now time.Time) ([]Overrun, []QuotaEvent, error) {
	old, recorded, err := s.readOverruns()
	if err != nil {
		return nil, nil, err
	}
	now = now.UTC()
	var out []Overrun
	var events []QuotaEvent
	modules := make([]string, 0, len(usage))
	for m := range usage {
		modules = append(modules, m)
	}
	slices.Sort(modules)
	for _, o := range old {
		if _, counted := usage[o.Module]; !counted {
			out = append(out, o)
		}
	}
	for _, name := range modules {
		used := usage[name]
		m, licensed := lic.Module(name)
		over := Exceeds(lic, name, used)
		i := slices.IndexFunc(old, func(o Overrun) bool { return o.Module == name })
		switch {
		case !over && i >= 0:
			o := old[i]
			o.Usage, o.Quota, o.Licensed = used, m.Quota, licensed
			events = append(events, QuotaEvent{Kind: QuotaResolved, Overrun: o})
		case over && i < 0:
			o := Overrun{Module: name, Licensed: licensed, Quota: m.Quota, Usage: used, Since: now,
				Until: now.Add(p.Grace(name, licensed))}
			events = append(events, QuotaEvent{Kind: QuotaOverrun, Overrun: o, Left: o.Until.Sub(now)})
			events = append(events, step(&o, p, now)...)
			out = append(out, o)
		case over:
			o := old[i]
			o.Usage, o.Quota, o.Licensed = used, m.Quota, licensed
			events = append(events, step(&o, p, now)...)
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b Overrun) int { return strings.Compare(a.Module, b.Module) })
	if len(out) == 0 && len(old) == 0 {
		return nil, events, nil
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return out, events, err
	}
	data = append(data, '\n')
	if bytes.Equal(data, recorded) {
		return out, events, nil // a check that changed nothing writes nothing
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return out, events, err
	}
	if err := safefile.Replace(filepath.Join(s.Dir, QuotaFile), data, 0o600); err != nil {
		return out, events, fmt.Errorf("recording quota overruns: %w", err)
	}
	return out, events, nil
}

// step advances an overrun in force to now: the deadline, or the next
// countdown mark.
func step(o *Overrun, p QuotaPolicy, now time.Time) []QuotaEvent {
	left := o.Until.Sub(now)
	switch {
	case o.Stopped:
		return nil
	case left <= 0:
		o.Stopped = true
		return []QuotaEvent{{Kind: QuotaStopped, Overrun: *o}}
	case left <= p.Countdown:
		m := mark(left, p.Countdown)
		if o.Countdown == 0 || m < o.Countdown {
			o.Countdown = m
			return []QuotaEvent{{Kind: QuotaCountdown, Overrun: *o, Left: left}}
		}
	}
	return nil
}
