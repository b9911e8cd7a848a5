package signtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
)

const partner = "Example Partner Ltd"

// importPoolKeys imports keys sold to the partner with the given modules
// ("acb=50;obm=80"), of type oem unless the name starts with ACTIVE.
func (e *env) importPoolKeys(name string, modules map[string]string) {
	e.t.Helper()
	var b strings.Builder
	b.WriteString("license_key,licensee,type,product,modules,languages,expires,maintenance\n")
	keys := make([]string, 0, len(modules))
	for k := range modules {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		typ := "oem"
		if strings.HasPrefix(k, "ACTIVE") {
			typ = "active-pool"
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,en,,\n", k, partner, typ, Product, modules[k])
	}
	csv := filepath.Join(e.dir, name)
	if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.must("keys", "import", "--create", "--ledger", e.ledger, "--operator", "sales", csv)
}

// poolShow reads a pool with olr-sign pool show --json.
func (e *env) poolShow(name string) *signer.PoolView {
	e.t.Helper()
	var v signer.PoolView
	if err := json.Unmarshal([]byte(e.must("pool", "show", "--json", "--ledger", e.ledger, name).stdout), &v); err != nil {
		e.t.Fatal(err)
	}
	return &v
}

// balances writes a pool's modules as "name total/allocated/available".
func balances(v *signer.PoolView) string {
	var b []string
	for _, m := range v.Modules {
		b = append(b, fmt.Sprintf("%s %s/%s/%s", m.Module, m.Total, m.Allocated, m.Available))
	}
	return strings.Join(b, ", ")
}

// TestPools follows the License Management Portal's example through the
// real olr-sign, on both engines: LICENSE001 (50 ACB, 80 OBM) and
// LICENSE002 (20 ACB, 30 OBM) make a pool of 70 ACB and 110 OBM; a key
// issued from it activates offline while the pooled keys and an Active
// Pool key do not; asking for more than the pool holds is refused with
// the numbers; released keys give their CALs back; every change is in
// the audit log under its operator.
func TestPools(t *testing.T) { onEngines(t, testPools) }

func testPools(t *testing.T) {
	t.Parallel()
	e := newEnv(t, policyKeys)
	e.importPoolKeys("partner.csv", map[string]string{"LICENSE001": "acb=50;obm=80", "LICENSE002": "acb=20;obm=30", "ACTIVE-POOL-1": "obm=10"})
	pool := func(args ...string) result {
		return e.run(append([]string{"pool", args[0], "--ledger", e.ledger, "--operator", "pat"}, args[1:]...)...)
	}
	must := func(args ...string) result {
		t.Helper()
		r := pool(args...)
		if r.code != 0 {
			t.Fatalf("pool %s: %v", strings.Join(args, " "), r)
		}
		return r
	}
	must("create", "partner")
	must("add", "partner", "LICENSE001", "LICENSE002")
	if got, want := balances(e.poolShow("partner")), "acb 70/0/70, obm 110/0/110"; got != want {
		t.Fatalf("the source's example: %s, want %s", got, want)
	}

	// A key from the pool, then more than is left: refused with the numbers.
	key1 := strings.TrimSpace(must("issue-key", "partner", "--module", "obm=30", "--module", "acb=10").stdout)
	if !strings.HasPrefix(key1, "OEM-") {
		t.Fatalf("issue-key printed %q", key1)
	}
	r := pool("issue-key", "partner", "-m", "obm=81", "-m", "acb=60", "--key", "OEM-TOO-MUCH")
	if r.code != 1 || !strings.Contains(r.stderr, `refused: pool "partner" lacks the CALs asked for: obm: 81 asked, 80 available (110 in the pool, 30 allocated)`) {
		t.Fatalf("over-allocation: %v", r)
	}
	if r := e.run("keys", "show", "--ledger", e.ledger, "OEM-TOO-MUCH"); r.code == 0 {
		t.Errorf("a refused key was recorded: %v", r)
	}
	if got, want := balances(e.poolShow("partner")), "acb 70/10/60, obm 110/30/80"; got != want {
		t.Fatalf("after one key: %s, want %s", got, want)
	}

	// The pooled key activates offline with its quotas; the sources and
	// an Active Pool key do not.
	req, _ := e.request("k1.olr", Request{Licensee: partner, Key: key1, Machine: 1})
	if r := e.issue(req, "k1.license.olr"); r.code != 0 {
		t.Fatalf("activating the pooled key: %v", r)
	}
	lic := e.license("k1.license.olr")
	if lic.Type != olr.TypeOEM || fmt.Sprint(lic.Modules) != "[{acb 10} {obm 30}]" || lic.Licensee != partner {
		t.Errorf("the pooled key's license: type %s, modules %v, licensee %q", lic.Type, lic.Modules, lic.Licensee)
	}
	for _, c := range []struct{ key, want string }{
		{"LICENSE001", `the license key was converted into CALs of pool "partner": it no longer activates on its own`},
		{"ACTIVE-POOL-1", "Meter, Active Pool and Evaluation keys do not support offline activation"},
	} {
		req, _ := e.request(c.key+".olr", Request{Licensee: partner, Key: c.key, Machine: 2})
		if r := e.issue(req, c.key+".license.olr"); r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: %v", c.key, r)
		}
		if _, err := os.Stat(filepath.Join(e.dir, c.key+".license.olr")); err == nil {
			t.Errorf("%s: a license file was written", c.key)
		}
	}

	// Release: a key never activated gives its CALs back at once; a key
	// in use only once its license is revoked; a released key never
	// activates again.
	key2 := strings.TrimSpace(must("issue-key", "partner", "-m", "obm=80", "-m", "acb=60").stdout)
	if got, want := balances(e.poolShow("partner")), "acb 70/70/0, obm 110/110/0"; got != want {
		t.Fatalf("all allocated: %s, want %s", got, want)
	}
	must("release", key2)
	if got, want := balances(e.poolShow("partner")), "acb 70/10/60, obm 110/30/80"; got != want {
		t.Fatalf("after releasing %s: %s, want %s", key2, got, want)
	}
	req2, _ := e.request("k2.olr", Request{Licensee: partner, Key: key2, Machine: 3})
	if r := e.issue(req2, "k2.license.olr"); r.code != 1 || !strings.Contains(r.stderr, "released on") {
		t.Errorf("a released key: %v", r)
	}
	if r := pool("release", key1); r.code != 1 || !strings.Contains(r.stderr, "has licenses not revoked (1)") {
		t.Fatalf("releasing a key in use: %v", r)
	}
	e.must("revoke", "--ledger", e.ledger, "--operator", "pat", "--reason", "server retired", lic.ID)
	must("release", key1)
	if got, want := balances(e.poolShow("partner")), "acb 70/0/70, obm 110/0/110"; got != want {
		t.Fatalf("all released: %s, want %s", got, want)
	}

	// On record, under the operator.
	var got []string
	e.view(func(tx *ledger.Tx) error {
		return tx.Audit(func(r *ledger.AuditRecord) error {
			if strings.HasPrefix(r.Action, "pool.") {
				got = append(got, r.Action+" "+r.Subject+" by "+r.Operator)
			}
			return nil
		})
	})
	want := []string{"pool.create partner by pat", "pool.add LICENSE001 by pat", "pool.add LICENSE002 by pat",
		"pool.issue " + key1 + " by pat", "pool.issue " + key2 + " by pat", "pool.release " + key2 + " by pat", "pool.release " + key1 + " by pat"}
	if !slices.Equal(got, want) {
		t.Errorf("audit records:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	e.must("ledger", "verify", "--ledger", e.ledger)
}

// TestPoolConcurrentIssue starts 8 olr-sign pool issue-key processes at
// the same moment against one pool of 110 OBM and 70 ACB, each asking
// for 20 OBM and 10 ACB, round after round: exactly 5 get a key (100
// OBM), the other 3 are refused with the numbers, and the pool shows
// exactly the 5 keys, on both engines.
func TestPoolConcurrentIssue(t *testing.T) { onEngines(t, testPoolConcurrentIssue) }

func testPoolConcurrentIssue(t *testing.T) {
	t.Parallel()
	const procs, rounds = 8, 3
	e := newEnv(t, nil)
	for round := range rounds {
		name := fmt.Sprintf("round-%d", round)
		s1, s2 := fmt.Sprintf("R%d-LICENSE001", round), fmt.Sprintf("R%d-LICENSE002", round)
		e.importPoolKeys(name+".csv", map[string]string{s1: "acb=50;obm=80", s2: "acb=20;obm=30"})
		e.must("pool", "create", "--ledger", e.ledger, name)
		e.must("pool", "add", "--ledger", e.ledger, name, s1, s2)

		runs := make([]*cmdRun, procs)
		for i := range runs {
			runs[i] = &cmdRun{cmd: e.cmd("pool", "issue-key", "--ledger", e.ledger, "--operator", fmt.Sprintf("desk-%d", i),
				name, "-m", "obm=20", "-m", "acb=10")}
		}
		var ready, start, done sync.WaitGroup
		ready.Add(procs)
		start.Add(1)
		for _, c := range runs {
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				start.Wait()
				c.r, c.err = tryCmd(c.cmd)
			}()
		}
		ready.Wait()
		start.Done()
		done.Wait()

		var issued []string
		refused := 0
		for _, c := range runs {
			switch {
			case c.err != nil:
				t.Fatal(c.err)
			case c.r.code == 0:
				issued = append(issued, strings.TrimSpace(c.r.stdout))
			case c.r.code == 1 && strings.Contains(c.r.stderr, "obm: 20 asked, 10 available (110 in the pool, 100 allocated)"):
				refused++
			default:
				t.Errorf("round %d: %v", round, c.r)
			}
		}
		if len(issued) != 5 || refused != 3 {
			t.Fatalf("round %d: %d keys issued, %d refused; want 5 and 3", round, len(issued), refused)
		}
		v := e.poolShow(name)
		if got, want := balances(v), "acb 70/50/20, obm 110/100/10"; got != want {
			t.Errorf("round %d: %s, want %s", round, got, want)
		}
		var listed []string
		for _, k := range v.Issued {
			listed = append(listed, k.Key)
		}
		slices.Sort(issued)
		slices.Sort(listed)
		if !slices.Equal(issued, listed) {
			t.Errorf("round %d: keys printed %v, keys in the pool %v", round, issued, listed)
		}
	}
	e.must("ledger", "verify", "--ledger", e.ledger)
}
