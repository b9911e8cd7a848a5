// Package parts splits a file into numbered text parts small enough for
// one QR code each, and joins the parts again, in any order. It carries an
// encrypted req.olr across an air gap by phone camera or copy and paste:
// the machine shows the parts, the vendor pastes what it scanned into
// olr-sign.
//
// A part is a header line and the base32 of its share of the file:
//
//	OLR1 2/3 0123456789abcdef0123456789abcdef 5e4f1a2b
//	MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPI...
//
// The header names the part format (OLR1), the part's number and the
// count, the request ID (so that parts of two requests are not mixed) and
// the first 4 bytes of the SHA-256 of the whole file, in hex (so that an
// altered or foreign part is named before decryption is tried). The
// payload is unpadded RFC 4648 base32, which QR codes store in their
// alphanumeric mode at 5.5 bits per character, denser than base64 in byte
// mode; payload lines may be wrapped and blank lines may separate parts.
//
// The package uses only the standard library: the vendor's olr-sign reads
// its input.
package parts

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Magic starts every part header; a new part format gets a new magic.
const Magic = "OLR1"

// Bounds, checked before the work they bound.
const (
	// MaxParts bounds the parts of one file: a hybrid post-quantum request
	// needs about 8 at QR version 15.
	MaxParts = 64
	// MaxSize bounds the joined file, and MaxText the text Join reads.
	MaxSize = 1 << 20
	MaxText = 2 * MaxSize
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Part is one numbered part of a file.
type Part struct {
	Index, Count int    // 1-based number of the part, and the count of parts
	ID           string // the request ID: 32 lower-case hex digits
	Digest       string // first 4 bytes of SHA-256 of the whole file, hex
	Payload      []byte // this part's share of the file
}

// Header returns the part's header line, without a newline.
func (p Part) Header() string {
	return fmt.Sprintf("%s %d/%d %s %s", Magic, p.Index, p.Count, p.ID, p.Digest)
}

// Body returns the payload as base32, the text after the header line.
func (p Part) Body() string { return b32.EncodeToString(p.Payload) }

// Text returns the part as a QR code or a paste carries it: the header, a
// newline, and the body.
func (p Part) Text() string { return p.Header() + "\n" + p.Body() }

// Name is how messages name the part: "part 2/3".
func (p Part) Name() string { return fmt.Sprintf("part %d/%d", p.Index, p.Count) }

// Digest returns the digest that part headers carry for data.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:4])
}

// Split cuts data into n parts of nearly equal size for the request id.
func Split(data []byte, id string, n int) ([]Part, error) {
	if !isHexID(id) {
		return nil, errors.New("request ID is not 32 lower-case hex digits")
	}
	if n < 1 || n > MaxParts {
		return nil, fmt.Errorf("%d parts: want 1 to %d", n, MaxParts)
	}
	if len(data) == 0 || len(data) > MaxSize {
		return nil, fmt.Errorf("cannot split %d bytes: want 1 to %d", len(data), MaxSize)
	}
	if n > len(data) {
		return nil, fmt.Errorf("cannot split %d bytes into %d parts", len(data), n)
	}
	digest := Digest(data)
	out := make([]Part, n)
	for i := range n {
		lo, hi := len(data)*i/n, len(data)*(i+1)/n
		out[i] = Part{Index: i + 1, Count: n, ID: id, Digest: digest, Payload: data[lo:hi]}
	}
	return out, nil
}

// IsParts reports whether text starts, after white space, with a part
// header, so that a reader can tell pasted parts from a file.
func IsParts(text []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(text, " \t\r\n"), []byte(Magic+" "))
}

