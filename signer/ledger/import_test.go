package ledger

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/olr"
)

const csvHeader = "license_key,licensee,type,product,modules,languages,expires,maintenance\n"

func TestImportCSV(t *testing.T) {
	good := csvHeader +
		`OEM-7F3A-22,"Example Backup, Ltd.",oem,cbs,obm=50;acb=20;vmware-vm=10;m365=unlimited,en;fr;zh-TW,2027-12-31,2026-06-30` + "\n" +
		"oem-7f3a-22,example backup,meter,cbs,,,,\n"
	keys, err := ImportCSV(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("got %d keys", len(keys))
	}
	k := keys[0]
	want := &SoldKey{
		Key: "OEM-7F3A-22", Licensee: "Example Backup, Ltd.", Type: olr.TypeOEM, Product: "cbs",
		Modules:     map[string]Quota{"obm": 50, "acb": 20, "vmware-vm": 10, "m365": Unlimited},
		Languages:   []string{"en", "fr", "zh-TW"},
		Expires:     time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC),
		Maintenance: time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC),
	}
	if !k.SameSale(want) {
		t.Errorf("key 1 = %+v", k)
	}
	if keys[1].Key != "oem-7f3a-22" || keys[1].Type != olr.TypeMeter || len(keys[1].Modules) != 0 || !keys[1].Expires.IsZero() {
		t.Errorf("key 2 = %+v", keys[1])
	}

	// Columns in another order, a byte order mark, CRLF line ends.
	reordered := "\uFEFFtype,license_key,licensee,product,modules,languages,expires,maintenance\r\noem,K,L,p,,,,\r\n"
	if keys, err := ImportCSV(strings.NewReader(reordered)); err != nil || keys[0].Key != "K" || keys[0].Type != olr.TypeOEM {
		t.Errorf("reordered columns: %+v, %v", keys, err)
	}

	row := func(s string) string { return csvHeader + "K-0,Lic,oem,cbs,obm=1,en,,\n" + s + "\n" }
	bad := []struct {
		name, in, want string
	}{
		{"empty file", "", "header row is required"},
		{"missing column", "license_key,licensee,type,product,modules,languages,expires\n", `missing column "maintenance"`},
		{"unknown column", strings.TrimSuffix(csvHeader, "\n") + ",price\n", `line 1: header: unknown column "price"`},
		{"duplicate column", "license_key,license_key,licensee,type,product,modules,languages,expires,maintenance\n", "appears twice"},
		{"unknown type", row("K-1,Lic,oem2,cbs,,,,"), `line 3: type: unknown license type "oem2"`},
		{"type case", row("K-1,Lic,OEM,cbs,,,,"), "line 3: type: unknown license type"},
		{"duplicate key", row("K-0,Other,oem,cbs,,,,"), "line 3: license_key: duplicate key, first on line 2"},
		{"negative quota", row("K-1,Lic,oem,cbs,obm=-5,,,"), `line 3: modules: module "obm": quota "-5" is not a whole number or "unlimited"`},
		{"quota not a number", row("K-1,Lic,oem,cbs,obm=5x,,,"), `line 3: modules: module "obm": quota "5x" is not a whole number`},
		{"quota leading zero", row("K-1,Lic,oem,cbs,obm=050,,,"), `line 3: modules: module "obm": quota "050" is not a whole number`},
		{"quota too big", row("K-1,Lic,oem,cbs,obm=9223372036854775807,,,"), `quota "9223372036854775807" is too large (the largest quota is 9223372036854775806`},
		{"quota overflows", row("K-1,Lic,oem,cbs,obm=99999999999999999999,,,"), `quota "99999999999999999999" is too large`},
		{"quota empty", row("K-1,Lic,oem,cbs,obm=,,,"), `quota "" is not a whole number`},
		{"module without quota", row("K-1,Lic,oem,cbs,obm,,,"), `line 3: modules: "obm" is not name=quota`},
		{"duplicate module", row("K-1,Lic,oem,cbs,obm=1;obm=2,,,"), `module "obm" listed twice`},
		{"bad module name", row("K-1,Lic,oem,cbs,OBM=1,,,"), "line 3: modules: module name"},
		// What a license cannot carry is refused at import, not at every issue.
		{"module name a license cannot carry", row("K-1,Lic,oem,cbs,m365.mailbox=3,,,"), `line 3: modules: module name "m365.mailbox": a license carries lower-case letters, digits and '-' only`},
		{"module name with underscore", row("K-1,Lic,oem,cbs,vmware_vm=3,,,"), `module name "vmware_vm"`},
		{"language tag a license cannot carry", row("K-1,Lic,oem,cbs,,EN,,"), `line 3: languages: language tag "EN" is not of the form en, fr or zh-TW`},
		{"licensee a license cannot carry", row("K-1,\"Li\u2028c\",oem,cbs,,,,"), "line 3: licensee:"},
		{"bad date", row("K-1,Lic,oem,cbs,,,2027-02-30,"), "line 3: expires: date must be a valid"},
		{"date format", row("K-1,Lic,oem,cbs,,,,31/12/2027"), "line 3: maintenance: date must be"},
		{"empty licensee", row("K-1,,oem,cbs,,,,"), "line 3: licensee: is empty"},
		{"empty key", row(",Lic,oem,cbs,,,,"), "line 3: license_key: is empty"},
		{"empty product", row("K-1,Lic,oem,,,,,"), "line 3: product: is empty"},
		{"control character", row("K-1,\"Li\x07c\",oem,cbs,,,,"), "line 3: licensee: contains control"},
		{"newline in licensee", row("K-1,\"Li\nc\",oem,cbs,,,,"), "line 3: licensee: contains control"},
		{"bidi override", row("K-1,Li\u202ec,oem,cbs,,,,"), "line 3: licensee: contains control or invisible"},
		{"zero width space", row("K\u200b-1,Lic,oem,cbs,,,,"), "line 3: license_key: contains control or invisible"},
		{"trailing space", row("K-1 ,Lic,oem,cbs,,,,"), "line 3: license_key: has leading or trailing white space"},
		{"invalid UTF-8", row("K-1,Li\xffc,oem,cbs,,,,"), "line 3: licensee: is not valid UTF-8"},
		{"bad language", row("K-1,Lic,oem,cbs,,english!,,"), "line 3: languages: language tag"},
		{"duplicate language", row("K-1,Lic,oem,cbs,,en;en,,"), `line 3: languages: "en" listed twice`},
		{"wrong field count", row("K-1,Lic,oem"), "line 3: wrong number of fields"},
		{"bare quote", row(`K-1,Li"c,oem,cbs,,,,`), "line 3:"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ImportCSV(strings.NewReader(tc.in))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\n does not contain %q", err, tc.want)
			}
		})
	}
}

