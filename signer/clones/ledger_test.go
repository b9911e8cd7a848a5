package clones

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

// Every activation the ledger records, active or ended, joins the audit:
// two keys activated on one server are one shared machine, and a recorded
// fingerprint that is not a request's is listed as unreadable under the
// name the caller gave it.
func TestAddLedger(t *testing.T) {
	ctx := context.Background()
	l, err := ledger.Create(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fps := map[string]json.RawMessage{}
	for key, m := range map[string]machine{"OEM-A": server1, "OEM-B": server1, "OEM-C": server2} {
		fps[key], err = json.Marshal(m.fingerprint(t))
		if err != nil {
			t.Fatal(err)
		}
	}
	fps["OEM-D"] = json.RawMessage(`{"factors":[]}`)
	err = l.Update(ctx, "test", func(tx *ledger.Tx) error {
		var keys []ledger.SoldKey
		for _, k := range []string{"OEM-A", "OEM-B", "OEM-C", "OEM-D"} {
			keys = append(keys, ledger.SoldKey{Key: k, Licensee: "Licensee of " + k, Type: olr.TypeOEM, Product: "backup-server"})
		}
		if _, err := tx.ImportKeys("sales.csv", keys); err != nil {
			return err
		}
		for i, k := range []string{"OEM-A", "OEM-B", "OEM-C", "OEM-D"} {
			id := fmt.Sprintf("%032x", i+1)
			if err := tx.Activate(&ledger.Activation{Key: k, Fingerprint: fps[k]},
				&ledger.IssuedLicense{ID: id, RequestID: id, File: []byte("license " + k)}); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d := New()
	var n int
	err = l.View(ctx, func(tx *ledger.Tx) error {
		n, err = d.AddLedger(tx, func(a ledger.Activation) string { return "activation of " + a.Key })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("read %d activations, want 4", n)
	}
	got := summary(d.Report())
	for _, want := range []string{"unreadable activation of OEM-D"} {
		if !slices.Contains(got, want) {
			t.Errorf("report %q lacks %q", got, want)
		}
	}
	shared := false
	for _, s := range d.Report().SharedMachines {
		shared = shared || slices.Equal(s.Keys, []string{"OEM-A", "OEM-B"})
	}
	if !shared {
		t.Errorf("OEM-A and OEM-B on one server are not reported as a shared machine: %q", got)
	}
}
