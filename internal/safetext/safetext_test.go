package safetext_test

import (
	"strings"
	"testing"

	"github.com/olr-dev/olr/internal/safetext"
)

func TestQuote(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{in: "Example Backup Ltd", want: `"Example Backup Ltd"`},
		{in: "Müller GmbH", want: `"Müller GmbH"`},
		{in: "\x1b[31mred", want: `"\x1b[31mred"`},
		{in: "a\u202eb", want: `"a\u202eb"`},
		{in: "zero\u200bwidth", want: `"zero\u200bwidth"`},
		{in: "two\nlines", want: `"two\nlines"`},
		{in: "bad\xffutf8", want: `"bad\xffutf8"`},
		{in: strings.Repeat("é", 100), want: `"` + strings.Repeat("é", safetext.MaxRunes) + `"...`},
		{in: "AGE-SECRET-KEY-1QQQQ", want: safetext.Withheld},
		{in: "age-secret-key-1qqqq", want: safetext.Withheld},
		{in: "olr-signing-key/v1", want: safetext.Withheld},
		{in: "seed: AAAA", want: safetext.Withheld},
	}
	for _, tt := range tests {
		if got := safetext.Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{in: `req.olr: refused: licensee name "A" does not match "B"`, want: `req.olr: refused: licensee name "A" does not match "B"`},
		{in: "evil\x1b]0;title\x07name.olr", want: `evil\x1b]0;title\aname.olr`},
		{in: "line\nolr-sign: forged", want: `line\nolr-sign: forged`},
		{in: "bidi\u202egnp.exe", want: `bidi\u202egnp.exe`},
		{in: "tab\there", want: `tab\there`},
		{in: "bad\xff", want: `bad\xff`},
		{in: `unknown column "AGE-SECRET-KEY-1QYQSZQ3" in x`, want: `unknown column "` + safetext.Withheld + `" in x`},
		{in: "line 3: seed: AAAABBBB/+cc is bad", want: "line 3: " + safetext.Withheld + " is bad"},
	}
	for _, tt := range tests {
		if got := safetext.Sanitize(tt.in); got != tt.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := safetext.Sanitize(strings.Repeat("\x1b", 10*safetext.MaxMessage))
	if len(long) > safetext.MaxMessage+8 || !strings.HasSuffix(long, "...") {
		t.Errorf("Sanitize of a long text kept %d bytes", len(long))
	}
}

func TestField(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{in: "Example Backup Ltd", want: "Example Backup Ltd"},
		{in: "Müller GmbH", want: "Müller GmbH"},
		{in: "3c:ec:ef:12:a4:01", want: "3c:ec:ef:12:a4:01"},
		{in: "", want: `""`},
		{in: " padded", want: `" padded"`},
		{in: `say "hi"`, want: `"say \"hi\""`},
		{in: "a\\b", want: `"a\\b"`},
		{in: "\x1b[2J", want: `"\x1b[2J"`},
		{in: "Example \u202eLtd", want: `"Example \u202eLtd"`},
		{in: "backup\u200b01", want: `"backup\u200b01"`},
		{in: "wide\u3000space", want: `"wide\u3000space"`},
		{in: strings.Repeat("h", 250), want: strings.Repeat("h", 250)},
		{in: strings.Repeat("h", 600), want: `"` + strings.Repeat("h", safetext.MaxFieldRunes) + `"...`},
		{in: "AGE-SECRET-KEY-1X", want: safetext.Withheld},
	}
	for _, tt := range tests {
		if got := safetext.Field(tt.in); got != tt.want {
			t.Errorf("Field(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzSanitize: nothing Sanitize returns can act on a terminal.
func FuzzSanitize(f *testing.F) {
	f.Add("\x1b[2J\u202e\u200b\n\r\t\x00\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if f := safetext.Field(s); f != s && f != safetext.QuoteN(s, safetext.MaxFieldRunes) {
			t.Fatalf("Field(%q) = %q: neither the value nor its quoted form", s, f)
		}
		for _, out := range []string{safetext.Sanitize(s), safetext.Quote(s), safetext.Field(s)} {
			for _, r := range out {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e' || r == '\u200b' || r == '\u2028' {
					t.Fatalf("%q kept %U", out, r)
				}
			}
		}
	})
}
