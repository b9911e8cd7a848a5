package signer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
)

// The License Management Portal's example: two licenses sold to a
// partner make a pool of 70 ACB and 110 OBM, from which new keys are
// issued within those CALs.
func ExamplePools() {
	dir, err := os.MkdirTemp("", "pools")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := ledger.Create(filepath.Join(dir, "ledger.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	sold := func(key string, acb, obm ledger.Quota) ledger.SoldKey {
		return ledger.SoldKey{Key: key, Licensee: "Example Partner Ltd", Type: olr.TypeOEM, Product: "backup-server",
			Modules: map[string]ledger.Quota{"acb": acb, "obm": obm}, Languages: []string{"en"}}
	}
	err = l.Update(ctx, "sales", func(tx *ledger.Tx) error {
		_, err := tx.ImportKeys("sales.csv", []ledger.SoldKey{sold("LICENSE001", 50, 80), sold("LICENSE002", 20, 30)})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}

	pools := &signer.Pools{Ledger: l}
	if _, err := pools.Create(ctx, "pat", "partner"); err != nil {
		log.Fatal(err)
	}
	st, err := pools.Add(ctx, "pat", "partner", "LICENSE001", "LICENSE002")
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range st.Modules {
		fmt.Printf("%s: %s in the pool\n", m.Name, m.Total)
	}

	key, st, err := pools.IssueKey(ctx, "pat", "partner", &signer.PoolKeySpec{
		Key: "OEM-0001", Modules: map[string]ledger.Quota{"obm": 30, "acb": 10}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("issued %s (%s) for %s\n", key.Key, key.Type, key.Licensee)
	for _, m := range st.Modules {
		fmt.Printf("%s: %s allocated, %s available\n", m.Name, m.Allocated, m.Available)
	}

	_, _, err = pools.IssueKey(ctx, "pat", "partner", &signer.PoolKeySpec{Modules: map[string]ledger.Quota{"obm": 81}})
	var short *ledger.PoolShortError
	fmt.Println(errors.As(err, &short), err)
	// Output:
	// acb: 70 in the pool
	// obm: 110 in the pool
	// issued OEM-0001 (oem) for Example Partner Ltd
	// acb: 10 allocated, 60 available
	// obm: 30 allocated, 80 available
	// true refused: pool "partner" lacks the CALs asked for: obm: 81 asked, 80 available (110 in the pool, 30 allocated)
}
