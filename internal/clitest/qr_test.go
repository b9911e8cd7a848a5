package clitest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olr-dev/olr/internal/qrcode/qrcodetest"
)

// qrOutput splits what olr request --qr prints into its codes (the
// half-block renderings) and the texts printed under them.
func qrOutput(t *testing.T, out string) (codes, texts []string) {
	t.Helper()
	var code []string
	lines := strings.Split(out, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.ContainsAny(l, "█▀▄"):
			code = append(code, l)
		case strings.HasPrefix(l, "OLR1 "):
			codes = append(codes, strings.Join(code, "\n"))
			code = nil
			texts = append(texts, l+"\n"+lines[i+1])
			i++
		}
	}
	return codes, texts
}

// TestRequestQR: the QR codes olr request --qr prints decode (zbarimg,
// from PNG renders of the terminal output) to parts that olr-sign
// inspect joins, in any order, into the very request of req.olr; for
// X25519 and hybrid vendor keys. Missing, duplicate and foreign parts
// are refused by name.
func TestRequestQR(t *testing.T) {
	qrcodetest.Zbarimg(t)
	var other []string
	for _, tc := range []struct {
		name   string
		keygen []string
		max    int // parts at most
	}{
		{"x25519", []string{"--x25519"}, 4},
		{"hybrid", nil, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newActivation(t, "baremetal", "", tc.keygen...)
			r := mustRun(t, a.Dir, "olr", "request", "--qr", "--vendor", a.Key+".recipient", "--licensee", "Example Backup Ltd",
				"--key", "OEM-7Q2D-K9XW-4M3T", "--root", a.Root, "-o", "qr-req.olr")
			codes, texts := qrOutput(t, r.stdout)
			if len(codes) == 0 || len(codes) > tc.max {
				t.Fatalf("%d QR codes, want 1 to %d", len(codes), tc.max)
			}
			var decoded []string
			for i, c := range codes {
				got := qrcodetest.Decode(t, qrcodetest.FromHalfBlocks(t, c, 4))
				if got != texts[i] {
					t.Fatalf("code %d decodes to %q, printed %q", i+1, got, texts[i])
				}
				decoded = append([]string{got}, decoded...) // reversed
			}
			parts := filepath.Join(a.Dir, "parts.txt")
			os.WriteFile(parts, []byte(strings.Join(decoded, "\n\n")+"\n"), 0o644)
			fromParts := mustRun(t, a.Dir, "olr-sign", "inspect", "--json", "-i", a.Key, parts).stdout
			fromFile := mustRun(t, a.Dir, "olr-sign", "inspect", "--json", "-i", a.Key, "qr-req.olr").stdout
			if fromParts != fromFile || !strings.Contains(fromFile, "OEM-7Q2D-K9XW-4M3T") {
				t.Fatalf("the parts hold another request than req.olr:\n%s\n%s", fromParts, fromFile)
			}
			// standard input too
			stdin := filepath.Join(a.Dir, "stdin.sh")
			os.WriteFile(stdin, []byte("olr-sign inspect --json -i "+a.Key+" - < "+parts+"\n"), 0o755)
			if got := mustRun(t, a.Dir, "sh", stdin).stdout; got != fromFile {
				t.Fatalf("parts on standard input:\n%s", got)
			}
			if len(texts) > 1 {
				for _, bad := range []struct{ name, text, want string }{
					{"missing", strings.Join(texts[1:], "\n"), "missing part 1/"},
					{"duplicate", strings.Join(append(texts, texts[0]), "\n"), "appears twice"},
				} {
					os.WriteFile(parts, []byte(bad.text), 0o644)
					r := run(t, a.Dir, "olr-sign", "inspect", "-i", a.Key, parts)
					if r.code != 2 || !strings.Contains(r.stderr, bad.want) || !strings.Contains(r.stderr, "olr-sign: hint:") {
						t.Errorf("%s part: exit %d\n%s", bad.name, r.code, r.stderr)
					}
				}
			}
			if other != nil {
				os.WriteFile(parts, []byte(strings.Join(append(texts[1:], other[0]), "\n")), 0o644)
				if r := run(t, a.Dir, "olr-sign", "inspect", "-i", a.Key, parts); r.code != 2 || !strings.Contains(r.stderr, "parts of two requests are mixed") {
					t.Errorf("foreign part: exit %d\n%s", r.code, r.stderr)
				}
			}
			other = texts
			t.Logf("%s request: %d QR codes", tc.name, len(codes))
		})
	}
}
