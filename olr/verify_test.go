package olr_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

func TestVerifyReasons(t *testing.T) {
	key := olrtest.Key("vendor")
	other := olrtest.Key("other")
	fp := olrtest.Fingerprint()
	l, lic := olrtest.License(key, fp)
	trust := olrtest.Trust(key)
	now := olrtest.Epoch.Add(time.Hour)

	stranger := &fingerprint.Fingerprint{}
	stranger.Add(fingerprint.KindMAC, "00:11:22:33:44:55", "test", false)
	stranger.Add(fingerprint.KindMachineID, "00112233445566778899aabbccddeeff", "test", false)

	// drifted keeps the NICs, loses the rest: a partial match.
	drifted := &fingerprint.Fingerprint{}
	for _, f := range fp.Factors {
		if f.Kind == fingerprint.KindMAC {
			drifted.Factors = append(drifted.Factors, f)
		}
	}

	windowed := &olr.Trust{}
	windowed.Add(key.Public().(ed25519.PublicKey), olrtest.Epoch.Add(time.Hour), time.Time{})

	_, v3 := olrtest.License(key, fp)
	v3 = bytes.Replace(v3, []byte("olr-license/v1"), []byte("olr-license/v3"), 1)

	cases := []struct {
		name    string
		lic     []byte
		trust   *olr.Trust
		fp      *fingerprint.Fingerprint
		now     time.Time
		opts    *olr.VerifyOptions
		status  olr.Status
		reason  olr.Reason
		errorIs error
	}{
		{"valid", lic, trust, fp, now, nil, olr.Valid, "", nil},
		{"valid for product", lic, trust, fp, now, &olr.VerifyOptions{Product: "backup-server"}, olr.Valid, "", nil},
		{"empty", nil, trust, fp, now, nil, olr.Invalid, olr.ReasonMalformed, nil},
		{"garbage", []byte("\x00\x01garbage"), trust, fp, now, nil, olr.Invalid, olr.ReasonMalformed, nil},
		{"truncated", lic[:len(lic)/2], trust, fp, now, nil, olr.Invalid, olr.ReasonMalformed, nil},
		{"trailing data", append(bytes.Clone(lic), "x\n"...), trust, fp, now, nil, olr.Invalid, olr.ReasonMalformed, nil},
		{"crlf after copy and paste", bytes.ReplaceAll(lic, []byte("\n"), []byte("\r\n")), trust, fp, now, nil, olr.Valid, "", nil},
		{"blank lines around", append(append([]byte("\n\r\n"), lic...), "\n\n"...), trust, fp, now, nil, olr.Valid, "", nil},
		{"no final newline", lic[:len(lic)-1], trust, fp, now, nil, olr.Valid, "", nil},
		{"lone CR", bytes.Replace(lic, []byte("\n"), []byte("\r"), 1), trust, fp, now, nil, olr.Invalid, olr.ReasonMalformed, nil},
		{"trailing space", append(bytes.Clone(lic), ' '), trust, fp, now, nil, olr.Invalid, olr.ReasonMalformed, nil},
		{"pasted into other text", append([]byte("Hello,\nhere is the license:\n"), lic...), trust, fp, now, nil, olr.Invalid, olr.ReasonMalformed, nil},
		{"oversized", bytes.Repeat([]byte("a"), olr.MaxLicenseSize+1), trust, fp, now, nil, olr.Invalid, olr.ReasonMalformed, nil},
		{"v3", v3, trust, fp, now, nil, olr.Invalid, olr.ReasonUnsupported, nil},
		{"untrusted", lic, olrtest.Trust(other), fp, now, nil, olr.Invalid, olr.ReasonUntrustedKey, olr.ErrUnknownKey},
		{"altered", bytes.Replace(lic, []byte("obm 50"), []byte("obm 99"), 1), trust, fp, now, nil, olr.Invalid, olr.ReasonBadSignature, olr.ErrBadSignature},
		{"key window", lic, windowed, fp, now, nil, olr.Invalid, olr.ReasonKeyNotValid, nil},
		{"wrong product", lic, trust, fp, now, &olr.VerifyOptions{Product: "other"}, olr.Invalid, olr.ReasonWrongProduct, nil},
		{"not yet valid", lic, trust, fp, olrtest.Epoch.Add(-time.Second), nil, olr.Invalid, olr.ReasonNotYetValid, nil},
		{"expired", lic, trust, fp, l.Expires, nil, olr.Invalid, olr.ReasonExpired, nil},
		{"other machine", lic, trust, stranger, now, nil, olr.Invalid, olr.ReasonHardwareMismatch, nil},
		{"other machine never earns grace", lic, trust, stranger, now, &olr.VerifyOptions{MismatchSince: now}, olr.Invalid, olr.ReasonHardwareMismatch, nil},
		{"drift without state", lic, trust, drifted, now, nil, olr.Invalid, olr.ReasonHardwareMismatch, nil},
		{"drift in grace", lic, trust, drifted, now.Add(13 * 24 * time.Hour), &olr.VerifyOptions{MismatchSince: now}, olr.Grace, olr.ReasonHardwareGrace, nil},
		{"drift after grace", lic, trust, drifted, now.Add(14 * 24 * time.Hour), &olr.VerifyOptions{MismatchSince: now}, olr.Invalid, olr.ReasonGraceExpired, nil},
		{"no fingerprint", lic, trust, nil, now, nil, olr.Invalid, olr.ReasonFingerprintFailed, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := olr.Verify(c.lic, c.trust, c.fp, c.now, c.opts)
			if r.Status != c.status || r.Reason != c.reason {
				t.Fatalf("got %s/%s (%v), want %s/%s", r.Status, r.Reason, err, c.status, c.reason)
			}
			if (err != nil) != (c.status == olr.Invalid) {
				t.Fatalf("error %v with status %s", err, r.Status)
			}
			var ve *olr.VerifyError
			if err != nil && (!errors.As(err, &ve) || ve.Reason != c.reason) {
				t.Fatalf("error %v is not a *VerifyError with reason %s", err, c.reason)
			}
			if c.errorIs != nil && !errors.Is(err, c.errorIs) {
				t.Fatalf("error %v is not %v", err, c.errorIs)
			}
			if c.status == olr.Grace && !r.GraceUntil.Equal(now.Add(14*24*time.Hour)) {
				t.Fatalf("grace until %v", r.GraceUntil)
			}
		})
	}
}

