package machine_test

import (
	"context"
	"fmt"

	"github.com/olr-dev/olr/fingerprint/machine"
)

// A product collects the machine it runs on exactly as olr request did
// (machine.Options{} reads this machine and its TPM), checks its license
// with the fingerprint, and closes the machine when done with the TPM.
// Here a saved sysfs tree stands in for the machine.
func ExampleCollect() {
	m, err := machine.Collect(context.Background(), machine.Options{Root: "../host/testdata/kvm"})
	if err != nil {
		fmt.Println("cannot fingerprint this machine:", err)
		return
	}
	defer m.Close()
	for _, f := range m.Fingerprint.Factors {
		fmt.Println(f.Kind, f.Value)
	}
	// Output:
	// mac 52:54:00:8a:3c:51
	// machine-id 0f5e2b8c9d3a4761b2e1c4d7a8f60312
	// product-uuid 8f3a2c1e-5b7d-4e9f-a1c3-2d4e6f8a0b1c
}
