package portal_test

import (
	"context"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
	"github.com/olr-dev/olr/signer/portal"
)

// The support desk on a ledger shared by a team, over TLS, as olr-sign
// serve runs it.
func ExampleNew() {
	keys, err := signer.LoadKeys("vendor.key", func() (string, error) { return os.Getenv("OLR_PASSPHRASE"), nil })
	if err != nil {
		log.Fatal(err)
	}
	l, err := ledger.Open("postgres://olr@db.example/ledger")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	desk, err := portal.New(portal.Config{
		Issuer:   &signer.Issuer{Keys: keys, Ledger: l},
		Accounts: portal.LedgerAccounts(l),
		Logger:   slog.New(slog.NewJSONHandler(os.Stderr, nil)),
		Secure:   true,
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", ":8443")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: desk, ReadHeaderTimeout: 10 * time.Second}
	err = portal.Serve(context.Background(), srv, ln, "desk.crt", "desk.key", 30*time.Second)
	if err != nil {
		log.Fatal(err)
	}
}

// What to tell a customer whose Evaluation key cannot be activated
// offline.
func ExampleCustomerText() {
	os.Stdout.WriteString(portal.CustomerText("offline-oem-only") + "\n")
	// Output:
	// Offline license activation is only applicable for OEM license type. Meter, Active Pool and Evaluation keys do not support offline activation.
}
