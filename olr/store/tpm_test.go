package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
	"github.com/olr-dev/olr/olr/store"
)

// A TPM-bound license: the state keeps what the TPM wrapped at import and
// hands it back at every check; a copy of the state directory next to
// another TPM is refused.
func TestTPMBoundState(t *testing.T) {
	st, trust, fp, _, now := setup(t)
	tpm, b := olrtest.NewSoftwareTPM("machine")
	_, lic := olrtest.BoundLicense(olrtest.Key("vendor"), fp, b)

	if _, err := st.Install(lic, trust, fp, now, &olr.VerifyOptions{}); err == nil {
		t.Fatal("installed a TPM-bound license without a TPM")
	}
	if _, err := os.Stat(filepath.Join(st.Dir, store.LicenseFile)); err == nil {
		t.Fatal("a refused license was written")
	}
	if _, err := st.Install(lic, trust, fp, now, &olr.VerifyOptions{TPM: tpm}); err != nil {
		t.Fatal(err)
	}
	s, err := st.State()
	if err != nil || string(s.TPMPrivate) != "private part of olrtest software TPM machine" || tpm.Cached != nil {
		t.Fatalf("state after install: %+v, %v (the install got %q)", s, err, tpm.Cached)
	}
	if _, err := st.Check(trust, fp, now, &olr.VerifyOptions{TPM: tpm}); err != nil {
		t.Fatal(err)
	}
	if string(tpm.Cached) != string(s.TPMPrivate) {
		t.Errorf("the check was given %q, not the kept private part", tpm.Cached)
	}

	// The state directory copied to a machine with the same factors and
	// another TPM: refused, without grace.
	copied := store.Open(filepath.Join(t.TempDir(), "copy"))
	if err := os.CopyFS(copied.Dir, os.DirFS(st.Dir)); err != nil {
		t.Fatal(err)
	}
	other, _ := olrtest.NewSoftwareTPM("other")
	for range 2 {
		res, err := copied.Check(trust, fp, now, &olr.VerifyOptions{TPM: other})
		if err == nil || res.Reason != olr.ReasonTPMMismatch {
			t.Fatalf("copied state, other TPM: %v", err)
		}
	}
	if res, err := copied.Check(trust, fp, now, nil); err == nil || res.Reason != olr.ReasonTPMUnavailable {
		t.Fatalf("copied state, no TPM: %v", err)
	}
}
