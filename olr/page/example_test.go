package page_test

import (
	"log"
	"log/slog"
	"net/http"
	"time"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/page"
	"github.com/olr-dev/olr/olr/store"
)

// A product mounts the License page under its admin console, behind the
// console's own login, and lets the monitor check quotas every minute.
func Example() {
	trust, err := olr.ParseTrust(embeddedTrustBundle)
	if err != nil {
		log.Fatal(err)
	}
	vendor, err := olr.ParseRecipients(embeddedVendorRecipient)
	if err != nil {
		log.Fatal(err)
	}
	h, err := page.New(page.Config{
		Trust:    trust,
		StateDir: store.DefaultDir(),
		Products: []page.Product{{Name: "backup-server", Title: "Backup"}, {Name: "redirector", Title: "Redirector"}},
		Vendor:   vendor,
		Usage:    countUsers, // how many of a module are in use now
		Logger:   slog.Default(),
	})
	if err != nil {
		log.Fatal(err)
	}
	go h.Monitor().Run(ctxOfTheProduct, time.Minute)
	http.Handle("/admin/license/", requireAdmin(http.StripPrefix("/admin/license", h)))
}
