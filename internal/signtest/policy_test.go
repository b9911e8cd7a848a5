package signtest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

const licensee = "Acme Manufacturing Ltd"

var policyKeys = []Key{
	{"OEM-0001-AAAA", licensee, "oem"},
	{"OEM-0002-BBBB", licensee, "oem"},
	{"METER-0001-CCCC", licensee, "meter"},
	{"POOL-0001-DDDD", licensee, "active-pool"},
	{"EVAL-0001-EEEE", licensee, "evaluation"},
}

// TestRefusals runs one olr-sign issue per rule that refuses a request on
// its own: the exit code, what the message must say, what it must never
// echo, and that no license file appears.
func TestRefusals(t *testing.T) { onEngines(t, testRefusals) }

func testRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		req   Request
		extra []string // more issue flags
		code  int
		want  []string // in stderr
		never []string // not in stderr or stdout
	}{
		{
			name: "unknown key",
			req:  Request{Licensee: licensee, Key: "OEM-9999-ZZZZ"},
			code: 1, want: []string{"refused", "was not sold"}, never: []string{"OEM-9999-ZZZZ"},
		},
		{
			name: "key in other case",
			req:  Request{Licensee: licensee, Key: "oem-0001-aaaa"},
			code: 1, want: []string{"refused", "case sensitive"}, never: []string{"oem-0001-aaaa", "OEM-0001-AAAA"},
		},
		{
			name: "licensee in other case",
			req:  Request{Licensee: strings.ToUpper(licensee), Key: "OEM-0001-AAAA"},
			code: 1, want: []string{"refused", "case sensitive"}, never: []string{"OEM-0001-AAAA"},
		},
		{
			name: "meter key",
			req:  Request{Licensee: licensee, Key: "METER-0001-CCCC"},
			code: 1, want: []string{"refused", olr.OfflineActivationRule}, never: []string{"METER-0001-CCCC"},
		},
		{
			name: "active pool key",
			req:  Request{Licensee: licensee, Key: "POOL-0001-DDDD"},
			code: 1, want: []string{"refused", olr.OfflineActivationRule}, never: []string{"POOL-0001-DDDD"},
		},
		{
			name: "evaluation key",
			req:  Request{Licensee: licensee, Key: "EVAL-0001-EEEE"},
			code: 1, want: []string{"refused", olr.OfflineActivationRule}, never: []string{"EVAL-0001-EEEE"},
		},
		{
			name: "request 31 days old",
			req:  Request{Licensee: licensee, Key: "OEM-0001-AAAA", Created: time.Now().AddDate(0, 0, -31)},
			code: 1, want: []string{"refused", "more than 30 days ago"}, never: []string{"OEM-0001-AAAA"},
		},
		{
			name: "request 29 days old is answered",
			req:  Request{Licensee: licensee, Key: "OEM-0002-BBBB", Created: time.Now().AddDate(0, 0, -29)},
			code: 0, want: []string{"issued license"}, never: []string{"OEM-0002-BBBB"},
		},
		{
			name:  "module flag with a ledger",
			req:   Request{Licensee: licensee, Key: "OEM-0001-AAAA"},
			extra: []string{"--module", "obm=5000"},
			code:  2, want: []string{"--module", "comes from the ledger"},
		},
		{
			name:  "type flag with a ledger",
			req:   Request{Licensee: licensee, Key: "METER-0001-CCCC"},
			extra: []string{"--type", "oem"},
			code:  2, want: []string{"--type", "comes from the ledger"},
		},
		{
			name:  "expiry flag with a ledger",
			req:   Request{Licensee: licensee, Key: "OEM-0001-AAAA"},
			extra: []string{"--expires", "2099-12-31"},
			code:  2, want: []string{"--expires", "comes from the ledger"},
		},
	}
	e := newEnv(t, policyKeys)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := e.request(tc.name+".olr", tc.req)
			out := filepath.Join(e.dir, "out", tc.name+".license.olr")
			os.MkdirAll(filepath.Dir(out), 0o755)
			r := e.issue(req, out, tc.extra...)
			if r.code != tc.code {
				t.Fatalf("case %d: want exit %d, got %v", i, tc.code, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(r.stderr+r.stdout, n) {
					t.Errorf("output echoes %q:\n%v", n, r)
				}
			}
			_, err := os.Stat(out)
			if tc.code != 0 && err == nil {
				t.Errorf("a license file was written for a refused request")
			}
			if tc.code == 0 {
				if _, err := olr.ParseLicense(mustRead(t, out), vendorTrust); err != nil {
					t.Errorf("license: %v", err)
				}
			}
		})
	}
	// The refusals left nothing in the ledger but the one answered key.
	e.view(func(tx *ledger.Tx) error {
		for _, k := range policyKeys {
			ls, err := tx.Licenses(k.Key)
			if err != nil {
				return err
			}
			if want := map[bool]int{true: 1, false: 0}[k.Key == "OEM-0002-BBBB"]; len(ls) != want {
				t.Errorf("%s: %d licenses, want %d", k.Key, len(ls), want)
			}
		}
		return nil
	})
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestOneKeyOneMachine follows one key through its life: activation, a
// second machine refused, a lost file re-requested, a replay, the
// operator on record, and a transfer that revokes the old license.
func TestOneKeyOneMachine(t *testing.T) { onEngines(t, testOneKeyOneMachine) }

