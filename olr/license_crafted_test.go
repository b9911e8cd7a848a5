package olr_test

import (
	"errors"
	"testing"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

func TestCraftedLicenses(t *testing.T) {
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	_, lic := olrtest.License(key, fp)
	trust := olrtest.Trust(key)
	now := olrtest.Epoch.Add(time.Hour)
	for _, c := range olrtest.CraftedLicenses(lic, key) {
		t.Run(c.Name, func(t *testing.T) {
			r, err := olr.Verify(c.File, trust, fp, now, nil)
			var ve *olr.VerifyError
			switch {
			case c.Want == "" && err != nil:
				t.Fatalf("%v, want valid", err)
			case c.Want == "":
			case !errors.As(err, &ve) || r.Reason != c.Want:
				t.Fatalf("%s (%v), want %s", r.Reason, err, c.Want)
			}
		})
	}
}

// TestSignRefuses: what the parser refuses, Sign refuses to make, so that
// the signer cannot issue a license no verifier accepts.
func TestSignRefuses(t *testing.T) {
	key := olrtest.Key("vendor")
	for name, change := range map[string]func(l *olr.License){
		"no weight on what is recorded": func(l *olr.License) {
			l.Binding.Policy.Weights = nil
		},
		"quota 2^63-1":         func(l *olr.License) { l.Modules[0].Quota = 1<<63 - 1 },
		"issued in 1969":       func(l *olr.License) { l.Issued = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC) },
		"expires in 10000":     func(l *olr.License) { l.Expires = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"language zh-tw":       func(l *olr.License) { l.Languages = []string{"en", "zh-tw"} },
		"licensee with a bidi": func(l *olr.License) { l.Licensee = "Example \u202eLtd" },
	} {
		t.Run(name, func(t *testing.T) {
			l, _ := olrtest.License(key, olrtest.Fingerprint())
			change(l)
			if _, err := olr.Sign(l, key); err == nil {
				t.Fatal("signed")
			}
		})
	}
}
