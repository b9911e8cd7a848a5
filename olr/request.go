package olr

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/olr-dev/olr/fingerprint"
)

// RequestFormat is the format tag inside every request.
const RequestFormat = "olr-request/v1"

// Request is the plaintext of a req.olr file: who asks, for which key, and
// the raw hardware factors of the machine. It travels only encrypted to
// the vendor, since it holds hardware identifiers and the license key.
type Request struct {
	Format      string                  `json:"format"`
	ID          string                  `json:"request_id"` // 32 lower-case hex digits, random
	Created     string                  `json:"created"`    // RFC 3339 UTC, whole seconds
	Product     string                  `json:"product"`
	Licensee    string                  `json:"licensee"`
	LicenseKey  string                  `json:"license_key"`
	Hostname    string                  `json:"hostname"`
	Tool        string                  `json:"tool"` // the olr version that made it
	Fingerprint fingerprint.Fingerprint `json:"fingerprint"`
	// TPM is the machine's TPM endorsement keys, for a TPM-bound license;
	// set only in an olr-request/v2 (see AttachTPM).
	TPM *RequestTPM `json:"tpm,omitempty"`
}

// AttachTPM adds the TPM's endorsement keys to the request, which makes it
// an olr-request/v2.
func (r *Request) AttachTPM(t *RequestTPM) error {
	r.TPM, r.Format = t, RequestFormatV2
	return r.Validate()
}

// NewRequest fills in a request with a fresh random ID.
func NewRequest(product, licensee, key, hostname, tool string, fp *fingerprint.Fingerprint, now time.Time) (*Request, error) {
	r := &Request{
		Format: RequestFormat, ID: NewID(), Created: formatTime(now),
		Product: product, Licensee: licensee, LicenseKey: key, Hostname: hostname, Tool: tool,
		Fingerprint: *fp,
	}
	return r, r.Validate()
}

// NewID returns 128 random bits as 32 lower-case hex digits, the form of
// request and license IDs.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CreatedTime returns the request's creation time.
func (r *Request) CreatedTime() time.Time {
	t, _ := parseTime(r.Created)
	return t
}

// machineClasses are the machine classes a request may name.
var machineClasses = []string{fingerprint.ClassBareMetal, fingerprint.ClassVM, fingerprint.ClassContainer, fingerprint.ClassUnknown}

// Validate checks a request's values (SPEC.md section 2). It never puts
// the license key into an error: requests are decrypted at the vendor and
// errors end up in logs. Everything a request holds is shown to support
// staff, so every text follows the text rule.
func (r *Request) Validate() error {
	switch {
	case r.Format == RequestFormatV2 && r.TPM != nil:
		if err := r.TPM.validate(); err != nil {
			return err
		}
	case r.Format == RequestFormatV2:
		return errors.New("an olr-request/v2 without the TPM's endorsement keys")
	case r.Format != RequestFormat:
		return fmt.Errorf("unsupported request format %s (this olr reads %s and %s)", quoteShort(r.Format), RequestFormat, RequestFormatV2)
	case r.TPM != nil:
		return errors.New("the TPM's endorsement keys in an olr-request/v1")
	}
	if !isHexID(r.ID) {
		return errors.New("request ID is not 32 lower-case hex digits")
	}
	if _, err := parseTime(r.Created); err != nil {
		return fmt.Errorf("creation time: %v", err)
	}
	for _, f := range []struct{ name, v string }{
		{"product", r.Product}, {"licensee name", r.Licensee}, {"license key", r.LicenseKey},
		{"hostname", r.Hostname}, {"tool version", r.Tool},
	} {
		if err := checkValue(f.v); err != nil {
			return fmt.Errorf("%s: %v", f.name, err)
		}
	}
	fp := &r.Fingerprint
	if len(fp.Factors) == 0 {
		return errors.New("the fingerprint holds no factor")
	}
	if len(fp.Factors) > maxFactors {
		return fmt.Errorf("the fingerprint holds more than %d factors", maxFactors)
	}
	for i, f := range fp.Factors {
		if !f.Kind.Known() {
			return fmt.Errorf("factor %d: unknown kind %s", i+1, quoteShort(string(f.Kind)))
		}
		v, err := fingerprint.Normalize(f.Kind, f.Value)
		if err != nil {
			return fmt.Errorf("factor %d (%s): %v", i+1, f.Kind, err)
		}
		if v != f.Value {
			return fmt.Errorf("factor %d (%s) is not in normal form", i+1, f.Kind)
		}
		if err := checkValue(f.Source); err != nil {
			return fmt.Errorf("factor %d (%s) source: %v", i+1, f.Kind, err)
		}
		for j, g := range fp.Factors[:i] {
			if g.Kind == f.Kind && g.Value == f.Value {
				return fmt.Errorf("factors %d and %d are the same %s", j+1, i+1, f.Kind)
			}
		}
	}
	m := fp.Machine
	if !slices.Contains(machineClasses, m.Class) {
		return fmt.Errorf("machine class %s is not one of %s", quoteShort(m.Class), strings.Join(machineClasses, ", "))
	}
	if m.Detail != "" {
		if err := checkValue(m.Detail); err != nil {
			return fmt.Errorf("machine detail: %v", err)
		}
	}
	if len(fp.Notes) > maxNotes {
		return fmt.Errorf("the fingerprint holds more than %d notes", maxNotes)
	}
	for i, n := range fp.Notes {
		if err := checkNote(n); err != nil {
			return fmt.Errorf("note %d: %v", i+1, err)
		}
	}
	return nil
}

