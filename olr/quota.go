package olr

import (
	"errors"
	"fmt"
)

// ErrQuotaExceeded is wrapped by every [QuotaError], for errors.Is.
var ErrQuotaExceeded = errors.New("license quota exceeded")

// QuotaError reports an action that the license does not allow: adding
// Requested units to module Module, which already uses Usage of Quota.
// Quota is 0 for a module the license does not include.
type QuotaError struct {
	Module    string
	Quota     int64
	Usage     int64
	Requested int64
	Licensed  bool // false when the license has no such module
}

func (e *QuotaError) Error() string {
	if !e.Licensed {
		return fmt.Sprintf("module %s is not licensed: the action is blocked", e.Module)
	}
	return fmt.Sprintf("module %s quota exceeded: %d in use + %d requested > quota %d: the action is blocked",
		e.Module, e.Usage, e.Requested, e.Quota)
}

func (e *QuotaError) Unwrap() error { return ErrQuotaExceeded }

// CheckQuota tells whether an action that adds n units of module to a
// current usage of used stays within the license. Products call it before
// the action (creating a user, a backup set, assigning quota to a
// sub-admin) and block the action on a non-nil error, a *QuotaError.
// Reducing usage (n <= 0) is always allowed, even over quota, so that an
// operator can get back under it.
func (l *License) CheckQuota(module string, used, n int64) error {
	m, ok := l.Module(module)
	if !ok {
		if n <= 0 {
			return nil
		}
		return &QuotaError{Module: module, Usage: used, Requested: n}
	}
	if n <= 0 || m.Quota == Unlimited {
		return nil
	}
	if used < 0 || used > m.Quota || n > m.Quota-used {
		return &QuotaError{Module: module, Quota: m.Quota, Usage: used, Requested: n, Licensed: true}
	}
	return nil
}
