package portal

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParsePHC: any stored hash text parses to a bounded cost or is
// refused, never panics, and a parsed hash prints back as itself.
func FuzzParsePHC(f *testing.F) {
	f.Add(hashPassword("pw", 1, 8<<10, 1))
	f.Add("$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=4194304,t=3,p=2$c2FsdA$aGFzaA")
	f.Add("$argon2id$v=19$m=+65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := parsePHC(s)
		if !ok {
			return
		}
		if h.memory > maxArgonMemory || h.time > maxArgonTime || h.threads > maxArgonThreads || len(h.key) > 64 {
			t.Fatalf("%q parsed to an unbounded cost %+v", s, h)
		}
		if !strings.HasPrefix(s, "$argon2id$v=19$m=") {
			t.Fatalf("%q parsed", s)
		}
	})
}

// FuzzSplitText: pasted text is cut into requests without a panic; each
// piece is part of the text, or the text whole when no request is found.
func FuzzSplitText(f *testing.F) {
	f.Add([]byte(armorBegin + "\nYWJj\n" + armorEnd + "\n" + armorBegin + "\nZGVm\n" + armorEnd))
	f.Add([]byte("OLR1 1/2 0123456789abcdef0123456789abcdef 5e4f1a2b\nMFRGG\n"))
	f.Add([]byte(armorBegin + "\nno end"))
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, text []byte) {
		if len(bytes.TrimSpace(text)) == 0 {
			return
		}
		subs := splitText(text)
		if len(subs) == 0 {
			t.Fatal("no submission")
		}
		for _, s := range subs {
			if s.Err == nil && !bytes.Contains(text, s.Data) {
				t.Fatalf("piece %q is not in the text", s.Data)
			}
			if s.Source == "" {
				t.Fatal("a piece without a name")
			}
		}
	})
}
