package page

import (
	"errors"
	"testing"

	"github.com/olr-dev/olr/olr"
)

// Every reason a check can give has a title and something to do on the
// page, as olr verify has for it: none shows as a bare reason name.
func TestEveryReasonExplained(t *testing.T) {
	for _, r := range []olr.Reason{olr.ReasonNotInstalled, olr.ReasonHardwareMismatch, olr.ReasonGraceExpired,
		olr.ReasonExpired, olr.ReasonNotYetValid, olr.ReasonRevoked, olr.ReasonClockRollback, olr.ReasonUntrustedKey,
		olr.ReasonBadSignature, olr.ReasonMalformed, olr.ReasonTPMUnavailable, olr.ReasonTPMMismatch} {
		p := problemOf(&olr.Result{Status: olr.Invalid, Reason: r}, errors.New("the check's error"))
		if _, titled := reasonText[r]; !titled || p.Title == "" || p.Hint == "" {
			t.Errorf("%s: title %q, hint %q", r, p.Title, p.Hint)
		}
	}
}
