//go:build !cgo

package tpm

import "testing"

func TestSimWithoutCgo(t *testing.T) {
	_, _, err := Open("sim")
	want := "this build of olr has no TPM simulator (built without cgo); use --tpm mssim:HOST:PORT with swtpm"
	if err == nil || err.Error() != want {
		t.Errorf("Open(sim) = %v, want %q", err, want)
	}
}
