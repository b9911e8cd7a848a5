package clitest

import (
	"context"
	"fmt"
	"log"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/store"
)

// The README's product code, run as the command "product" of the test
// binary (see TestMain): scripts check that a product written as the
// README says verifies the license olr imported. TestReadmeProduct keeps
// the two texts the same.

// trustBundle is the README's embedded trust bundle; productMain reads it
// from $PRODUCT_TRUST.
var trustBundle []byte

// productMachine stands in for the README's machine.Options{}: this
// machine with its TPM ($PRODUCT_TPM; a software TPM, in tests) or the
// tree in $OLRTEST_MACHINE.
var productMachine machine.Options

func checkLicense(ctx context.Context) (*olr.License, error) {
	trust, err := olr.ParseTrust(trustBundle)
	if err != nil {
		return nil, err
	}
	// This machine and its TPM, read as olr request read them.
	m, err := machine.Collect(ctx, productMachine)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	// m.Prover() proves a license bound to the TPM with the TPM itself.
	res, err := store.Open(store.DefaultDir()).Check(trust, m.Fingerprint, time.Now(),
		&olr.VerifyOptions{Product: "backup-server", TPM: m.Prover()})
	if err != nil {
		return nil, err // res.Reason says why: expired, hardware-mismatch, tpm-mismatch, revoked, ...
	}
	if res.Status == olr.Grace {
		log.Printf("license: hardware changed; it stops working at %s", res.GraceUntil)
	}
	return res.License, nil
}

// productMain starts the README's product: it exits 0 when its license
// lets it run, 1 when not.
func productMain() {
	var err error
	if trustBundle, err = os.ReadFile(os.Getenv("PRODUCT_TRUST")); err != nil {
		fmt.Fprintln(os.Stderr, "product:", err)
		os.Exit(2)
	}
	tpm := os.Getenv("PRODUCT_TPM")
	productMachine = machine.Options{Root: os.Getenv("OLRTEST_MACHINE"), TPM: tpm, AllowSoftwareTPM: machine.IsSoftwareTPM(tpm)}
	log.SetFlags(0)
	log.SetPrefix("product: ")
	lic, err := checkLicense(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "product: refusing to start:", err)
		os.Exit(1)
	}
	fmt.Println("product: licensed to", lic.Licensee)
}

// TestReadmeProduct checks that checkLicense above is the README's, but
// for where the machine's options come from.
func TestReadmeProduct(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("product_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fn := regexp.MustCompile(`(?s)\nfunc checkLicense\(.*?\n}\n`)
	want := fn.Find(readme)
	got := fn.Find(self)
	if want == nil || got == nil {
		t.Fatalf("checkLicense not found (README: %v, here: %v)", want != nil, got != nil)
	}
	if strings.Replace(string(got), "machine.Collect(ctx, productMachine)", "machine.Collect(ctx, machine.Options{})", 1) != string(want) {
		t.Fatalf("the README's checkLicense differs from the one the tests run:\nREADME:\n%s\ntested:\n%s", want, got)
	}
}
