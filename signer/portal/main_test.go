package portal

import (
	"os"
	"testing"

	"github.com/olr-dev/olr/internal/browsertest"
	"github.com/olr-dev/olr/internal/olrcli"
)

// browser is the package's one headless Chromium.
var browser *browsertest.Browser

// runOLR, set in the environment, makes the test binary run the olr
// command (the machine side) instead of the tests: the browser tests make
// requests and import licenses with the real CLI. OLRTEST_MACHINE names
// the host tree that stands in for this machine.
const runOLR = "OLR_PORTAL_TEST_RUN_OLR"

func TestMain(m *testing.M) {
	if os.Getenv(runOLR) == "1" {
		olrcli.MainOn(os.Getenv("OLRTEST_MACHINE"))
		return
	}
	os.Exit(browsertest.Main(m, &browser))
}
