package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/olr-dev/olr/internal/browsertest"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
)

// poolEnv is the desk with the two licenses of the vendor's pool example
// sold: LICENSE001 (50 AhsayACB, 80 AhsayOBM) and LICENSE002 (20 ACB, 30
// OBM), pooled as "acme" by an admin through the API.
func poolEnv(t *testing.T) (*env, *client) {
	e := newEnv(t)
	err := e.ledger.Update(context.Background(), "sales", func(tx *ledger.Tx) error {
		_, err := tx.ImportKeys("pool", []ledger.SoldKey{
			{Key: "LICENSE001", Licensee: testLicensee, Type: olr.TypeOEM, Product: testProduct, Modules: map[string]ledger.Quota{"acb": 50, "obm": 80}, Languages: []string{"en"}},
			{Key: "LICENSE002", Licensee: testLicensee, Type: olr.TypeOEM, Product: testProduct, Modules: map[string]ledger.Quota{"acb": 20, "obm": 30}, Languages: []string{"en"}},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ada := e.client().login("ada")
	ada.post("/api/pools", url.Values{"name": {"acme"}}).decode(t, http.StatusOK, nil)
	ada.post("/api/pools/acme/add", url.Values{"keys": {"LICENSE001 LICENSE002"}}).decode(t, http.StatusOK, nil)
	return e, ada
}

// TestPools: the pool holds 70 ACB and 110 OBM; keys issued from it take
// their CALs and activate offline; a key sold and pooled no longer
// activates; an over-allocation is refused with the numbers; a key never
// activated can be released. Support and auditors only look.
func TestPools(t *testing.T) {
	e, ada := poolEnv(t)
	var pv poolView
	ada.get("/api/pools/acme").decode(t, http.StatusOK, &pv)
	avail := func(v *signer.PoolView) string {
		var s []string
		for _, m := range v.Modules {
			s = append(s, m.Module+"="+m.Available.String())
		}
		return strings.Join(s, " ")
	}
	if got := avail(pv.Pool); got != "acb=70 obm=110" {
		t.Fatalf("pool: %s", got)
	}
	res := ada.post("/api/pools/acme/issue-key", url.Values{"modules": {"obm=100, acb=60"}, "key": {"OEM-POOL-0001"}})
	res.decode(t, http.StatusOK, &pv)
	if pv.Issued == nil || pv.Issued.Key != "OEM-POOL-0001" || avail(pv.Pool) != "acb=10 obm=10" {
		t.Fatalf("issue-key: %+v, %s", pv.Issued, avail(pv.Pool))
	}
	// The key issued has the portal's lower-case field names, those of a
	// JSON sales export, not Go's.
	var raw struct {
		Issued map[string]json.RawMessage `json:"issued_key"`
	}
	res.decode(t, http.StatusOK, &raw)
	var names []string
	for name := range raw.Issued {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"created", "languages", "license_key", "licensee", "modules", "product", "type", "updated"}; !slices.Equal(names, want) {
		t.Errorf("issued_key has the fields %q, want %q", names, want)
	}
	var modules bytes.Buffer
	json.Compact(&modules, raw.Issued["modules"])
	if k, m := string(raw.Issued["license_key"]), modules.String(); k != `"OEM-POOL-0001"` || m != `{"acb":60,"obm":100}` {
		t.Errorf("issued_key: license_key %s, modules %s", k, m)
	}
	var refused apiError
	ada.post("/api/pools/acme/issue-key", url.Values{"modules": {"obm=20"}}).decode(t, http.StatusConflict, &refused)
	if refused.Rule != signer.RulePoolShort || !strings.Contains(refused.Error, "obm") {
		t.Fatalf("over-allocation: %+v", refused)
	}
	ada.post("/api/pools/acme/issue-key", url.Values{"modules": {"obm"}}).decode(t, http.StatusBadRequest, nil)
	ada.post("/api/pools/nosuch/add", url.Values{"keys": {"OEM-SECOND-KEY-0002"}}).decode(t, http.StatusNotFound, nil)

	// The key issued from the pool activates; a pooled source does not.
	sam := e.client().login("sam")
	var issued IssuedView
	sam.post("/api/issue", formText(e.request(testLicensee, "OEM-POOL-0001", 1))).decode(t, http.StatusOK, &issued)
	lic, err := olr.ParseLicense([]byte(issued.License), e.keys.Trust())
	if err != nil || len(lic.Modules) != 2 || lic.Modules[1].Quota != 100 {
		t.Fatalf("license from the pool: %v %+v", err, lic)
	}
	var ins inspectView
	sam.post("/api/inspect", formText(e.request(testLicensee, "LICENSE001", 2))).decode(t, http.StatusOK, &ins)
	if v := ins.Requests[0].Verdict; v.Rule != signer.RulePooledKey || !strings.Contains(v.CustomerText, "license pool") {
		t.Fatalf("a pooled key's request: %+v", v)
	}

	// Release: a key in use is refused, an unused one gives its CALs back.
	ada.post("/api/pools/acme/release", url.Values{"key": {"OEM-POOL-0001"}}).decode(t, http.StatusConflict, nil)
	ada.post("/api/pools/acme/issue-key", url.Values{"modules": {"obm=10"}, "key": {"OEM-POOL-0002"}}).decode(t, http.StatusOK, &pv)
	ada.post("/api/pools/acme/release", url.Values{"key": {"OEM-POOL-0002"}}).decode(t, http.StatusOK, &pv)
	if avail(pv.Pool) != "acb=10 obm=10" {
		t.Fatalf("after release: %s", avail(pv.Pool))
	}

	otto := e.client().login("otto")
	otto.post("/api/pools/acme/issue-key", url.Values{"modules": {"obm=1"}}).decode(t, http.StatusForbidden, nil)
	sam.post("/api/pools", url.Values{"name": {"mine"}}).decode(t, http.StatusForbidden, nil)
	var list poolsView
	otto.get("/api/pools").decode(t, http.StatusOK, &list)
	if len(list.Pools) != 1 || list.CanAdmin {
		t.Fatalf("pools for an auditor: %+v", list)
	}
	if page := otto.get("/pools/acme"); page.StatusCode != http.StatusOK || strings.Contains(page.Body, "issue-key") {
		t.Fatalf("pool page for an auditor: %s", page.Status)
	}
}

// TestBrowserPool: an admin issues a key from a pool on its page.
func TestBrowserPool(t *testing.T) {
	e, ada := poolEnv(t)
	ctx := browser.Tab(t)
	run(t, ctx, chromedp.Navigate(e.ts.URL+"/pools/acme"))
	signIn(t, ctx, "ada")
	run(t, ctx, chromedp.WaitVisible(chromedp.CSS("#modules")),
		chromedp.SendKeys(chromedp.CSS("#modules"), "obm=30 acb=10"),
		chromedp.Click(chromedp.CSS("#issue-key")),
		chromedp.WaitVisible(chromedp.CSS("#new-key")))
	key := text(t, ctx, "#new-key")
	if !strings.HasPrefix(key, "OEM-") {
		t.Fatalf("new key %q", key)
	}
	var pv poolView
	ada.get("/api/pools/acme").decode(t, http.StatusOK, &pv)
	if len(pv.Pool.Issued) != 1 || pv.Pool.Issued[0].Key != key || pv.Pool.Modules[0].Available != 60 || pv.Pool.Modules[1].Available != 80 {
		t.Fatalf("pool after issuing %s from the page: %+v", key, pv.Pool)
	}
	browsertest.Screenshot(t, ctx, "portal-pool")
}