// Parse reads the parts in text, in the order given, checking each one
// but not the set: Join does that.
func Parse(text []byte) ([]Part, error) {
	if len(text) > MaxText {
		return nil, fmt.Errorf("the parts are longer than %d bytes", MaxText)
	}
	var ps []Part
	var body strings.Builder
	finish := func() error {
		if len(ps) == 0 {
			return nil
		}
		p := &ps[len(ps)-1]
		if body.Len() == 0 {
			return fmt.Errorf("%s has no data after its header", p.Name())
		}
		data, err := b32.DecodeString(body.String())
		if err != nil {
			return fmt.Errorf("%s is damaged: its data is not base32 (%v)", p.Name(), err)
		}
		p.Payload = data
		body.Reset()
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(nil, MaxText)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "OLR") && strings.ContainsRune(line, ' '):
			if err := finish(); err != nil {
				return nil, err
			}
			p, err := parseHeader(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			if len(ps) == MaxParts*2 {
				return nil, fmt.Errorf("more than %d part headers", MaxParts*2)
			}
			ps = append(ps, p)
		case len(ps) == 0:
			return nil, fmt.Errorf("line %d: text before the first part header (%s i/n ...): not olr request parts", n, Magic)
		default:
			if !isBase32(line) {
				return nil, fmt.Errorf("%s is damaged: line %d is not base32 (A-Z, 2-7)", ps[len(ps)-1].Name(), n)
			}
			body.WriteString(line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("no part header (%s i/n ...) found", Magic)
	}
	return ps, nil
}

func parseHeader(line string) (Part, error) {
	f := strings.Fields(line)
	if f[0] != Magic {
		if strings.HasPrefix(f[0], "OLR") {
			return Part{}, fmt.Errorf("unsupported part format %q (this olr reads %s)", printable(f[0]), Magic)
		}
		return Part{}, fmt.Errorf("not a part header: want %s i/n REQUEST-ID DIGEST", Magic)
	}
	if len(f) != 4 {
		return Part{}, fmt.Errorf("malformed part header: want %s i/n REQUEST-ID DIGEST", Magic)
	}
	is, ns, ok := strings.Cut(f[1], "/")
	i, ierr := atoi(is)
	n, nerr := atoi(ns)
	if !ok || ierr != nil || nerr != nil || i < 1 || n > MaxParts || i > n {
		return Part{}, fmt.Errorf("malformed part number %q: want i/n with 1 <= i <= n <= %d", printable(f[1]), MaxParts)
	}
	if !isHexID(f[2]) {
		return Part{}, fmt.Errorf("part %d/%d: request ID %q is not 32 lower-case hex digits", i, n, printable(f[2]))
	}
	if len(f[3]) != 8 || !isLowerHex(f[3]) {
		return Part{}, fmt.Errorf("part %d/%d: digest %q is not 8 lower-case hex digits", i, n, printable(f[3]))
	}
	return Part{Index: i, Count: n, ID: f[2], Digest: f[3]}, nil
}

// Join checks that ps are exactly the parts of one file, each once, and
// returns the file and its request ID.
func Join(ps []Part) ([]byte, string, error) {
	if len(ps) == 0 {
		return nil, "", errors.New("no parts")
	}
	first := ps[0]
	seen := make([]bool, first.Count+1)
	size := 0
	for _, p := range ps {
		if p.ID != first.ID {
			return nil, "", fmt.Errorf("%s belongs to request %s, not to request %s like %s: parts of two requests are mixed", p.Name(), p.ID, first.ID, first.Name())
		}
		if p.Count != first.Count || p.Digest != first.Digest {
			return nil, "", fmt.Errorf("%s of request %s does not belong with %s (another count or digest): was the request made twice? Use the parts of one", p.Name(), p.ID, first.Name())
		}
		if seen[p.Index] {
			return nil, "", fmt.Errorf("%s of request %s appears twice: give each part once", p.Name(), p.ID)
		}
		seen[p.Index] = true
		if size += len(p.Payload); size > MaxSize {
			return nil, "", fmt.Errorf("the joined parts are larger than %d bytes", MaxSize)
		}
	}
	var missing []string
	for i := 1; i <= first.Count; i++ {
		if !seen[i] {
			missing = append(missing, fmt.Sprintf("%d/%d", i, first.Count))
		}
	}
	if len(missing) > 0 {
		return nil, "", fmt.Errorf("request %s is incomplete: missing part %s of %d", first.ID, strings.Join(missing, ", "), first.Count)
	}
	sorted := slices.Clone(ps)
	slices.SortFunc(sorted, func(a, b Part) int { return a.Index - b.Index })
	data := make([]byte, 0, size)
	for _, p := range sorted {
		data = append(data, p.Payload...)
	}
	if Digest(data) != first.Digest {
		return nil, "", fmt.Errorf("the parts of request %s do not add up to the file their headers name (digest %s): a part was altered or mistyped", first.ID, first.Digest)
	}
	return data, first.ID, nil
}

// Decode is Parse and Join: the file that the pasted parts in text carry,
// and its request ID.
func Decode(text []byte) ([]byte, string, error) {
	ps, err := Parse(text)
	if err != nil {
		return nil, "", err
	}
	return Join(ps)
}

func atoi(s string) (int, error) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("bad number")
	}
	return strconv.Atoi(s)
}

func isBase32(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isHexID(s string) bool { return len(s) == 32 && isLowerHex(s) }

// printable quotes at most 40 bytes of customer-controlled text for an
// error message.
func printable(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