// TestEveryByteFlipFails flips each bit of every byte of a license: none
// may verify. (internal/clitest runs the full 255-value sweep through the
// binary and in-process.)
func TestEveryByteFlipFails(t *testing.T) {
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	_, lic := olrtest.License(key, fp)
	trust := olrtest.Trust(key)
	now := olrtest.Epoch.Add(time.Hour)
	for i := range lic {
		for bit := 0; bit < 8; bit++ {
			m := bytes.Clone(lic)
			m[i] ^= 1 << bit
			if r, err := olr.Verify(m, trust, fp, now, nil); err == nil {
				t.Fatalf("flipping bit %d of byte %d (%q) still verifies: %s", bit, i, lic[i], r.Status)
			}
		}
	}
}

func TestCheckQuota(t *testing.T) {
	l, _ := olrtest.License(olrtest.Key("vendor"), olrtest.Fingerprint())
	cases := []struct {
		module    string
		used, add int64
		ok        bool
	}{
		{"obm", 0, 50, true},
		{"obm", 49, 1, true},
		{"obm", 50, 1, false},
		{"obm", 10, 41, false},
		{"obm", 60, -5, true}, // reducing is always allowed
		{"obm", 51, 0, true},
		{"obm", -1, 1, false},
		{"mobile", 1 << 40, 1000, true},
		{"nas", 0, 1, false},
		{"nas", 0, 0, true},
	}
	for _, c := range cases {
		err := l.CheckQuota(c.module, c.used, c.add)
		if (err == nil) != c.ok {
			t.Errorf("CheckQuota(%s, %d, %d) = %v, want ok=%v", c.module, c.used, c.add, err, c.ok)
		}
		var qe *olr.QuotaError
		if err != nil && (!errors.As(err, &qe) || qe.Module != c.module || !errors.Is(err, olr.ErrQuotaExceeded)) {
			t.Errorf("CheckQuota(%s): error %v is not a QuotaError naming the module", c.module, err)
		}
		if err != nil && !strings.Contains(err.Error(), c.module) {
			t.Errorf("error %q does not name the module", err)
		}
	}
}

func TestTrustRoundTrip(t *testing.T) {
	tr := olrtest.Trust(olrtest.Key("a"), olrtest.Key("b"))
	tr.Keys[1].NotAfter = olrtest.Epoch
	back, err := olr.ParseTrust(tr.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Marshal(), tr.Marshal()) {
		t.Fatalf("round trip differs:\n%s", back.Marshal())
	}
	bad := map[string]string{
		"empty":        "",
		"no header":    "key: x\n",
		"no key":       "olr-trust/v1\n# only a comment\n",
		"wrong id":     strings.Replace(string(tr.Marshal()), string(tr.Marshal())[18:20], "zz", 1),
		"crlf":         strings.ReplaceAll(string(tr.Marshal()), "\n", "\r\n"),
		"no newline":   strings.TrimSuffix(string(tr.Marshal()), "\n"),
		"extra field":  strings.Replace(string(tr.Marshal()), " -\n", " - extra\n", 1),
		"duplicate":    string(tr.Marshal()) + strings.SplitAfterN(string(tr.Marshal()), "\n", 3)[1],
		"window order": "olr-trust/v1\n" + strings.Replace(strings.SplitAfterN(string(tr.Marshal()), "\n", 3)[1], "- -", "2027-01-01T00:00:00Z 2026-01-01T00:00:00Z", 1),
	}
	for name, text := range bad {
		if _, err := olr.ParseTrust([]byte(text)); err == nil {
			t.Errorf("%s: accepted %q", name, text)
		}
	}
}

func FuzzParseTrust(f *testing.F) {
	f.Add(olrtest.Trust(olrtest.Key("a")).Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := olr.ParseTrust(data)
		if err != nil {
			return
		}
		if _, err := olr.ParseTrust(tr.Marshal()); err != nil {
			t.Fatalf("re-parse of accepted bundle failed: %v", err)
		}
	})
}

// FuzzVerify feeds arbitrary files to Verify: it must never panic, and
// anything it accepts must be the one genuine license, give or take what
// copy and paste does to line endings and blank lines.
func FuzzVerify(f *testing.F) {
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	_, lic := olrtest.License(key, fp)
	trust := olrtest.Trust(key)
	now := olrtest.Epoch.Add(time.Hour)
	f.Add(lic)
	for _, c := range olrtest.CraftedLicenses(lic, key) {
		if c.Want != "" {
			f.Add(c.File)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := olr.Verify(data, trust, fp, now, nil)
		pasted := append(bytes.Trim(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), "\n"), '\n')
		if err == nil && !bytes.Equal(pasted, lic) {
			t.Fatalf("a different file verified: %s\n%q", r.Status, data)
		}
	})
}
