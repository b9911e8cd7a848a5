package olr

import (
	"encoding/json"
	"errors"
	"fmt"
)

// RequestFormatV2 is the format of a request that carries the TPM's
// endorsement keys (Request.TPM). A request without them keeps
// RequestFormat, which every vendor tool reads.
const RequestFormatV2 = "olr-request/v2"

// RequestTPM is what a request carries of the machine's TPM for a
// TPM-bound license: its endorsement keys (EKs), their certificates and
// the chain certificates the TPM keeps. The vendor checks them and wraps
// the license key to one EK; olr only checks their shapes.
type RequestTPM struct {
	// Manufacturer is the TPM's vendor ID (TPM_PT_MANUFACTURER), such as
	// "IFX" or "IBM" (swtpm); may be empty.
	Manufacturer string
	// EKs holds one EK per kind, ecc-p256 before rsa-2048.
	EKs []RequestEK
	// Chain holds DER certificates from the TPM's chain range in NV.
	Chain [][]byte
}

// RequestEK is one endorsement key of a request.
type RequestEK struct {
	Kind string // TPMKindECCP256 or TPMKindRSA2048
	// Public is the key's marshalled TPMT_PUBLIC, as the TPM made it.
	Public []byte
	// Cert is the manufacturer's EK certificate (DER), or nil.
	Cert []byte
}

// requestTPMJSON is RequestTPM as the request writes it: byte strings in
// canonical unpadded base64, like every binary value olr writes.
type requestTPMJSON struct {
	Manufacturer string          `json:"manufacturer,omitempty"`
	EKs          []requestEKJSON `json:"eks"`
	Chain        []string        `json:"chain,omitempty"`
}

type requestEKJSON struct {
	Kind   string `json:"kind"`
	Public string `json:"public"`
	Cert   string `json:"cert,omitempty"`
}

// MarshalJSON writes the request's tpm member.
func (t *RequestTPM) MarshalJSON() ([]byte, error) {
	j := requestTPMJSON{Manufacturer: t.Manufacturer, EKs: []requestEKJSON{}}
	for _, ek := range t.EKs {
		j.EKs = append(j.EKs, requestEKJSON{Kind: ek.Kind, Public: b64.EncodeToString(ek.Public), Cert: b64.EncodeToString(ek.Cert)})
	}
	for _, c := range t.Chain {
		j.Chain = append(j.Chain, b64.EncodeToString(c))
	}
	return json.Marshal(j)
}

var (
	requestTPMMembers = []member{{"manufacturer", "string", false}, {"eks", "array", true}, {"chain", "array", false}}
	requestEKMembers  = []member{{"kind", "string", true}, {"public", "string", true}, {"cert", "string", false}}
)

// requestTPMFromJSON reads the tpm member of a version 2 request.
func requestTPMFromJSON(obj map[string]any) (*RequestTPM, error) {
	if err := checkMembers("the tpm member", obj, requestTPMMembers); err != nil {
		return nil, err
	}
	bytesOf := func(where, s string) ([]byte, error) {
		b, err := b64.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%s is not canonical unpadded base64", where)
		}
		return b, nil
	}
	t := &RequestTPM{}
	t.Manufacturer, _ = obj["manufacturer"].(string)
	for i, e := range obj["eks"].([]any) {
		where := fmt.Sprintf("TPM endorsement key %d", i+1)
		ek, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not an object", where)
		}
		if err := checkMembers(where, ek, requestEKMembers); err != nil {
			return nil, err
		}
		out := RequestEK{Kind: ek["kind"].(string)}
		var err error
		if out.Public, err = bytesOf(where+" public", ek["public"].(string)); err != nil {
			return nil, err
		}
		if c, ok := ek["cert"].(string); ok {
			if out.Cert, err = bytesOf(where+" cert", c); err != nil {
				return nil, err
			}
		}
		t.EKs = append(t.EKs, out)
	}
	chain, _ := obj["chain"].([]any)
	for i, c := range chain {
		where := fmt.Sprintf("TPM chain certificate %d", i+1)
		s, ok := c.(string)
		if !ok {
			return nil, fmt.Errorf("%s is not a string", where)
		}
		b, err := bytesOf(where, s)
		if err != nil {
			return nil, err
		}
		t.Chain = append(t.Chain, b)
	}
	return t, nil
}

// validate checks the shapes SPEC.md gives: what the bytes mean is the
// vendor's to judge.
func (t *RequestTPM) validate() error {
	if t.Manufacturer != "" {
		if err := checkValue(t.Manufacturer); err != nil {
			return fmt.Errorf("TPM manufacturer: %v", err)
		}
	}
	if len(t.EKs) == 0 {
		return errors.New("the tpm member holds no endorsement key")
	}
	kinds := []string{TPMKindECCP256, TPMKindRSA2048}
	next := 0
	for i, ek := range t.EKs {
		k := next
		for k < len(kinds) && kinds[k] != ek.Kind {
			k++
		}
		if k == len(kinds) {
			return fmt.Errorf("TPM endorsement key %d: kind %s is unknown, repeated or out of order (want %s before %s)",
				i+1, quoteShort(ek.Kind), TPMKindECCP256, TPMKindRSA2048)
		}
		next = k + 1
		if len(ek.Public) == 0 || len(ek.Public) > maxEKPublic {
			return fmt.Errorf("TPM endorsement key %d: public area of %d bytes, want 1..%d", i+1, len(ek.Public), maxEKPublic)
		}
		if len(ek.Cert) > maxEKCert {
			return fmt.Errorf("TPM endorsement key %d: certificate of %d bytes, more than %d", i+1, len(ek.Cert), maxEKCert)
		}
	}
	if len(t.Chain) > maxEKChain {
		return fmt.Errorf("more than %d TPM chain certificates", maxEKChain)
	}
	for i, c := range t.Chain {
		if len(c) == 0 || len(c) > maxEKCert {
			return fmt.Errorf("TPM chain certificate %d of %d bytes, want 1..%d", i+1, len(c), maxEKCert)
		}
	}
	return nil
}