func TestImportJSON(t *testing.T) {
	good := `[
  {"license_key": "OEM-7F3A-22", "licensee": "Example Backup, Ltd.", "type": "oem", "product": "cbs",
   "modules": {"obm": 50, "acb": 20, "vmware-vm": 10, "m365": "unlimited"},
   "languages": ["en", "fr", "zh-TW"], "expires": "2027-12-31", "maintenance": null},
  {"license_key": "E-1", "licensee": "Eval", "type": "evaluation", "product": "cbs"}
]`
	keys, err := ImportJSON(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("got %d keys", len(keys))
	}
	want := &SoldKey{
		Key: "OEM-7F3A-22", Licensee: "Example Backup, Ltd.", Type: olr.TypeOEM, Product: "cbs",
		Modules:   map[string]Quota{"obm": 50, "acb": 20, "vmware-vm": 10, "m365": Unlimited},
		Languages: []string{"en", "fr", "zh-TW"},
		Expires:   time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC),
	}
	if !keys[0].SameSale(want) {
		t.Errorf("key 1 = %+v", keys[0])
	}
	if keys, err := ImportJSON(strings.NewReader("[]")); err != nil || len(keys) != 0 {
		t.Errorf("empty array: %v, %v", keys, err)
	}

	obj := func(fields string) string {
		return "[\n" + `{"license_key":"K-0","licensee":"L","type":"oem","product":"p"},` + "\n" +
			`{"license_key":"K-1","licensee":"L","type":"oem","product":"p"` + fields + "}\n]"
	}
	bad := []struct {
		name, in, want string
	}{
		{"not an array", `{"license_key":"K"}`, "must be a JSON array"},
		{"empty", ``, "malformed JSON"},
		{"element not an object", `[1]`, "record 1 (line 1): each key must be a JSON object"},
		{"unknown field", obj(`,"price":3`), `record 2 (line 3): unknown field "price"`},
		{"duplicate field", obj(`,"licensee":"M"`), `record 2 (line 3): field "licensee" appears twice`},
		{"duplicate module", obj(`,"modules":{"obm":1,"obm":2}`), `field "obm" appears twice`},
		{"missing licensee", `[{"license_key":"K","type":"oem","product":"p"}]`, "record 1 (line 1): licensee: is missing"},
		{"null type", `[{"license_key":"K","licensee":"L","type":null,"product":"p"}]`, "type: is missing"},
		{"unknown type", `[{"license_key":"K","licensee":"L","type":"active_pool","product":"p"}]`, `type: unknown license type "active_pool"`},
		{"duplicate key", obj(`,"license_key":"K-0"`), "appears twice"},
		{"duplicate key across records", "[\n" + `{"license_key":"K","licensee":"L","type":"oem","product":"p"},` + "\n" + `{"license_key":"K","licensee":"M","type":"oem","product":"p"}]`, "record 2 (line 3): license_key: duplicate key, first in record 1 (line 2)"},
		{"negative quota", obj(`,"modules":{"obm":-1}`), `record 2 (line 3): modules: module "obm": quota "-1" is not a whole number`},
		{"quota too large", obj(`,"modules":{"obm":9223372036854775807}`), `module "obm": quota "9223372036854775807" is too large`},
		{"module name a license cannot carry", obj(`,"modules":{"m365.mailbox":3}`), `module name "m365.mailbox"`},
		{"language tag a license cannot carry", obj(`,"languages":["EN"]`), `language tag "EN"`},
		{"fractional quota", obj(`,"modules":{"obm":1.5}`), `module "obm": quota "1.5" is not a whole number`},
		{"exponent quota", obj(`,"modules":{"obm":1e3}`), `module "obm": quota "1e3" is not a whole number`},
		{"quota string", obj(`,"modules":{"obm":"50"}`), `module "obm": quota must be`},
		{"bad date", obj(`,"expires":"2027-13-01"`), "record 2 (line 3): expires: date must be a valid"},
		{"empty licensee", `[{"license_key":"K","licensee":"","type":"oem","product":"p"}]`, "licensee: is empty"},
		{"control character", `[{"license_key":"K\u0000","licensee":"L","type":"oem","product":"p"}]`, "license_key: contains control"},
		{"languages not strings", obj(`,"languages":[1]`), "record 2 (line 3):"},
		{"trailing data", `[] []`, "trailing data"},
		{"truncated", `[{"license_key":"K"`, "malformed JSON"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ImportJSON(strings.NewReader(tc.in))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\n does not contain %q", err, tc.want)
			}
		})
	}
}

