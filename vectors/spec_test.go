package vectors

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestVectorsAgainstSpec decides every vector again with code written
// from SPEC.md alone, without the olr and fingerprint packages: the
// license verification steps of section 3 with the grammar, the text
// rule and the match policy (spec_license_test.go), the request reading
// steps of section 2 with a JSON parser of its own and the normal forms
// of section 1 (spec_request_test.go, spec_text_test.go), and the trust
// bundles and revocation lists of sections 5 and 6
// (spec_trust_crl_test.go). It keeps the
// vectors honest about the specification, not only about the Go
// implementation, and is a model for implementers.
func TestVectorsAgainstSpec(t *testing.T) {
	vs, err := Load(FS())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		kind, _ := v.Get("kind")
		expect, _ := v.Get("expect")
		t.Run(v.Name, func(t *testing.T) {
			switch kind {
			case "license":
				r := specLicense(v)
				if r.outcome != expect {
					t.Fatalf("SPEC.md says %s, the vector expects %s", r.outcome, expect)
				}
				if want, ok := v.Get("match"); ok && r.match != want {
					t.Errorf("match %s by SPEC.md, the vector says %s", r.match, want)
				}
				if want, ok := v.Get("grace-until"); ok {
					if got := r.graceUntil.UTC().Format(time.RFC3339); got != want {
						t.Errorf("grace until %s by SPEC.md, the vector says %s", got, want)
					}
				}
			case "request":
				if got := specRequest(v); got != expect {
					t.Fatalf("SPEC.md says %s, the vector expects %s", got, expect)
				}
			case "trust":
				got, keys := specTrust(v)
				if got != expect {
					t.Fatalf("SPEC.md says %s, the vector expects %s", got, expect)
				}
				if want, ok := v.Get("keys"); ok && strconv.Itoa(keys) != want {
					t.Errorf("%d keys by SPEC.md, the vector says %s", keys, want)
				}
			case "revocation-list":
				got, number, revoked := specCRL(v)
				if got != expect {
					t.Fatalf("SPEC.md says %s, the vector expects %s", got, expect)
				}
				if want, ok := v.Get("number"); ok && strconv.FormatUint(number, 10) != want {
					t.Errorf("number %d by SPEC.md, the vector says %s", number, want)
				}
				if want := v.All("revoked"); got == "ok" && !slices.Equal(revoked, want) {
					t.Errorf("revoked %q by SPEC.md, the vector says %q", revoked, want)
				}
			default:
				t.Fatalf("unknown kind %q", kind)
			}
		})
	}
}