func testOneKeyOneMachine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, policyKeys)
	const key = "OEM-0001-AAAA"

	// First activation, by alice.
	req1, _ := e.request("m1.olr", Request{Licensee: licensee, Key: key, Machine: 1})
	r := e.issue(req1, "m1.license.olr", "--operator", "alice")
	if r.code != 0 || !strings.Contains(r.stderr, "issued license") {
		t.Fatalf("first activation: %v", r)
	}
	lic1 := e.license("m1.license.olr")
	if show := e.must("keys", "show", "--ledger", e.ledger, key).stdout; !strings.Contains(show, "license:     "+lic1.ID) ||
		!strings.Contains(show, "by alice (active)") {
		t.Errorf("keys show does not record alice's activation:\n%s", show)
	}

	// Another machine: refused, exit 1, no file.
	req2, _ := e.request("m2.olr", Request{Licensee: licensee, Key: key, Machine: 2})
	r = e.issue(req2, "m2.license.olr")
	if r.code != 1 || !strings.Contains(r.stderr, "can only be used on one machine") || strings.Contains(r.stderr, key) {
		t.Fatalf("second machine: %v", r)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "m2.license.olr")); err == nil {
		t.Error("a license file was written for the second machine")
	}

	// Replay of the first request: the same bytes, no new activation.
	r = e.issue(req1, "m1-again.license.olr")
	if r.code != 0 || !strings.Contains(r.stderr, "replayed license "+lic1.ID) {
		t.Fatalf("replay: %v", r)
	}
	if !bytes.Equal(e.read("m1.license.olr"), e.read("m1-again.license.olr")) {
		t.Error("the replayed license differs from the first")
	}

	// The same machine asks again (lost file): re-issued, the old license
	// superseded.
	req3, _ := e.request("m1-lost.olr", Request{Licensee: licensee, Key: key, Machine: 1})
	r = e.issue(req3, "m1-lost.license.olr", "--operator", "bob")
	if r.code != 0 || !strings.Contains(r.stderr, "reissued license") || !strings.Contains(r.stderr, "replacing "+lic1.ID) {
		t.Fatalf("re-request from the same machine: %v", r)
	}
	lic3 := e.license("m1-lost.license.olr")
	show := e.must("keys", "show", "--ledger", e.ledger, key).stdout
	for _, want := range []string{
		"license:     " + lic1.ID, "by alice (superseded)",
		"license:     " + lic3.ID, "by bob (active)",
	} {
		if !strings.Contains(show, want) {
			t.Errorf("keys show does not say %q:\n%s", want, show)
		}
	}

	// Transfer to machine 2: a new license, the old one revoked and on
	// the signed revocation list.
	r = e.issue(req2, "m2.license.olr", "--transfer", "mainboard replaced", "--operator", "carol")
	if r.code != 0 || !strings.Contains(r.stderr, "transferred license") {
		t.Fatalf("transfer: %v", r)
	}
	lic2 := e.license("m2.license.olr")
	show = e.must("keys", "show", "--ledger", e.ledger, key).stdout
	for _, want := range []string{lic3.ID + " -> " + lic2.ID + " by carol: mainboard replaced", lic2.ID + " issued"} {
		if !strings.Contains(show, want) {
			t.Errorf("keys show does not say %q:\n%s", want, show)
		}
	}
	e.must("crl", "-i", vendorKey, "--ledger", e.ledger, "-o", "revoked.olr")
	crl, err := olr.ParseRevocationList(e.read("revoked.olr"), vendorTrust)
	if err != nil {
		t.Fatal(err)
	}
	if !crl.IsRevoked(lic3.ID) || crl.IsRevoked(lic2.ID) || crl.IsRevoked(lic1.ID) {
		t.Errorf("revocation list %v: want %s revoked, not %s nor %s", crl.Revoked, lic3.ID, lic2.ID, lic1.ID)
	}

	// Exactly one active activation, on machine 2, and the chain holds.
	e.view(func(tx *ledger.Tx) error {
		a, err := tx.ActiveActivation(key)
		if err != nil {
			return err
		}
		if a.LicenseID != lic2.ID {
			t.Errorf("active activation is %s, want %s", a.LicenseID, lic2.ID)
		}
		return nil
	})
	e.must("ledger", "verify", "--ledger", e.ledger)
}

// TestRealRequest issues for a request that the real olr binary made from
// a saved machine tree, so both binaries meet.
func TestRealRequest(t *testing.T) { onEngines(t, testRealRequest) }

func testRealRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, policyKeys)
	root, err := filepath.Abs("../../fingerprint/host/testdata/baremetal")
	if err != nil {
		t.Fatal(err)
	}
	cmd := binCmd(e, olrBin, "request", "--vendor", vendorKey+".recipient", "--licensee", licensee,
		"--key", "OEM-0002-BBBB", "--root", root, "--tpm", "none", "-o", "req.olr")
	if r := runCmd(t, cmd); r.code != 0 {
		t.Fatalf("olr request: %v", r)
	}
	if r := e.issue("req.olr", "license.olr", "--operator", "dave"); r.code != 0 {
		t.Fatalf("issue: %v", r)
	}
	l := e.license("license.olr")
	if l.Licensee != licensee || l.Type != olr.TypeOEM {
		t.Errorf("license: %+v", l)
	}
	if _, ok := l.Module("obm"); !ok {
		t.Errorf("license lacks the modules sold: %+v", l.Modules)
	}
}
