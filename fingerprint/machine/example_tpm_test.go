//go:build cgo

package machine_test

import (
	"context"
	"fmt"
	"time"

	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/fingerprint/tpm"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
	"github.com/olr-dev/olr/signer/tpmbind"
)

// A license bound to the TPM, end to end: the request's endorsement key,
// the vendor wrapping a license key to it, and the product proving the
// license with the TPM that machine.Collect holds open. The in-process
// simulator stands in for the machine's TPM.
func ExampleMachine_Prover() {
	ctx := context.Background()
	m, err := machine.Collect(ctx, machine.Options{TPM: "sim", AllowSoftwareTPM: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	// What olr request sends, and what olr-sign does with it.
	e, err := m.Endorsement(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	ek, err := tpmbind.CheckEK(e.EKs[0].Kind, e.EKs[0].Public, e.EKs[0].Cert, e.Chain, nil, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	binding, err := tpmbind.Bind(ek)
	if err != nil {
		fmt.Println(err)
		return
	}
	key := olrtest.Key("vendor")
	_, license := olrtest.BoundLicense(key, m.Fingerprint, binding)

	// What the product does at every start.
	now := olrtest.Epoch.Add(time.Hour)
	res, _ := olr.Verify(license, olrtest.Trust(key), m.Fingerprint, now, &olr.VerifyOptions{TPM: m.Prover()})
	fmt.Println("with its TPM:", res.Status)
	res, _ = olr.Verify(license, olrtest.Trust(key), m.Fingerprint, now, &olr.VerifyOptions{TPM: tpm.NoProver("none here")})
	fmt.Println("without:", res.Status, res.Reason)
	// Output:
	// with its TPM: valid
	// without: invalid tpm-unavailable
}
