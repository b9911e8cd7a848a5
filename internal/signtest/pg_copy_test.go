package signtest

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/olr-dev/olr/internal/pgtest"
	"github.com/olr-dev/olr/signer/ledger"
)

// ledgerDump is everything a ledger records, read through signer/ledger.
type ledgerDump struct {
	Audit    []ledger.AuditRecord
	Keys     []ledger.SoldKey
	Licenses [][]ledger.IssuedLicense
	Acts     [][]ledger.Activation
	Revoked  []ledger.Revocation
}

func dump(t *testing.T, location string) ledgerDump {
	t.Helper()
	l, err := ledger.Open(location)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var d ledgerDump
	err = l.View(context.Background(), func(tx *ledger.Tx) error {
		if err := tx.Audit(func(r *ledger.AuditRecord) error { d.Audit = append(d.Audit, *r); return nil }); err != nil {
			return err
		}
		var err error
		if d.Keys, err = tx.Keys(); err != nil {
			return err
		}
		for _, k := range d.Keys {
			lics, err := tx.Licenses(k.Key)
			if err != nil {
				return err
			}
			acts, err := tx.Activations(k.Key)
			if err != nil {
				return err
			}
			d.Licenses, d.Acts = append(d.Licenses, lics), append(d.Acts, acts)
		}
		d.Revoked, err = tx.Revocations()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLedgerCopyRoundTrip copies a ledger the binary wrote from its file
// into PostgreSQL and from there into a new file, with olr-sign ledger
// copy: ledger verify passes on each copy with the same head, and each
// holds the same records. A target that holds anything is refused, and
// a refused copy into a new file leaves no file.
func TestLedgerCopyRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, policyKeys)
	for m, key := range []string{"OEM-0001-AAAA", "OEM-0002-BBBB"} {
		req, _ := e.request(key+".olr", Request{Licensee: licensee, Key: key, Machine: m})
		if r := e.issue(req, key+".license.olr", "--operator", "alice"); r.code != 0 {
			t.Fatal(r)
		}
	}
	lic := e.license("OEM-0001-AAAA.license.olr")
	e.must("revoke", "--ledger", e.ledger, "--operator", "bob", "--reason", "refund", lic.ID)
	e.must("crl", "-i", vendorKey, "--ledger", e.ledger, "-o", "revoked.olr")

	pg := pgtest.NewDatabase(t)
	back := filepath.Join(e.dir, "back.db")
	r1 := e.must("ledger", "copy", e.ledger, pg)
	r2 := e.must("ledger", "copy", pg, back)
	for _, r := range []result{r1, r2} {
		if !strings.Contains(r.stdout, "verified") || !strings.Contains(r.stdout, "2 licenses") {
			t.Errorf("ledger copy: %v", r)
		}
	}
	heads := map[string]string{}
	for _, l := range []string{e.ledger, pg, back} {
		r := e.must("ledger", "verify", "--ledger", l)
		heads[l] = r.stdout[strings.Index(r.stdout, "chain intact"):]
	}
	if heads[e.ledger] != heads[pg] || heads[e.ledger] != heads[back] {
		t.Errorf("heads differ: %v", heads)
	}
	orig := dump(t, e.ledger)
	if len(orig.Audit) < 8 || len(orig.Revoked) != 1 {
		t.Fatalf("the original has %d audit records and %d revocations", len(orig.Audit), len(orig.Revoked))
	}
	for _, l := range []string{pg, back} {
		if got := dump(t, l); !reflect.DeepEqual(got, orig) {
			t.Errorf("%s differs from the original", l)
		}
	}

	// Onto a ledger that holds anything: refused, exit 1, nothing
	// changed; into a new file from a damaged ledger: no file left.
	if r := e.run("ledger", "copy", e.ledger, pg); r.code != 1 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("copy onto a ledger with records: %v", r)
	}
	if !reflect.DeepEqual(dump(t, pg), orig) {
		t.Error("a refused copy changed its target")
	}
	c := pgtest.Shared(t)
	if _, err := c.Psql(pg, "UPDATE olr.sold_keys SET licensee = 'Mallory' WHERE license_key = 'OEM-0002-BBBB';"); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(e.dir, "fresh.db")
	if r := e.run("ledger", "copy", pg, fresh); r.code != 1 || !strings.Contains(r.stderr, "sold_keys row") {
		t.Errorf("copy of a damaged ledger: %v", r)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("a failed copy left %s: %v", fresh, err)
	}
}
