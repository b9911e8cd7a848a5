package ledger

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"
)

// TestSoldKeyJSON: a sold key's JSON has the field names of a JSON
// sales export, dates as YYYY-MM-DD, and reads back as it was.
func TestSoldKeyJSON(t *testing.T) {
	k := testKey("K-1")
	k.Created = time.Date(2026, 11, 27, 16, 57, 45, 123456789, time.UTC)
	k.Updated = k.Created
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	want := []string{"created", "expires", "languages", "license_key", "licensee", "modules", "product", "type", "updated"}
	if got := slices.Sorted(maps.Keys(fields)); !slices.Equal(got, want) {
		t.Errorf("fields %q, want %q", got, want)
	}
	for name, v := range map[string]string{
		"license_key": `"K-1"`, "type": `"oem"`, "expires": `"2027-12-31"`,
		"modules": `{"acb":20,"m365":"unlimited","obm":50}`, "languages": `["en","zh-TW"]`,
		"created": `"2026-11-27T16:57:45.123456789Z"`,
	} {
		if string(fields[name]) != v {
			t.Errorf("%s: %s, want %s", name, fields[name], v)
		}
	}
	var back SoldKey
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.SameSale(k) || !back.Created.Equal(k.Created) || !back.Updated.Equal(k.Updated) {
		t.Errorf("read back %+v, want %+v", back, *k)
	}

	// A key the ledger has not stored yet, with nothing sold.
	b, err = json.Marshal(&SoldKey{Key: "K-2", Licensee: "L", Type: "oem", Product: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"license_key":"K-2","licensee":"L","type":"oem","product":"p","modules":{},"languages":[]}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	if err := json.Unmarshal([]byte(`{"license_key":"K","expires":"31.12.2027"}`), &back); err == nil {
		t.Error("a date not in YYYY-MM-DD was read")
	}
}
