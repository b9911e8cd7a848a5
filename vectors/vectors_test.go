package vectors

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
)

// wantCounts is the number of vectors per kind and expected outcome, so
// that a vector deleted or re-labelled by mistake is noticed.
var wantCounts = map[string]int{
	"license/valid":              25,
	"license/grace":              3,
	"license/grace-expired":      3,
	"license/hardware-mismatch":  7,
	"license/tpm-unavailable":    2,
	"license/tpm-mismatch":       6,
	"license/not-yet-valid":      1,
	"license/expired":            2,
	"license/wrong-product":      2,
	"license/untrusted-key":      2,
	"license/key-not-valid":      3,
	"license/revoked":            4,
	"license/bad-signature":      12,
	"license/unsupported-format": 1,
	"license/malformed":          77,

	"request/ok":                 12,
	"request/wrong-key":          3,
	"request/corrupt":            5,
	"request/not-age":            4,
	"request/malformed":          19,
	"request/unsupported-format": 2,
	"request/invalid":            18,

	"trust/ok":        4,
	"trust/malformed": 14,

	"revocation-list/ok":                 5,
	"revocation-list/malformed":          10,
	"revocation-list/unsupported-format": 1,
	"revocation-list/untrusted-key":      1,
	"revocation-list/bad-signature":      2,
	"revocation-list/key-not-valid":      1,
}

// knownBugs lists vectors whose expected outcome the Go implementation
// does not produce yet, with the reason. Such a vector is skipped while
// the bug remains, and fails once it is fixed, as a reminder to remove
// it from this list.
var knownBugs = map[string]string{}

// licenseExpects and requestExpects are the outcomes a vector may expect.
var (
	licenseExpects = []string{
		"valid", "grace",
		string(olr.ReasonMalformed), string(olr.ReasonUnsupported), string(olr.ReasonUntrustedKey),
		string(olr.ReasonBadSignature), string(olr.ReasonKeyNotValid), string(olr.ReasonRevoked), string(olr.ReasonWrongProduct),
		string(olr.ReasonNotYetValid), string(olr.ReasonExpired), string(olr.ReasonHardwareMismatch),
		string(olr.ReasonGraceExpired), string(olr.ReasonTPMUnavailable), string(olr.ReasonTPMMismatch),
	}
	requestExpects = []string{"ok", "wrong-key", "corrupt", "not-age", "malformed", "unsupported-format", "invalid"}
	crlExpects     = []string{"ok", "malformed", "unsupported-format", "untrusted-key", "bad-signature", "key-not-valid"}
)

func TestVectors(t *testing.T) {
	vs, err := Load(FS())
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, v := range vs {
		kind, _ := v.Get("kind")
		expect, _ := v.Get("expect")
		counts[kind+"/"+expect]++
		t.Run(v.Name, func(t *testing.T) {
			var got string
			switch kind {
			case "license":
				if !slices.Contains(licenseExpects, expect) {
					t.Fatalf("unknown expect %q for a license", expect)
				}
				got = replayLicense(t, v, expect)
			case "request":
				if !slices.Contains(requestExpects, expect) {
					t.Fatalf("unknown expect %q for a request", expect)
				}
				got = replayRequest(t, v, expect)
			case "trust":
				if expect != "ok" && expect != "malformed" {
					t.Fatalf("unknown expect %q for a trust bundle", expect)
				}
				got = replayTrust(t, v)
			case "revocation-list":
				if !slices.Contains(crlExpects, expect) {
					t.Fatalf("unknown expect %q for a revocation list", expect)
				}
				got = replayCRL(t, v, expect)
			default:
				t.Fatalf("unknown kind %q", kind)
			}
			if why, ok := knownBugs[v.Name]; ok {
				if got == expect {
					t.Fatalf("known bug fixed (got %s as expected): remove %s from knownBugs", got, v.Name)
				}
				t.Skipf("known bug: got %s, want %s: %s", got, expect, why)
			}
			if got != expect {
				t.Errorf("got %s, want %s", got, expect)
			}
		})
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if counts[k] != wantCounts[k] {
			t.Errorf("%d vectors expect %s, want %d", counts[k], k, wantCounts[k])
		}
	}
	for k, n := range wantCounts {
		if _, ok := counts[k]; !ok && n > 0 {
			t.Errorf("no vector expects %s, want %d", k, n)
		}
	}
	for name := range knownBugs {
		if !slices.ContainsFunc(vs, func(v *Vector) bool { return v.Name == name }) {
			t.Errorf("knownBugs names %s, which is not a vector", name)
		}
	}
}

