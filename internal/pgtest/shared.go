package pgtest

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
)

// The cluster shared by the tests of one package, started on first use
// and stopped by Main.
var shared struct {
	sync.Mutex
	main    bool // Main is running the tests
	started bool
	c       *Cluster
	err     error
}

// Main runs the package's tests (m.Run) and then stops the shared
// cluster if a test started it. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	shared.Lock()
	shared.main = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.c != nil {
		if err := shared.c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
		shared.c = nil
	}
	return code
}

// Shared returns the package's cluster, starting it on the first call
// (not durable: see Options).
// When PostgreSQL is not installed it skips the test, or fails it under
// CI=true; any other failure to start fails the test.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.Lock()
	if !shared.main {
		shared.Unlock()
		t.Fatal("pgtest: the package's TestMain must call pgtest.Main, which stops the cluster")
	}
	if !shared.started {
		shared.started = true
		shared.c, shared.err = Start(Options{})
	}
	c, err := shared.c, shared.err
	shared.Unlock()
	if errors.Is(err, ErrNotInstalled) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; CI must install it (.ci/setup)", err)
		}
		t.Skipf("%v; skipping", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewDatabase returns the URL of a new, empty database on the package's
// cluster, as the superuser over the unix socket (see Shared).
func NewDatabase(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	db, err := c.NewDB()
	if err != nil {
		t.Fatal(err)
	}
	return c.URL(db)
}
