package ledger

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
)

// FuzzDecodeSale: the direct decoders of a stored sale's modules and
// languages agree with encoding/json on every input, errors included.
func FuzzDecodeSale(f *testing.F) {
	for _, s := range []string{`{}`, `{"acb":20,"mobile":"unlimited","obm":50}`, `{"a":1,}`, `{"a":01}`, `{"a":1 }`,
		`{"a":1,"a":2}`, `{"\u0061":1}`, `{"a":"Unlimited"}`, `{"a":unlimited}`, `{"a":}`, `[]`, `["en","zh-TW"]`, `["en",]`, `[ "en"]`, `["e\n"]`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := decodeModules(s)
		var want map[string]Quota
		werr := json.Unmarshal([]byte(s), &want)
		if (err == nil) != (werr == nil) || err == nil && !maps.Equal(m, want) {
			t.Errorf("modules %q: %v, %v; encoding/json: %v, %v", s, m, err, want, werr)
		}
		l, err := decodeLanguages(s)
		var wantL []string
		werr = json.Unmarshal([]byte(s), &wantL)
		if (err == nil) != (werr == nil) || err == nil && !slices.Equal(l, wantL) {
			t.Errorf("languages %q: %v, %v; encoding/json: %v, %v", s, l, err, wantL, werr)
		}
	})
}
