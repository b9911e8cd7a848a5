package olr_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
	"github.com/olr-dev/olr/olr/store"
)

// A product checks its license at every start. It reads the machine with
// package fingerprint/machine, exactly as olr request did (TPM included),
// and checks the license that olr import installed with package olr/store,
// which keeps the grace period, the clock floor and the revocation list.
// Here a saved sysfs tree stands in for the machine (a product passes
// machine.Options{}), and a test license is installed as olr import would.
func Example() {
	ctx := context.Background()
	m, err := machine.Collect(ctx, machine.Options{Root: "../fingerprint/host/testdata/baremetal"})
	if err != nil {
		fmt.Println("cannot fingerprint this machine:", err)
		return
	}
	defer m.Close()

	key := olrtest.Key("vendor")
	trust := olrtest.Trust(key) // a product embeds the vendor's bundle: olr.ParseTrust(embedded)
	_, license := olrtest.License(key, m.Fingerprint)
	dir, err := os.MkdirTemp("", "olr-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	st := store.Open(dir) // a product: store.Open(store.DefaultDir())
	now := olrtest.Epoch.Add(time.Hour)
	if _, err := st.Install(license, trust, m.Fingerprint, now, nil); err != nil {
		panic(err)
	}

	res, err := st.Check(trust, m.Fingerprint, now, &olr.VerifyOptions{Product: "backup-server"})
	if err != nil {
		fmt.Println("refusing to start:", err)
		return
	}
	fmt.Println(res.Status, res.License.Licensee)
	fmt.Printf("hardware score %d of %d\n", res.Match.Score, res.Match.Total)
	// Output:
	// valid Example Backup Ltd
	// hardware score 135 of 135
}

// Verify is the pure check: license bytes, trust bundle, fingerprint and
// time in, a verdict out. In a real product the trust bundle is embedded
// in the binary (//go:embed vendor.trust), the license comes from the
// state directory (package store, as in the package example), and the
// fingerprint from package fingerprint/machine.
func ExampleVerify() {
	key := olrtest.Key("vendor")
	fp := olrtest.Fingerprint()
	_, license := olrtest.License(key, fp)
	trust, err := olr.ParseTrust(olrtest.Trust(key).Marshal())
	if err != nil {
		panic(err)
	}

	res, err := olr.Verify(license, trust, fp, olrtest.Epoch.Add(time.Hour), &olr.VerifyOptions{Product: "backup-server"})
	if err != nil {
		fmt.Println("refusing to start:", err)
		return
	}
	fmt.Println(res.Status, res.License.Licensee)
	m, _ := res.License.Module("obm")
	fmt.Println("obm quota:", m.Quota)
	fmt.Printf("hardware score %d of %d\n", res.Match.Score, res.Match.Total)
	// Output:
	// valid Example Backup Ltd
	// obm quota: 50
	// hardware score 156 of 156
}

// Before an action that consumes quota (a new backup user, a backup set,
// a sub-admin's allocation), the product asks the license and blocks the
// action on an error.
func ExampleLicense_CheckQuota() {
	l, _ := olrtest.License(olrtest.Key("vendor"), olrtest.Fingerprint())

	fmt.Println(l.CheckQuota("obm", 49, 1))
	err := l.CheckQuota("obm", 50, 1)
	var qe *olr.QuotaError
	if errors.As(err, &qe) {
		fmt.Printf("blocked: %s uses %d of %d\n", qe.Module, qe.Usage, qe.Quota)
	}
	fmt.Println(err)
	// Output:
	// <nil>
	// blocked: obm uses 50 of 50
	// module obm quota exceeded: 50 in use + 1 requested > quota 50: the action is blocked
}
