package olr_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

// A product verifies its license at start. In a real product the trust
// bundle is embedded in the binary (//go:embed vendor.trust), the license
// comes from the state directory (package store keeps the grace period),
// and the fingerprint from package fingerprint/host.
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
