package olr_test

import (
	"fmt"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

// A license bound to the TPM is valid only when the machine's TPM signs a
// fresh challenge with the license key. A product passes the prover that
// package fingerprint/machine gives (Machine.Prover); here a software
// stand-in holds the key.
func ExampleVerify_tpmBound() {
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	tpm, binding := olrtest.NewSoftwareTPM("this machine")
	other, _ := olrtest.NewSoftwareTPM("another machine")
	_, license := olrtest.BoundLicense(key, fp, binding)
	now := olrtest.Epoch.Add(time.Hour)

	for _, p := range []olr.TPMProver{tpm, other, nil} {
		res, _ := olr.Verify(license, olrtest.Trust(key), fp, now, &olr.VerifyOptions{TPM: p})
		if res.Reason == "" {
			fmt.Println(res.Status)
		} else {
			fmt.Println(res.Status, res.Reason)
		}
	}
	// Output:
	// valid
	// invalid tpm-mismatch
	// invalid tpm-unavailable
}
