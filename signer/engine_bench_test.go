package signer

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/olr-dev/olr/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if benchPG.c != nil {
		if err := benchPG.c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// benchPG is a durable PostgreSQL cluster (commits fsynced, as SQLite's
// synchronous=FULL does), started by the first benchmark that needs it.
var benchPG struct {
	once sync.Once
	c    *pgtest.Cluster
	err  error
}

func benchDatabase(b *testing.B) string {
	b.Helper()
	benchPG.once.Do(func() { benchPG.c, benchPG.err = pgtest.Start(pgtest.Options{Durable: true}) })
	if errors.Is(benchPG.err, pgtest.ErrNotInstalled) && os.Getenv("CI") != "true" {
		b.Skipf("%v; skipping", benchPG.err)
	}
	if benchPG.err != nil {
		b.Fatal(benchPG.err)
	}
	db, err := benchPG.c.NewDB()
	if err != nil {
		b.Fatal(err)
	}
	return benchPG.c.URL(db)
}

// BenchmarkBatchIssueEngines is BenchmarkBatchIssue on each ledger
// engine: an SQLite file (WAL, synchronous=FULL) and a PostgreSQL
// database on a local server reached through its unix socket (fsync
// on). -count runs one engine N times, then the other: to compare them,
// run the binary once per round (BENCHMARKS.md shows how).
func BenchmarkBatchIssueEngines(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			location := ""
			if engine == "postgres" {
				location = benchDatabase(b)
			}
			benchBatch(b, location, false)
		})
	}
}
