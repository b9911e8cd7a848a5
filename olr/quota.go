package olr

import (
	"errors"
	"fmt"
	"strconv"
)

// MaxQuota is the largest finite quota a license carries, 2^63-2: every
// quota and quota+1 fit in an int64, so products can count up to it.
const MaxQuota int64 = maxQuota

// ErrQuotaSyntax and ErrQuotaTooLarge are wrapped by ParseQuota's errors.
var (
	ErrQuotaSyntax   = errors.New(`not a whole number or "unlimited"`)
	ErrQuotaTooLarge = fmt.Errorf("too large (the largest quota is %d; use \"unlimited\" for no limit)", MaxQuota)
)

// ParseQuota parses a quota as licenses and the vendor's sales exports
// write it: "unlimited", or a whole number in canonical decimal (digits
// only, no sign, no leading zero) from 0 to MaxQuota. It is the one rule
// for quotas everywhere in olr.
func ParseQuota(s string) (int64, error) {
	if s == "unlimited" {
		return Unlimited, nil
	}
	canonical := s != "" && (s == "0" || s[0] != '0')
	for i := 0; i < len(s) && canonical; i++ {
		canonical = '0' <= s[i] && s[i] <= '9'
	}
	if !canonical {
		return 0, &quotaError{text: s, err: ErrQuotaSyntax}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > MaxQuota {
		return 0, &quotaError{text: s, err: ErrQuotaTooLarge}
	}
	return n, nil
}

type quotaError struct {
	text string
	err  error
}

func (e *quotaError) Error() string {
	t := e.text
	if len(t) > 40 {
		t = t[:40] + "..."
	}
	return fmt.Sprintf("quota %q is %v", t, e.err)
}

func (e *quotaError) Unwrap() error { return e.err }

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