// Marshal returns the request's plaintext: indented JSON and a newline,
// readable by support staff who open it with the stock age CLI.
func (r *Request) Marshal() ([]byte, error) {
	plain, err := json.MarshalIndent(r, "", "  ")
	return append(plain, '\n'), err
}

// EncryptRequest serialises r and encrypts it with age to the vendor's
// recipients. With armored set the output is ASCII armor that survives
// copy and paste; either form opens with the stock age CLI.
func EncryptRequest(r *Request, recipients []age.Recipient, armored bool) ([]byte, error) {
	plain, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	return encryptRequest(r, plain, recipients, armored)
}

func encryptRequest(r *Request, plain []byte, recipients []age.Recipient, armored bool) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	var dst io.Writer = &out
	var aw io.WriteCloser
	if armored {
		aw = armor.NewWriter(&out)
		dst = aw
	}
	w, err := age.Encrypt(dst, recipients...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if aw != nil {
		if err := aw.Close(); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// ErrWrongVendorKey means the request was not encrypted to any of the
// vendor identities given.
var ErrWrongVendorKey = errors.New("the request was not encrypted to this vendor key")

// RequestProblem classifies why a request could not be read.
type RequestProblem string

// Request problems, from the outside of the file inwards.
const (
	RequestNotAge      RequestProblem = "not-age"            // empty, too large, or not an age file
	RequestWrongKey    RequestProblem = "wrong-key"          // no vendor identity opens it
	RequestCorrupt     RequestProblem = "corrupt"            // an age file that does not decrypt (truncated, altered)
	RequestMalformed   RequestProblem = "malformed"          // the plaintext is not a well-formed request
	RequestUnsupported RequestProblem = "unsupported-format" // a request format this code does not read
	RequestInvalid     RequestProblem = "invalid"            // well-formed, but a field breaks the rules
)

// RequestError is the error of DecryptRequest and ParseRequest. Its
// message never includes the license key.
type RequestError struct {
	Problem RequestProblem
	Err     error
}

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

func requestErr(p RequestProblem, format string, a ...any) error {
	return &RequestError{Problem: p, Err: fmt.Errorf(format, a...)}
}

// DecryptRequest decrypts and parses a req.olr file, armored or binary.
func DecryptRequest(data []byte, identities []age.Identity) (*Request, error) {
	if len(data) > MaxRequestSize {
		return nil, requestErr(RequestNotAge, "request is larger than %d bytes", MaxRequestSize)
	}
	if len(bytes.Trim(data, " \t\r\n")) == 0 {
		return nil, requestErr(RequestNotAge, "request file is empty")
	}
	var src io.Reader = bytes.NewReader(data)
	switch {
	case bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(armor.Header)):
		src = armor.NewReader(src)
	case bytes.HasPrefix(data, []byte("age-encryption.org/")):
	default:
		return nil, requestErr(RequestNotAge, "not an olr request: want an age-encrypted file (armored, starting with %q)", armor.Header)
	}
	rd, err := age.Decrypt(src, identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, &RequestError{Problem: RequestWrongKey, Err: ErrWrongVendorKey}
		}
		return nil, requestErr(RequestCorrupt, "cannot decrypt the request: %v", err)
	}
	// age adds to what it encrypts, so the plaintext is smaller than the
	// file, which is at most MaxRequestSize.
	plain, err := io.ReadAll(rd)
	if err != nil {
		return nil, requestErr(RequestCorrupt, "cannot decrypt the request (truncated or altered?): %v", err)
	}
	if plain, err = decompressRequest(plain); err != nil {
		return nil, requestErr(RequestMalformed, "malformed request: %v", err)
	}
	return ParseRequest(plain)
}

// ParseRequest parses a decrypted request (SPEC.md section 2), in the
// order the outcomes are decided: well-formed JSON (malformed), the
// format (unsupported-format), the members and their JSON types
// (malformed), then the values (invalid).
func ParseRequest(plain []byte) (*Request, error) {
	root, err := decodeJSONObject(plain)
	if err != nil {
		return nil, requestErr(RequestMalformed, "malformed request: %v", err)
	}
	// The format first: a later version may have members this version
	// does not know, and must be reported as unsupported, not malformed.
	format, ok := root["format"].(string)
	if !ok {
		return nil, requestErr(RequestMalformed, "malformed request: no \"format\" string member")
	}
	if format != RequestFormat && format != RequestFormatV2 {
		return nil, requestErr(RequestUnsupported, "unsupported request format %s (this olr reads %s and %s)", quoteShort(format), RequestFormat, RequestFormatV2)
	}
	r, err := requestFromJSON(root)
	if err != nil {
		return nil, requestErr(RequestMalformed, "malformed request: %v", err)
	}
	if err := r.Validate(); err != nil {
		return nil, requestErr(RequestInvalid, "invalid request: %v", err)
	}
	return r, nil
}

// ParseRecipients reads age recipients from text: one per line, '#'
// comments allowed; hybrid post-quantum (age1pq1...) and X25519 (age1...)
// recipients are both accepted.
func ParseRecipients(text string) ([]age.Recipient, error) {
	var out []age.Recipient
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var r age.Recipient
		var err error
		switch {
		case strings.HasPrefix(line, "age1pq1"):
			r, err = age.ParseHybridRecipient(line)
		case strings.HasPrefix(line, "age1"):
			r, err = age.ParseX25519Recipient(line)
		default:
			err = errors.New("not an age recipient (want age1pq1... or age1...)")
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no age recipient found")
	}
	return out, nil
}
