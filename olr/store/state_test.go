package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseState(t *testing.T) {
	for _, c := range []struct {
		name, in string
		err      string // substring; empty for valid
	}{
		{"installed", `{"license_id":"0123456789abcdef0123456789abcdef","installed":"2026-01-15T09:30:00Z","last_seen":"2026-01-16T09:30:00Z"}`, ""},
		{"grace and list", `{"license_id":"0123456789abcdef0123456789abcdef","installed":"2026-01-15T09:30:00Z","last_seen":"2026-01-16T09:30:00Z","mismatch_since":"2026-01-16T09:30:00Z","revocation_list":7}`, ""},
		{"list only", `{"last_seen":"2026-01-16T09:30:00Z","revocation_list":7}`, ""},
		{"empty object", `{}`, ""},
		{"unknown field", `{"license_id":"0123456789abcdef0123456789abcdef","installed":"2026-01-15T09:30:00Z","grace":true}`, "unknown field"},
		{"trailing", `{} {}`, "trailing data"},
		{"not an object", `[]`, "cannot unmarshal"},
		{"upper-case id", `{"license_id":"0123456789ABCDEF0123456789ABCDEF","installed":"2026-01-15T09:30:00Z"}`, "hex digits"},
		{"no install time", `{"license_id":"0123456789abcdef0123456789abcdef"}`, "install time"},
		{"grace without license", `{"mismatch_since":"2026-01-16T09:30:00Z"}`, "without a license"},
		{"negative list", `{"revocation_list":-1}`, "cannot unmarshal"},
		{"empty", ``, "EOF"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseState([]byte(c.in))
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("got %v, want an error with %q", err, c.err)
			}
		})
	}
}

// FuzzParseState checks that the state parser never panics and that what
// it accepts survives a save and a parse unchanged.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"license_id":"0123456789abcdef0123456789abcdef","installed":"2026-01-15T09:30:00Z","last_seen":"2026-01-16T09:30:00Z","mismatch_since":"2026-01-16T09:30:00Z","revocation_list":7}`))
	f.Add([]byte(`{"last_seen":"2026-01-16T09:30:00+02:00","revocation_list":18446744073709551615}`))
	f.Add([]byte(`{"license_id":"","installed":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"license_id":"0123456789abcdef0123456789abcdef","installed":"2026-01-15T09:30:00Z"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxStateSize {
			return
		}
		st, err := parseState(data)
		if err != nil {
			return
		}
		out, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			t.Fatalf("accepted state does not marshal: %v", err)
		}
		again, err := parseState(out)
		if err != nil {
			t.Fatalf("a saved state is refused: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(normal(st), normal(again)) {
			t.Fatalf("state changed across a save:\n%+v\n%+v", st, again)
		}
	})
}

// normal drops the time zones, which a save keeps but equality of
// time.Time compares.
func normal(st *State) State {
	n := *st
	n.Installed, n.LastSeen, n.MismatchSince = n.Installed.UTC(), n.LastSeen.UTC(), n.MismatchSince.UTC()
	return n
}
