package ledger

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
)

// benchLedger opens a ledger with n OEM keys, each ready for activation.
func benchLedger(b *testing.B, n int) (*Ledger, []string) {
	b.Helper()
	l, _ := openTest(b)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("BENCH-%08d", i)
	}
	for i := 0; i < n; i += 1000 {
		var batch []SoldKey
		for _, k := range keys[i:min(i+1000, n)] {
			batch = append(batch, *testKey(k))
		}
		err := l.Update(context.Background(), testOperator, func(tx *Tx) error {
			_, err := tx.ImportKeys("bench", batch)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return l, keys
}

// benchActivation is an activation with a realistic fingerprint and a
// license file of about 2 KB.
func benchActivation(key string) (*Activation, *IssuedLicense) {
	file := make([]byte, 2048)
	rand.Read(file)
	fp := `{"mac":["52:54:00:12:34:56","52:54:00:12:34:57"],"ip":["10.0.0.5"],` +
		`"machine-id":"4c4c4544004c4410805ac4c04f4b3532","product-uuid":"4c4c4544-004c-4410-805a-c4c04f4b3532",` +
		`"board-serial":".7LD9K32.CN1296352O00YB.","disk-serial":["S4EWNX0N123456"],` +
		`"tpm-ek":"000b8a5c2e1f7a6cb3c8e9a1f24c6a0b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1"}`
	return &Activation{Key: key, Fingerprint: []byte(fp)},
		&IssuedLicense{ID: "L-" + key, RequestID: "R-" + key, File: file}
}

// BenchmarkActivate measures one durable Update per activation (WAL,
// synchronous=FULL): the cost of issuing one license.
func BenchmarkActivate(b *testing.B) {
	l, keys := benchLedger(b, b.N)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		a, lic := benchActivation(keys[i])
		if err := l.Update(ctx, testOperator, func(tx *Tx) error { return tx.Activate(a, lic) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "activations/s")
}

// BenchmarkActivateBatch100 records 100 activations per transaction:
// the fsync cost is shared, the per-row cost remains.
func BenchmarkActivateBatch100(b *testing.B) {
	const batch = 100
	l, keys := benchLedger(b, b.N*batch)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		err := l.Update(ctx, testOperator, func(tx *Tx) error {
			for _, k := range keys[i*batch : (i+1)*batch] {
				a, lic := benchActivation(k)
				if err := tx.Activate(a, lic); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "activations/s")
}

// BenchmarkVerify measures Verify over a ledger of 1000 activations.
func BenchmarkVerify(b *testing.B) {
	l, keys := benchLedger(b, 1000)
	ctx := context.Background()
	err := l.Update(ctx, testOperator, func(tx *Tx) error {
		for _, k := range keys {
			a, lic := benchActivation(k)
			if err := tx.Activate(a, lic); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := l.Verify(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