func TestImportTooLong(t *testing.T) {
	r := strings.NewReader(csvHeader + strings.Repeat(" ", MaxImportBytes))
	if _, err := ImportCSV(r); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("ImportCSV: %v", err)
	}
}

func TestImportKeys(t *testing.T) { onEngines(t, testImportKeys) }

func testImportKeys(t *testing.T) {
	l, _ := openTest(t)
	ctx := context.Background()
	csv := csvHeader + "K-1,Lic,oem,cbs,obm=5,en,,\nK-2,Lic,meter,cbs,,,,\n"
	importCSV := func(in string) (*ImportResult, error) {
		keys, err := ImportCSV(strings.NewReader(in))
		if err != nil {
			return nil, err
		}
		var res *ImportResult
		err = l.Update(ctx, testOperator, func(tx *Tx) error {
			res, err = tx.ImportKeys("sales.csv", keys)
			return err
		})
		return res, err
	}
	head := func() int64 {
		var h AuditHead
		l.View(ctx, func(tx *Tx) (err error) { h, err = tx.Head(); return })
		return h.Seq
	}

	res, err := importCSV(csv)
	if err != nil || len(res.Created) != 2 || len(res.Updated)+len(res.Unchanged) != 0 {
		t.Fatalf("first import: %+v, %v", res, err)
	}
	seq := head()
	if seq != 3 { // two key.create and the keys.import summary
		t.Errorf("audit head after import = %d", seq)
	}

	// The same content again is a no-op.
	res, err = importCSV(csv)
	if err != nil || len(res.Unchanged) != 2 || len(res.Created)+len(res.Updated) != 0 {
		t.Fatalf("re-import: %+v, %v", res, err)
	}
	if head() != seq {
		t.Error("identical re-import wrote to the audit log")
	}

	// Changed content updates and audits the change.
	res, err = importCSV(csvHeader + "K-1,Lic,oem,cbs,obm=6,en,,\nK-2,Lic,meter,cbs,,,,\n")
	if err != nil || len(res.Updated) != 1 || res.Updated[0] != "K-1" {
		t.Fatalf("changed import: %+v, %v", res, err)
	}
	l.View(ctx, func(tx *Tx) error {
		var last *AuditRecord
		tx.Audit(func(r *AuditRecord) error {
			if r.Action == ActionKeyUpdate {
				last = r
			}
			return nil
		})
		if last == nil || last.Subject != "K-1" || !strings.Contains(string(last.Details), `"changed":["modules"]`) {
			t.Errorf("key.update record = %+v", last)
		}
		k, _ := tx.Key("K-1")
		if k.Modules["obm"] != 6 || !k.Updated.After(k.Created) && !k.Updated.Equal(k.Created) {
			t.Errorf("updated key = %+v", k)
		}
		return nil
	})

	// All or nothing: a bad key fails the whole transaction.
	seq = head()
	err = l.Update(ctx, testOperator, func(tx *Tx) error {
		bad := *testKey("K-3")
		bad.Modules = map[string]Quota{"obm": -7}
		_, err := tx.ImportKeys("x", []SoldKey{*testKey("K-9"), bad})
		return err
	})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Record != "key 2" || ve.Field != "modules" {
		t.Fatalf("bad import: %v", err)
	}
	if head() != seq {
		t.Error("failed import left audit records")
	}
	l.View(ctx, func(tx *Tx) error {
		if _, err := tx.Key("K-9"); !errors.Is(err, ErrNotFound) {
			t.Errorf("K-9 recorded by a failed import: %v", err)
		}
		return nil
	})
	verifyOK(t, l)
}

