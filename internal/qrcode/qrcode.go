// Package qrcode shows an encrypted request as QR codes: split into parts
// (package olr/parts) of at most QR version [MaxVersion] each, rendered as
// PNG images for the License page and as half-block characters for a
// terminal.
//
// The symbols come from github.com/piglig/go-qr, a pure Go encoder
// without dependencies that lets the caller choose segments and bound the
// version: the part header goes in a byte segment, the base32 payload in
// an alphanumeric one (5.5 bits per character).
package qrcode

import (
	"bytes"
	"fmt"
	"image/png"
	"strings"

	goqr "github.com/piglig/go-qr"

	"github.com/olr-dev/olr/olr/parts"
)

// MaxVersion bounds the size of one symbol: version 15 is 77 modules
// wide, which a phone camera reads from a screen or a printout without
// trouble. A larger request gets more parts instead.
const MaxVersion = 15

// ecc is medium error correction: it survives glare and a dirty screen,
// at 20% less room than the lowest level.
var ecc = goqr.Medium

// Code is one part as a QR symbol.
type Code struct {
	Part    parts.Part
	Version int // QR version, 1..MaxVersion
	Size    int // modules per side
	qr      *goqr.QrCode
}

// Encode makes the QR symbol of one part.
func Encode(p parts.Part) (*Code, error) {
	head, err := goqr.MakeBytes([]byte(p.Header() + "\n"))
	if err != nil {
		return nil, err
	}
	body, err := goqr.MakeAlphanumeric(p.Body())
	if err != nil {
		return nil, err
	}
	q, err := goqr.EncodeSegments([]*goqr.QrSegment{head, body}, ecc, goqr.MinVersion, MaxVersion, -1, false)
	if err != nil {
		return nil, err
	}
	return &Code{Part: p, Version: (q.Size() - 17) / 4, Size: q.Size(), qr: q}, nil
}

// Request splits an encrypted request (the binary age file) into the
// fewest parts that each fit in a symbol of at most MaxVersion, and
// encodes them.
func Request(data []byte, id string) ([]*Code, error) {
	for n := 1; n <= parts.MaxParts && n <= len(data); n++ {
		ps, err := parts.Split(data, id, n)
		if err != nil {
			return nil, err
		}
		codes := make([]*Code, 0, n)
		for _, p := range ps {
			c, err := Encode(p)
			if err != nil {
				break
			}
			codes = append(codes, c)
		}
		if len(codes) == n {
			return codes, nil
		}
	}
	return nil, fmt.Errorf("a request of %d bytes does not fit in %d QR codes", len(data), parts.MaxParts)
}

// PNG renders the symbol with scale pixels per module and the standard
// quiet zone of 4 modules.
func (c *Code) PNG(scale int) ([]byte, error) {
	img, err := c.qr.ToImage(goqr.NewQrCodeImgConfig(scale, 4))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// HalfBlocks renders the symbol for a terminal: each character cell holds
// two modules, one above the other, drawn with the upper and lower half
// block characters. Dark modules are drawn as spaces on the light
// background the characters paint, so that the code reads the same on
// dark and light terminals; the quiet zone is 2 modules, which phone
// cameras accept from a screen.
func (c *Code) HalfBlocks() string {
	const quiet = 2
	light := func(x, y int) bool {
		if x < 0 || y < 0 || x >= c.Size || y >= c.Size {
			return true
		}
		return !c.qr.Module(x, y)
	}
	var b strings.Builder
	for y := -quiet; y < c.Size+quiet; y += 2 {
		for x := -quiet; x < c.Size+quiet; x++ {
			top, bottom := light(x, y), light(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
