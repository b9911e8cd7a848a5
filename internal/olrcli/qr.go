package olrcli

import (
	"bytes"
	"fmt"
	"io"

	"filippo.io/age/armor"
	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/qrcode"
)

var qrFlag = &cli.BoolFlag{Name: "qr",
	Usage: "also print the request as QR codes (and their text) to scan with a phone across the air gap"}

// armored returns the ASCII armor of a binary age file: the same
// ciphertext as the QR codes carry, so that the file and the codes are
// one request.
func armored(bin []byte) ([]byte, error) {
	var b bytes.Buffer
	w := armor.NewWriter(&b)
	if _, err := w.Write(bin); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// printQR shows the request as QR codes in half-block characters, each
// followed by its text, for olr-sign inspect/issue to reassemble.
func printQR(w io.Writer, bin []byte, id string) error {
	codes, err := qrcode.Request(bin, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "request %s as %d QR code(s): scan each one; olr-sign inspect and issue take the texts in any order\n", id, len(codes))
	for _, c := range codes {
		fmt.Fprintf(w, "\n%s of request %s (QR version %d)\n", c.Part.Name(), id, c.Version)
		io.WriteString(w, c.HalfBlocks())
		fmt.Fprintf(w, "%s\n", c.Part.Text())
	}
	return nil
}
