package portal

import (
	"sync"
	"time"
)

// Sign-in attempts are limited per account and per client address: a
// failed attempt counts against both, and once either has MaxFailures in
// a window, sign-ins are refused (without checking the password) until
// the window that began with the first failure has passed. A success
// clears the account's count, not the address's.

// Default limits on failed sign-ins.
const (
	DefaultAccountFailures = 5
	DefaultAddressFailures = 20
	DefaultFailureWindow   = 15 * time.Minute
)

// maxLimiterEntries bounds the memory of the limiter; past it, windows
// that are over are dropped, then the oldest.
const maxLimiterEntries = 100_000

type window struct {
	start    time.Time
	failures int
}

type limiter struct {
	mu      sync.Mutex
	max     int
	period  time.Duration
	windows map[string]*window
}

func newLimiter(max int, period time.Duration) *limiter {
	return &limiter{max: max, period: period, windows: map[string]*window{}}
}

// blocked returns how long key must wait before it may try again, or 0.
func (l *limiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[key]
	if w == nil {
		return 0
	}
	end := w.start.Add(l.period)
	if !now.Before(end) {
		delete(l.windows, key)
		return 0
	}
	if w.failures >= l.max {
		return end.Sub(now)
	}
	return 0
}

// fail counts a failed attempt for key.
func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[key]
	if w == nil || !now.Before(w.start.Add(l.period)) {
		if len(l.windows) >= maxLimiterEntries {
			l.prune(now)
		}
		w = &window{start: now}
		l.windows[key] = w
	}
	w.failures++
}

// reset forgets key's failures.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.windows, key)
}

// prune drops windows that are over and, if that is not enough, the
// oldest; the caller holds mu.
func (l *limiter) prune(now time.Time) {
	var oldest string
	var t time.Time
	for k, w := range l.windows {
		if !now.Before(w.start.Add(l.period)) {
			delete(l.windows, k)
		} else if t.IsZero() || w.start.Before(t) {
			oldest, t = k, w.start
		}
	}
	if len(l.windows) >= maxLimiterEntries {
		delete(l.windows, oldest)
	}
}
