package signer

import "testing"

// FuzzDifference: any two names are compared without a panic, and the
// explanation is empty exactly when they are equal.
func FuzzDifference(f *testing.F) {
	f.Add("Müller GmbH", "Mu\u0308ller GmbH")
	f.Add("ACME", "acme")
	f.Add("a", "")
	f.Add("\xff", "\xfe")
	f.Fuzz(func(t *testing.T, a, b string) {
		if d := Difference(a, b); (d == "") != (a == b) {
			t.Fatalf("Difference(%q, %q) = %q", a, b, d)
		}
	})
}