func must(t *testing.T, v *Vector, key string) string {
	t.Helper()
	s, ok := v.Get(key)
	if !ok {
		t.Fatalf("missing header %q", key)
	}
	return s
}

func parseTime(t *testing.T, key, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("header %s: %v", key, err)
	}
	return tm
}

// replayLicense verifies the license and returns the outcome: valid,
// grace, or the Reason of the failure. It checks that the Result, the
// error and the error's type agree, so that the outcome cannot come from
// the wrong layer.
func replayLicense(t *testing.T, v *Vector, expect string) string {
	trust := trustHeaders(t, v)
	fp := &fingerprint.Fingerprint{}
	for _, f := range v.All("factor") {
		kind, val, ok := strings.Cut(f, " ")
		if !ok {
			t.Fatalf("factor header %q: want KIND VALUE", f)
		}
		fp.Factors = append(fp.Factors, fingerprint.Factor{Kind: fingerprint.Kind(kind), Value: val, Source: "vector"})
	}
	now := parseTime(t, "now", must(t, v, "now"))
	opts := &olr.VerifyOptions{}
	opts.Product, _ = v.Get("product")
	if s, ok := v.Get("mismatch-since"); ok {
		opts.MismatchSince = parseTime(t, "mismatch-since", s)
	}
	if ids := v.All("revoked"); len(ids) > 0 {
		// The list the verifier holds, already authenticated: the
		// vectors test where revocation comes in the order of checks,
		// not the revocation list's own format.
		opts.Revocations = &olr.RevocationList{Number: 1, Revoked: slices.Sorted(slices.Values(ids))}
	}

	if s, ok := v.Get("tpm"); ok {
		opts.TPM = parseTPMHeader(t, s)
	}

	res, err := olr.Verify(v.Body, trust, fp, now, opts)
	if res == nil {
		t.Fatalf("Verify returned no Result (error %v)", err)
	}
	got := ""
	switch {
	case err == nil && res.Status == olr.Valid && res.Reason == "":
		got = "valid"
	case err == nil && res.Status == olr.Grace && res.Reason == olr.ReasonHardwareGrace:
		got = "grace"
	case err != nil && res.Status == olr.Invalid:
		var ve *olr.VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("error is not a *olr.VerifyError: %v", err)
		}
		if ve.Reason != res.Reason || res.Err != err {
			t.Fatalf("Result (reason %s, err %v) and returned error (%v) disagree", res.Reason, res.Err, err)
		}
		got = string(ve.Reason)
		// The cause must be of the kind the reason names.
		var fe *olr.FormatError
		switch ve.Reason {
		case olr.ReasonMalformed:
			if !errors.As(err, &fe) {
				t.Errorf("malformed, but the cause is not a *olr.FormatError: %v", err)
			}
		case olr.ReasonBadSignature:
			if !errors.Is(err, olr.ErrBadSignature) {
				t.Errorf("bad-signature, but the cause is not olr.ErrBadSignature: %v", err)
			}
		case olr.ReasonUntrustedKey:
			if !errors.Is(err, olr.ErrUnknownKey) {
				t.Errorf("untrusted-key, but the cause is not olr.ErrUnknownKey: %v", err)
			}
		}
	default:
		t.Fatalf("inconsistent result: status %q, reason %q, error %v", res.Status, res.Reason, err)
	}
	if got != expect {
		t.Logf("Verify: %v", err)
	}
	if s, ok := v.Get("grace-until"); ok && got == expect {
		if want := parseTime(t, "grace-until", s); !res.GraceUntil.Equal(want) {
			t.Errorf("grace until %s, want %s", res.GraceUntil.Format(time.RFC3339), s)
		}
	}
	if s, ok := v.Get("match"); ok && got == expect {
		if res.Match == nil {
			t.Errorf("no match report, want %s", s)
		} else if m := fmt.Sprintf("%d/%d", res.Match.Score, res.Match.Total); m != s {
			t.Errorf("match %s, want %s", m, s)
		}
	}
	return got
}

