//go:build cgo

package page_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olr-dev/olr/fingerprint/machine"
)

// TestTPMBoundLicense: the page's request carries the TPM's endorsement
// keys as olr request's does, so the vendor binds the license to the TPM;
// the page proves it at import and at every check. On the in-process
// reference simulator, which every cgo build has: a failure to read it is
// a failure of the test, not a reason to skip it.
func TestTPMBoundLicense(t *testing.T) {
	v := newVendor(t, true)
	s := newSiteOn(t, v, nil, func(ctx context.Context) (*machine.Machine, error) {
		return machine.Collect(ctx, machine.Options{TPM: "sim", AllowSoftwareTPM: true})
	})
	activate(t, s, v, "--tpm-bind", "require", "--allow-unattested-ek", "--allow-weak", "the test machine may be a container")
	st := s.check(t)
	if st.Status != "valid" || st.License == nil {
		t.Fatalf("TPM-bound license on the page: %s %s %+v", st.Status, st.Reason, st.Problem)
	}
	lic, err := os.ReadFile(filepath.Join(s.dir, "license.olr"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(lic), "format: olr-license/v2") || !strings.Contains(string(lic), "tpm-bind:") {
		t.Fatalf("the license is not bound to the TPM:\n%s", lic)
	}
}
