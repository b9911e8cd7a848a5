package vectors

import (
	"bytes"
	"testing"
)

func TestParse(t *testing.T) {
	data := []byte("expect: valid\nkind: license\nx-future: kept\nfactor: disk-serial WD WX 12\nfactor: ip 192.0.2.1\n\n\nbody\r\n\n")
	v, err := Parse("v", data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.Body, []byte("\nbody\r\n\n")) {
		t.Errorf("body %q: want everything after the first empty line, verbatim", v.Body)
	}
	if got, _ := v.Get("x-future"); got != "kept" {
		t.Errorf("unknown key: got %q", got)
	}
	if f := v.All("factor"); len(f) != 2 || f[0] != "disk-serial WD WX 12" {
		t.Errorf("repeated key: got %q", f)
	}
	if !bytes.Equal(v.Marshal(), data) {
		t.Errorf("Marshal does not give back the file")
	}
	empty, err := Parse("empty", []byte("expect: malformed\n\n"))
	if err != nil || len(empty.Body) != 0 {
		t.Errorf("empty body: %v, %q", err, empty.Body)
	}
	for _, bad := range []string{
		"expect: valid\nbody",    // no empty line
		"expect: valid",          // no newline at all
		"Expect: valid\n\n",      // key not lower case
		"expect:valid\n\n",       // no space after the colon
		"expect: valid\n \nbody", // a blank, not empty, line
	} {
		if _, err := Parse("bad", []byte(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

// FuzzParse: the vector file parser never panics, and an accepted vector
// keeps its body byte for byte.
func FuzzParse(f *testing.F) {
	f.Add([]byte("expect: valid\nkind: license\n\nbody\n"))
	f.Add([]byte("kind: request\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		if !bytes.HasSuffix(data, v.Body) {
			t.Fatalf("body %q is not the end of the file", v.Body)
		}
	})
}
