package ledger

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/olr-dev/olr/internal/pgtest"
)

// What an operator can act on reads the same on both engines: a full
// disk on the PostgreSQL server, a read-only session and a role that may
// only read are told as ErrDiskFull and ErrCannotWrite, with the server's
// own error kept.
func TestDescribePostgresErrors(t *testing.T) {
	for _, c := range []struct {
		code string
		want error
	}{
		{"53100", ErrDiskFull},
		{"25006", ErrCannotWrite},
		{"42501", ErrCannotWrite},
	} {
		pe := &pgconn.PgError{Code: c.code, Message: "server says " + c.code}
		err := describeWrite(pe)
		if !errors.Is(err, c.want) || !errors.As(err, new(*pgconn.PgError)) || !strings.Contains(err.Error(), "server says") {
			t.Errorf("%s: %v", c.code, err)
		}
	}
	if err := describeWrite(&pgconn.PgError{Code: "23505"}); errors.Is(err, ErrCannotWrite) || errors.Is(err, ErrDiskFull) {
		t.Errorf("a unique violation described as %v", err)
	}
}

// A database an administrator set read-only (as a standby is) refuses
// the write with ErrCannotWrite, and the ledger is unchanged.
func TestPostgresReadOnlyDatabase(t *testing.T) {
	ctx := context.Background()
	l, loc := openPostgresTest(t)
	putKeys(t, l, testKey("K-1"))
	before, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if err := pgtest.Shared(t).Exec("postgres", "ALTER DATABASE "+db+" SET default_transaction_read_only = on"); err != nil {
		t.Fatal(err)
	}
	l, err = Open(loc)
	if err != nil {
		t.Fatalf("opening a read-only database: %v", err)
	}
	defer l.Close()
	err = l.Update(ctx, testOperator, func(tx *Tx) error { _, err := tx.PutKey(testKey("K-2")); return err })
	if !errors.Is(err, ErrCannotWrite) {
		t.Fatalf("a write to a read-only database: %v", err)
	}
	if after, err := l.Head(ctx); err != nil || after != before {
		t.Fatalf("head %v, was %v (%v)", after, before, err)
	}
}
