package parts

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

const id = "0123456789abcdef0123456789abcdef"

func texts(ps []Part) []string {
	var out []string
	for i := range ps {
		out = append(out, ps[i].Text())
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	for _, size := range []int{1, 5, 6, 999, 2400} {
		for _, n := range []int{1, 2, 3, 7} {
			if n > size {
				continue
			}
			data := make([]byte, size)
			rand.Read(data)
			ps, err := Split(data, id, n)
			if err != nil {
				t.Fatal(err)
			}
			// Any order, blank lines between, payload wrapped at 60.
			tx := texts(ps)
			var in strings.Builder
			for i := len(tx) - 1; i >= 0; i-- {
				head, body, _ := strings.Cut(tx[i], "\n")
				in.WriteString("\r\n  " + head + "\r\n")
				for len(body) > 60 {
					in.WriteString(body[:60] + "\n")
					body = body[60:]
				}
				in.WriteString(body + "\n\n")
			}
			got, gotID, err := Decode([]byte(in.String()))
			if err != nil {
				t.Fatalf("%d bytes in %d parts: %v", size, n, err)
			}
			if !bytes.Equal(got, data) || gotID != id {
				t.Fatalf("%d bytes in %d parts: joined file differs", size, n)
			}
		}
	}
}

func TestSplitBounds(t *testing.T) {
	data := make([]byte, 10)
	for _, tc := range []struct {
		name string
		data []byte
		id   string
		n    int
	}{
		{"no parts", data, id, 0},
		{"too many parts", make([]byte, 1000), id, MaxParts + 1},
		{"more parts than bytes", data, id, 11},
		{"empty", nil, id, 1},
		{"bad id", data, "ABC", 1},
	} {
		if _, err := Split(tc.data, tc.id, tc.n); err == nil {
			t.Errorf("%s: Split succeeded", tc.name)
		}
	}
}

func TestRefusals(t *testing.T) {
	data := bytes.Repeat([]byte("olr request parts "), 40)
	ps, _ := Split(data, id, 3)
	tx := texts(ps)
	other, _ := Split(bytes.Repeat([]byte("another request!! "), 40), "fedcba9876543210fedcba9876543210", 3)
	otherTx := texts(other)
	again, _ := Split(bytes.Repeat([]byte("olr request parts, made again "), 40), id, 3)
	head, body, _ := strings.Cut(tx[1], "\n")
	flipped := head + "\n" + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return r
	}, body)

	for _, tc := range []struct {
		name, text, want string
	}{
		{"missing", tx[0] + "\n" + tx[2], "missing part 2/3 of 3"},
		{"missing several", tx[1], "missing part 1/3, 3/3 of 3"},
		{"duplicate", tx[0] + "\n" + tx[1] + "\n" + tx[1] + "\n" + tx[2], "part 2/3 of request " + id + " appears twice"},
		{"foreign", tx[0] + "\n" + otherTx[1] + "\n" + tx[2], "part 2/3 belongs to request fedcba9876543210fedcba9876543210, not to request " + id},
		{"made twice", tx[0] + "\n" + texts(again)[1] + "\n" + tx[2], "does not belong with part 1/3"},
		{"altered", tx[0] + "\n" + flipped + "\n" + tx[2], "a part was altered or mistyped"},
		{"not base32", tx[0] + "\nhello world\n", "part 1/3 is damaged: line 3 is not base32"},
		{"lower case", strings.Replace(tx[0], "\n", "\nabc", 1), "is not base32"},
		{"no data", Part{Index: 1, Count: 1, ID: id, Digest: "00000000"}.Header() + "\n", "part 1/1 has no data"},
		{"leading text", "Dear support,\n" + tx[0], "text before the first part header"},
		{"armored request", "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n", "text before the first part header"},
		{"empty", "\n\n", "no part header"},
		{"future format", "OLR2 1/1 " + id + " 00000000\nAAAA\n", `unsupported part format "OLR2"`},
		{"index zero", "OLR1 0/3 " + id + " 00000000\nAAAA\n", "malformed part number"},
		{"index past count", "OLR1 4/3 " + id + " 00000000\nAAAA\n", "malformed part number"},
		{"leading zero", "OLR1 01/3 " + id + " 00000000\nAAAA\n", "malformed part number"},
		{"too many", "OLR1 1/65 " + id + " 00000000\nAAAA\n", "malformed part number"},
		{"short id", "OLR1 1/1 0123 00000000\nAAAA\n", "request ID \"0123\" is not 32"},
		{"bad digest", "OLR1 1/1 " + id + " 0000000G\nAAAA\n", "digest"},
		{"extra field", "OLR1 1/1 " + id + " 00000000 x\nAAAA\n", "malformed part header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode([]byte(tc.text))
			if err == nil {
				t.Fatalf("Decode succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestIsParts(t *testing.T) {
	for text, want := range map[string]bool{
		"\n  OLR1 1/2 x":                       true,
		"-----BEGIN AGE ENCRYPTED FILE-----\n": false,
		"age-encryption.org/v1\n":              false,
		"OLR1\n":                               false,
	} {
		if got := IsParts([]byte(text)); got != want {
			t.Errorf("IsParts(%q) = %v", text, got)
		}
	}
}

func TestTooLong(t *testing.T) {
	if _, err := Parse(make([]byte, MaxText+1)); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("Parse of a huge text: %v", err)
	}
}

// FuzzDecode checks that Decode never panics, and that whatever it
// accepts splits again into parts that decode to the same file.
func FuzzDecode(f *testing.F) {
	ps, _ := Split([]byte("a small request file for the fuzzer"), id, 3)
	f.Add([]byte(strings.Join(texts(ps), "\n")))
	f.Add([]byte(ps[0].Text()))
	f.Add([]byte("OLR1 1/1 " + id + " 00000000\nAAAA\n"))
	f.Add([]byte("OLR1 2/2 " + id + " 00000000\n\nOLR1 1/2 " + id + " 00000000\nAA\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		data, gotID, err := Decode(text)
		if err != nil {
			return
		}
		if len(data) == 0 || !isHexID(gotID) {
			t.Fatalf("Decode accepted %q: %d bytes, id %q", text, len(data), gotID)
		}
		again, err := Split(data, gotID, 1)
		if err != nil {
			t.Fatal(err)
		}
		back, _, err := Decode([]byte(again[0].Text()))
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("re-split of an accepted file does not decode: %v", err)
		}
	})
}
