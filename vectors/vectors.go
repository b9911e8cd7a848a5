// Package vectors holds test vectors for the olr file formats, the signed
// license.olr, the age-encrypted req.olr, the trust bundle and the signed
// revocation list, so that any implementation, in Go or another language,
// can be checked against the same files.
//
// Each vector is one file under testdata: a header of "key: value" lines,
// an empty line, then the file under test byte for byte. README.md lists
// the header keys and the expected outcomes. The files are written by
// TestGenerate (go test ./vectors -run TestGenerate -update) and replayed
// against this module by TestVectors.
package vectors

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

//go:embed testdata
var testdata embed.FS

// FS returns the vector files, one file per vector, at the root of the
// file system.
func FS() fs.FS {
	sub, err := fs.Sub(testdata, "testdata")
	if err != nil {
		panic(err)
	}
	return sub
}

// Header is one "key: value" line of a vector's header.
type Header struct {
	Key, Value string
}

// Vector is a parsed vector file.
type Vector struct {
	Name    string
	Headers []Header // in file order; a key may repeat
	Body    []byte   // the file under test, verbatim
}

// Get returns the value of the first header named key.
func (v *Vector) Get(key string) (string, bool) {
	for _, h := range v.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return "", false
}

// All returns the values of every header named key, in order.
func (v *Vector) All(key string) []string {
	var out []string
	for _, h := range v.Headers {
		if h.Key == key {
			out = append(out, h.Value)
		}
	}
	return out
}

// Parse splits a vector file into its header and body. The header ends at
// the first empty line; every header line is "key: value" with a key of
// lower-case letters, digits and '-'. Keys this package does not know are
// kept, so that readers can ignore them.
func Parse(name string, data []byte) (*Vector, error) {
	v := &Vector{Name: name}
	rest := data
	for n := 1; ; n++ {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, fmt.Errorf("vector %s: header is not ended by an empty line", name)
		}
		rest = after
		if len(line) == 0 {
			break
		}
		key, val, ok := strings.Cut(string(line), ": ")
		if !ok || !isKey(key) {
			return nil, fmt.Errorf("vector %s: header line %d is not \"key: value\"", name, n)
		}
		v.Headers = append(v.Headers, Header{key, val})
	}
	v.Body = rest
	return v, nil
}

// Marshal returns the file form of v.
func (v *Vector) Marshal() []byte {
	var b bytes.Buffer
	for _, h := range v.Headers {
		b.WriteString(h.Key + ": " + h.Value + "\n")
	}
	b.WriteString("\n")
	b.Write(v.Body)
	return b.Bytes()
}

// Load parses every file at the root of fsys as a vector, sorted by name.
func Load(fsys fs.FS) ([]*Vector, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var out []*Vector
	for _, e := range entries {
		if e.IsDir() {
			return nil, fmt.Errorf("unexpected directory %s among the vectors", e.Name())
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		v, err := Parse(e.Name(), data)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *Vector) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func isKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
