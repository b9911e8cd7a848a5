package olr

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// A request's plaintext may be gzip-compressed (RFC 1952) before
// encryption: the indented JSON of a typical request shrinks from about
// 1.6 KiB to 0.6 KiB, which halves the QR codes of an X25519 request.
// Readers tell the two forms apart by the first byte: '{' for JSON, 0x1f
// for gzip. The stock tools still open it: age -d ... | gunzip.

var gzipMagic = []byte{0x1f, 0x8b}

// compressRequest returns the gzip form of a request's plaintext when it
// is smaller, else the plaintext itself. The gzip header carries no name
// and no time.
func compressRequest(plain []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write(plain)
	if w.Close() != nil || b.Len() >= len(plain) {
		return plain
	}
	return b.Bytes()
}

// decompressRequest undoes compressRequest: it returns JSON unchanged and
// decompresses one gzip member of at most MaxRequestSize bytes, with
// nothing after it.
func decompressRequest(data []byte) ([]byte, error) {
	if !bytes.HasPrefix(data, gzipMagic) {
		return data, nil
	}
	// A bytes.Reader is read byte by byte, never ahead, so what is left
	// in it after the member is trailing data.
	br := bytes.NewReader(data)
	r, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("compressed request: %v", err)
	}
	r.Multistream(false)
	plain, err := io.ReadAll(io.LimitReader(r, MaxRequestSize+1))
	if err != nil {
		return nil, fmt.Errorf("compressed request: %v", err)
	}
	if len(plain) > MaxRequestSize {
		return nil, fmt.Errorf("compressed request: decompresses to more than %d bytes", MaxRequestSize)
	}
	if br.Len() > 0 {
		return nil, errors.New("compressed request: trailing data after the gzip stream")
	}
	return plain, nil
}

// EncryptRequestCompressed is [EncryptRequest] with the plaintext
// gzip-compressed first when that makes it smaller: the form for QR codes
// and for every request olr writes. [DecryptRequest] reads both forms.
func EncryptRequestCompressed(r *Request, recipients []age.Recipient, armored bool) ([]byte, error) {
	plain, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	return encryptRequest(r, compressRequest(plain), recipients, armored)
}
