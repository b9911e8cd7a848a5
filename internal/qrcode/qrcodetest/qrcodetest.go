// Package qrcodetest decodes QR codes in tests with zbarimg (Debian's
// zbar-tools), a decoder independent of the encoder under test, and turns
// half-block terminal renderings back into images for it.
package qrcodetest

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Zbarimg returns the path of zbarimg. Without it the test fails under
// CI=true and is skipped elsewhere.
func Zbarimg(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zbarimg is not installed (Debian: zbar-tools; .ci/setup installs it)")
		}
		t.Skip("zbarimg is not installed (Debian: zbar-tools): QR decoding not tested")
	}
	return path
}

// Decode returns the text of the one QR code in a PNG image.
func Decode(t testing.TB, pngData []byte) string {
	t.Helper()
	zbar := Zbarimg(t)
	file := filepath.Join(t.TempDir(), "code.png")
	if err := os.WriteFile(file, pngData, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(zbar, "--raw", "--quiet", "-Sdisable", "-Sqrcode.enable", file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zbarimg found no QR code: %v\n%s", err, stderr.String())
	}
	// zbarimg --raw ends each symbol with a newline.
	return strings.TrimSuffix(string(out), "\n")
}

// FromHalfBlocks draws a half-block rendering (each character two
// modules, one above the other; a full block is two light modules) as a
// PNG with scale pixels per module.
func FromHalfBlocks(t testing.TB, text string, scale int) []byte {
	t.Helper()
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	w := len([]rune(lines[0]))
	img := image.NewGray(image.Rect(0, 0, w*scale, 2*len(lines)*scale))
	set := func(x, y int, light bool) {
		c := color.Gray{}
		if light {
			c.Y = 255
		}
		for dy := range scale {
			for dx := range scale {
				img.SetGray(x*scale+dx, y*scale+dy, c)
			}
		}
	}
	for row, line := range lines {
		r := []rune(line)
		if len(r) != w {
			t.Fatalf("half-block line %d is %d characters wide, want %d", row+1, len(r), w)
		}
		for x, ch := range r {
			var top, bottom bool
			switch ch {
			case '█':
				top, bottom = true, true
			case '▀':
				top = true
			case '▄':
				bottom = true
			case ' ':
			default:
				t.Fatalf("unexpected character %q in a half-block rendering", ch)
			}
			set(x, 2*row, top)
			set(x, 2*row+1, bottom)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
