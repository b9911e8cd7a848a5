package signer

import (
	"context"
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
// engine in turn, in one run: an SQLite file (WAL, synchronous=FULL) and
// a PostgreSQL database on a local server reached through its unix
// socket (fsync on). With -count N the two alternate, so both see the
// same machine.
func BenchmarkBatchIssueEngines(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			location := ""
			if engine == "postgres" {
				location = benchDatabase(b)
			}
			e := newBatchEnvAt(b, b.N, location)
			e.requests(b, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			res, err := e.batch().Run(context.Background(), e.in, e.out)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if res.Issued != b.N || res.Written != b.N {
				b.Fatalf("got %+v", res)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "licenses/s")
		})
	}
}
