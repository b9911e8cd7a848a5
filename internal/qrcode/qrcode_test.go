package qrcode

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/olr-dev/olr/internal/qrcode/qrcodetest"
	"github.com/olr-dev/olr/olr/parts"
)

const id = "0123456789abcdef0123456789abcdef"

// TestDecodeWithZbar renders the parts of a file as PNG and as half
// blocks, decodes both with zbarimg and joins the decoded texts.
func TestDecodeWithZbar(t *testing.T) {
	qrcodetest.Zbarimg(t)
	data := make([]byte, 2300) // about a compressed hybrid request
	rand.Read(data)
	codes, err := Request(data, id)
	if err != nil {
		t.Fatal(err)
	}
	var fromPNG, fromBlocks []string
	for _, c := range codes {
		if c.Version > MaxVersion {
			t.Fatalf("%s is QR version %d, above %d", c.Part.Name(), c.Version, MaxVersion)
		}
		img, err := c.PNG(4)
		if err != nil {
			t.Fatal(err)
		}
		got := qrcodetest.Decode(t, img)
		if got != c.Part.Text() {
			t.Fatalf("%s: zbarimg read %q, want %q", c.Part.Name(), got, c.Part.Text())
		}
		fromPNG = append(fromPNG, got)
		fromBlocks = append(fromBlocks, qrcodetest.Decode(t, qrcodetest.FromHalfBlocks(t, c.HalfBlocks(), 4)))
	}
	for _, texts := range [][]string{fromPNG, fromBlocks} {
		// reversed: order does not matter
		for i, j := 0, len(texts)-1; i < j; i, j = i+1, j-1 {
			texts[i], texts[j] = texts[j], texts[i]
		}
		got, gotID, err := parts.Decode([]byte(strings.Join(texts, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) || gotID != id {
			t.Fatal("the decoded parts do not join to the file")
		}
	}
}

func TestFewestParts(t *testing.T) {
	for _, size := range []int{1, 300, 800, 2300, 4000} {
		data := make([]byte, size)
		rand.Read(data)
		codes, err := Request(data, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) > 1 {
			// one part fewer must not fit
			ps, _ := parts.Split(data, id, len(codes)-1)
			fits := true
			for _, p := range ps {
				if _, err := Encode(p); err != nil {
					fits = false
				}
			}
			if fits {
				t.Errorf("%d bytes: %d parts, but %d fit", size, len(codes), len(codes)-1)
			}
		}
	}
}
