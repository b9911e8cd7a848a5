package portal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"

	"filippo.io/age/armor"

	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/parts"
)

// What the inbox accepts: request files (the form field "request", any
// number), and text pasted into the field "text": one or more armored
// requests, or the texts of a request's QR codes (OLR1 i/n parts, in any
// order).

// submitted is one request as it arrived, before decryption.
type submitted struct {
	// Source names it in messages: the file name, quoted, or "pasted
	// text" / "pasted QR parts".
	Source string
	Data   []byte
	// Err is why it could not be read, when it could not.
	Err error
}

const (
	armorBegin = "-----BEGIN AGE ENCRYPTED FILE-----"
	armorEnd   = "-----END AGE ENCRYPTED FILE-----"
)

// readSubmission reads the requests of an inbox or issue form. The body
// is already capped by the caller (http.MaxBytesReader); an error here
// is a form that cannot be read at all.
func readSubmission(r *http.Request) ([]submitted, error) {
	var out []submitted
	if isMultipart(r) {
		if err := r.ParseMultipartForm(MaxUploadBytes); err != nil {
			return nil, err
		}
		if r.MultipartForm != nil {
			files := r.MultipartForm.File["request"]
			if len(files) > MaxUploadFiles {
				return nil, fmt.Errorf("%d files: send at most %d at once", len(files), MaxUploadFiles)
			}
			for _, fh := range files {
				out = append(out, readUpload(fh))
			}
		}
	} else if err := r.ParseForm(); err != nil {
		return nil, err
	}
	text := []byte(r.PostForm.Get("text"))
	if len(bytes.TrimSpace(text)) > 0 {
		out = append(out, splitText(text)...)
	}
	if len(out) == 0 {
		return nil, errors.New("no request: choose req.olr files, or paste a request or its QR parts")
	}
	return out, nil
}

func isMultipart(r *http.Request) bool {
	return bytes.HasPrefix([]byte(r.Header.Get("Content-Type")), []byte("multipart/form-data"))
}

// readUpload reads one uploaded file, at most olr.MaxRequestSize bytes.
func readUpload(fh *multipart.FileHeader) submitted {
	sub := submitted{Source: safetext.Quote(fh.Filename)}
	if fh.Size > olr.MaxRequestSize {
		sub.Err = fmt.Errorf("the file is larger than %d bytes: not a request", olr.MaxRequestSize)
		return sub
	}
	f, err := fh.Open()
	if err != nil {
		sub.Err = err
		return sub
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, olr.MaxRequestSize+1))
	switch {
	case err != nil:
		sub.Err = err
	case len(data) > olr.MaxRequestSize:
		sub.Err = fmt.Errorf("the file is larger than %d bytes: not a request", olr.MaxRequestSize)
	default:
		sub.Data = data
	}
	return sub
}

// splitText cuts pasted text into the requests it holds: the QR parts of
// one request, or one or more armored requests.
func splitText(text []byte) []submitted {
	if parts.IsParts(text) {
		sub := submitted{Source: "pasted QR parts"}
		data, _, err := parts.Decode(text)
		if err != nil {
			sub.Err = err
		} else {
			sub.Data = data
		}
		return []submitted{sub}
	}
	var out []submitted
	rest := text
	for n := 1; ; n++ {
		i := bytes.Index(rest, []byte(armorBegin))
		if i < 0 {
			break
		}
		j := bytes.Index(rest[i:], []byte(armorEnd))
		if j < 0 {
			out = append(out, submitted{Source: fmt.Sprintf("pasted request %d", n), Data: rest[i:]})
			rest = nil
			break
		}
		end := i + j + len(armorEnd)
		out = append(out, submitted{Source: fmt.Sprintf("pasted request %d", n), Data: rest[i:end]})
		rest = rest[end:]
	}
	if len(out) == 0 {
		// Not a request: DecryptRequest says why.
		return []submitted{{Source: "pasted text", Data: text}}
	}
	if len(out) == 1 {
		out[0].Source = "pasted request"
	}
	return out
}

// armored returns a request file in ASCII armor, as the issue form
// carries it in a hidden field: unchanged if it is armored already.
func armored(data []byte) string {
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(armorBegin)) {
		return string(data)
	}
	var b bytes.Buffer
	w := armor.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.String()
}
