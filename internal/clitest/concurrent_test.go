package clitest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// TestConcurrentChecks runs olr verify, status and import at the same
// time on one state directory, as a product's many processes and an
// administrator would: every run succeeds, the state stays readable JSON
// and no temporary file is left behind.
func TestConcurrentChecks(t *testing.T) {
	t.Parallel()
	a := newActivation(t, "baremetal", "")
	trust := a.Key + ".trust"
	// The fixture host stands in for this machine: these commands record
	// what they see, so they read only this machine.
	env := []string{"OLRTEST_MACHINE=" + a.Root}
	mustRunEnv(t, a.Dir, env, "olr", "import", "--trust", trust, a.License)

	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				var args []string
				switch w % 3 {
				case 0:
					args = []string{"verify"}
				case 1:
					args = []string{"status", "--json"}
				case 2:
					args = []string{"import", a.License}
				}
				r, err := execCommand(a.Dir, env, "olr", args...)
				if err != nil {
					t.Error(err)
				} else if r.code != 0 {
					t.Errorf("olr %v: exit %d\n%s", args, r.code, r.stderr)
				}
			}
		}()
	}
	wg.Wait()

	state := filepath.Join(a.Dir, "state")
	data, err := os.ReadFile(filepath.Join(state, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state.json is not JSON after concurrent runs: %v\n%s", err, data)
	}
	entries, err := os.ReadDir(state)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	for _, n := range names {
		if !slices.Contains([]string{"license.olr", "state.json", "trust.olr", "state.lock"}, n) {
			t.Errorf("unexpected file left in the state directory: %s (all: %v)", n, names)
		}
	}
	r := mustRunEnv(t, a.Dir, env, "olr", "status", "--json")
	var res struct{ Status string }
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Status != "valid" {
		t.Errorf("status after concurrent runs: %v %q", err, res.Status)
	}
}
