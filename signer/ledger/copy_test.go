package ledger

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestCopyRoundTrip copies a ledger from SQLite to PostgreSQL and back
// to SQLite: each copy verifies, with the original's head as anchor, and
// holds the same rows; a non-empty target and a copy onto itself are
// refused; and the copies go on as the original does.
func TestCopyRoundTrip(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	fixed := WithClock(func() time.Time { return at })
	src, err := Create(filepath.Join(t.TempDir(), "src.db"), fixed)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	buildHistory(t, src)
	pg, _ := openPostgresTest(t, fixed)
	back, err := Create(filepath.Join(t.TempDir(), "back.db"), fixed)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()

	res, err := Copy(ctx, pg, src)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows["audit"] != res.Head.Seq || res.Rows["sold_keys"] != 7 || res.Rows["activations"] != 4 ||
		res.Rows["pools"] != 1 || res.Rows["pool_keys"] != 4 {
		t.Errorf("copied %v, head %d", res.Rows, res.Head.Seq)
	}
	res2, err := Copy(ctx, back, pg)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Head != res.Head || !reflect.DeepEqual(res2.Rows, res.Rows) {
		t.Errorf("the copy back copied %v, head %x; the first %v, head %x", res2.Rows, res2.Head.Hash, res.Rows, res.Head.Hash)
	}
	for _, l := range []*Ledger{pg, back} {
		if err := l.Verify(ctx, res.Head.Anchor()); err != nil {
			t.Errorf("%s: %v", l.Path(), err)
		}
		for _, tab := range copyTables() {
			if a, b := rowValues(t, src.db, tab), rowValues(t, l.db, tab); !reflect.DeepEqual(a, b) {
				t.Errorf("%s: table %s differs from the original", l.Path(), tab.name)
			}
		}
	}

	if _, err := Copy(ctx, pg, src); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("a copy onto a ledger that has records: %v", err)
	}
	if _, err := Copy(ctx, src, src); err == nil {
		t.Error("a copy onto itself was not refused")
	}
	// A target with keys but no audit record (edited behind olr's back)
	// is not empty either.
	empty, _ := openPostgresTest(t)
	if _, err := empty.db.Exec(`INSERT INTO sold_keys VALUES ('K-9', 'x', 'oem', 'p', '{}', '[]', NULL, NULL, 't', 't')`); err != nil {
		t.Fatal(err)
	}
	if _, err := Copy(ctx, empty, src); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("a copy onto a ledger that has a key: %v", err)
	}

	// All three go on alike: the same activation makes the same head.
	var heads []AuditHead
	for _, l := range []*Ledger{src, pg, back} {
		activate(t, l, "K-3", "01")
		h, err := l.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		heads = append(heads, h)
	}
	if heads[0] != heads[1] || heads[0] != heads[2] {
		t.Errorf("after one more activation the heads differ: %x, %x, %x", heads[0].Hash, heads[1].Hash, heads[2].Hash)
	}
}