func FuzzImportCSV(f *testing.F) {
	f.Add(csvHeader + `OEM-7F3A-22,"Example, Ltd.",oem,cbs,obm=50;m365=unlimited,en;zh-TW,2027-12-31,` + "\n")
	f.Add(csvHeader + "K,L,meter,p,,,,\nK,L,oem,p,a=1;a=2,x,2027-02-30,\n")
	f.Add("\uFEFFtype,license_key\n\"")
	f.Fuzz(func(t *testing.T, in string) {
		keys, err := ImportCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		for i := range keys {
			if err := validateKey(&keys[i]); err != nil {
				t.Fatalf("ImportCSV returned an invalid key: %v", err)
			}
		}
	})
}

func FuzzImportJSON(f *testing.F) {
	f.Add(`[{"license_key":"K","licensee":"L","type":"oem","product":"p","modules":{"obm":5,"m365":"unlimited"},"languages":["en"],"expires":"2027-01-01","maintenance":null}]`)
	f.Add(`[{"license_key":"K","licensee":"L","licensee":"M"}] x`)
	f.Add(`[{"modules":{"a":{"b":[1,{"c":2}]}}}]`)
	f.Fuzz(func(t *testing.T, in string) {
		keys, err := ImportJSON(strings.NewReader(in))
		if err != nil {
			return
		}
		for i := range keys {
			if err := validateKey(&keys[i]); err != nil {
				t.Fatalf("ImportJSON returned an invalid key: %v", err)
			}
		}
	})
}
