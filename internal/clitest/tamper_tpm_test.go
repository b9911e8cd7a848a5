package clitest

import (
	"testing"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

// TestTamperEveryByteBoundLicense sweeps a TPM-bound license
// (olr-license/v2) as TestTamperEveryByteInProcess sweeps a version 1
// one: every byte, every other value, verified with the TPM that proves
// the untouched license (a software stand-in: the sweep is about the
// format, not the TPM). The tpm-bind, tpm-key and tpm-blob lines are
// signed like the rest.
func TestTamperEveryByteBoundLicense(t *testing.T) {
	t.Parallel()
	_, trust, fp := inProcessActivation(t)
	key := olrtest.Key("vendor")
	tpm, binding := olrtest.NewSoftwareTPM("this machine")
	_, lic := olrtest.BoundLicense(key, fp, binding)
	trust = olrtest.Trust(key)
	opts := &olr.VerifyOptions{TPM: tpm}
	now := olrtest.Epoch.Add(time.Hour)
	sweepEveryByte(t, lic, func(b []byte) (*olr.Result, error) { return olr.Verify(b, trust, fp, now, opts) })
}