// replayRequest decrypts the request and returns the outcome.
func replayRequest(t *testing.T, v *Vector, expect string) string {
	ids, err := age.ParseIdentities(strings.NewReader(strings.Join(v.All("identity"), "\n") + "\n"))
	if err != nil {
		t.Fatalf("identity headers: %v", err)
	}
	if s, ok := v.Get("plaintext-sha256"); ok {
		plain, err := ageDecrypt(v.Body, ids)
		if err != nil {
			t.Fatalf("plaintext-sha256 given, but age cannot decrypt the file: %v", err)
		}
		if h := sha256.Sum256(plain); hex.EncodeToString(h[:]) != s {
			t.Errorf("plaintext SHA-256 %x, want %s", h, s)
		}
	}
	req, err := olr.DecryptRequest(v.Body, ids)
	got := requestOutcome(err)
	if got != expect {
		t.Logf("DecryptRequest: %v", err)
	}
	if got == "ok" && expect == "ok" {
		for _, c := range []struct{ key, got string }{
			{"request-id", req.ID}, {"licensee", req.Licensee}, {"license-key", req.LicenseKey},
		} {
			if want, ok := v.Get(c.key); ok && c.got != want {
				t.Errorf("%s %q, want %q", c.key, c.got, want)
			}
		}
		if want, ok := v.Get("tpm-eks"); ok && (req.TPM == nil || tpmEKsHeader(req.TPM) != want) {
			t.Errorf("TPM endorsement keys %+v, want %s", req.TPM, want)
		}
	}
	return got
}

// requestOutcome maps an error of olr.DecryptRequest to an expect value
// through its typed *olr.RequestError, so that a low-level failure cannot
// pass for a high-level one.
func requestOutcome(err error) string {
	if err == nil {
		return "ok"
	}
	var re *olr.RequestError
	if !errors.As(err, &re) {
		return "untyped error: " + err.Error()
	}
	if re.Problem == olr.RequestWrongKey && !errors.Is(err, olr.ErrWrongVendorKey) {
		return "wrong-key without ErrWrongVendorKey"
	}
	return string(re.Problem)
}

// ageDecrypt opens an age file, armored or not, with the stock age API.
func ageDecrypt(data []byte, ids []age.Identity) ([]byte, error) {
	var src io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(armor.Header)) {
		src = armor.NewReader(src)
	}
	r, err := age.Decrypt(src, ids...)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// trustHeaders returns the trust bundle a vector's trust headers make.
func trustHeaders(t *testing.T, v *Vector) *olr.Trust {
	t.Helper()
	bundle := "olr-trust/v1\n"
	for _, line := range v.All("trust") {
		bundle += "key: " + line + "\n"
	}
	trust, err := olr.ParseTrust([]byte(bundle))
	if err != nil {
		t.Fatalf("trust headers: %v", err)
	}
	return trust
}

// replayTrust parses the trust bundle and returns ok or malformed.
func replayTrust(t *testing.T, v *Vector) string {
	tr, err := olr.ParseTrust(v.Body)
	if err != nil {
		t.Logf("ParseTrust: %v", err)
		return "malformed"
	}
	if want := must(t, v, "keys"); fmt.Sprint(len(tr.Keys)) != want {
		t.Errorf("%d keys, want %s", len(tr.Keys), want)
	}
	return "ok"
}

// replayCRL verifies the revocation list and returns the outcome, from
// the type of the error.
func replayCRL(t *testing.T, v *Vector, expect string) string {
	c, err := olr.ParseRevocationList(v.Body, trustHeaders(t, v))
	var fe *olr.FormatError
	switch {
	case err == nil:
		if want := must(t, v, "number"); fmt.Sprint(c.Number) != want {
			t.Errorf("number %d, want %s", c.Number, want)
		}
		if want := v.All("revoked"); !slices.Equal(c.Revoked, want) {
			t.Errorf("revoked %q, want %q", c.Revoked, want)
		}
		return "ok"
	case errors.As(err, &fe):
		return "malformed"
	case errors.Is(err, olr.ErrUnsupportedFormat):
		return "unsupported-format"
	case errors.Is(err, olr.ErrUnknownKey):
		return "untrusted-key"
	case errors.Is(err, olr.ErrBadSignature):
		return "bad-signature"
	case errors.Is(err, olr.ErrKeyNotValid):
		return "key-not-valid"
	}
	return "untyped error: " + err.Error()
}
