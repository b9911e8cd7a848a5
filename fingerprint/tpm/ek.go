package tpm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/olr-dev/olr/fingerprint/tpm/binding"
)

// EK is an endorsement key as a request carries it, for the vendor to
// wrap a license key to.
type EK struct {
	// Kind is binding.KindECCP256 or binding.KindRSA2048.
	Kind string
	// Public is the marshalled TPMT_PUBLIC of the key the TPM made.
	Public []byte
	// Name is its TPM Name in hex: the tpm-ek factor value for this kind.
	Name string
	// Cert is the manufacturer's EK certificate (DER, trimmed of the NV
	// area's padding), or nil when the TPM keeps none for this kind.
	Cert []byte
	// From says how the EK was made: "default" (the TCG template),
	// "nv-nonce" or "nv-template" (the manufacturer's, from NV).
	From string
}

// Endorsement is what a TPM-bound request carries: every default EK the
// TPM has, with certificates, and the chain certificates in NV.
type Endorsement struct {
	EKs []EK
	// Chain holds the certificates of the chain range (DER, trimmed), in
	// index order.
	Chain [][]byte
	// Notes say what was left out and why (a kind the TPM cannot make, a
	// certificate that does not parse), for the request's notes.
	Notes []string
}

// ReadEndorsement reads every default EK of the TPM with its certificate,
// and the chain certificates in NV. It takes until the deadline of ctx, or
// [DefaultTimeout] when ctx has none: an RSA EK takes a real TPM up to
// seconds to make, so give it the time a request deserves.
func ReadEndorsement(ctx context.Context, t transport.TPM) (*Endorsement, error) {
	var e *Endorsement
	err := bounded(ctx, t, "reading the TPM's endorsement keys", func(t transport.TPM) error {
		var err error
		e, err = readEndorsement(t)
		return err
	})
	return e, err
}

// bounded runs f on t with every command bounded by ctx (or
// DefaultTimeout), and turns a missed deadline into a *TimeoutError.
func bounded(ctx context.Context, t transport.TPM, what string, f func(transport.TPM) error) error {
	ctx, budget, cancel := withBudget(ctx)
	defer cancel()
	c, ok := t.(*conn)
	if !ok {
		c = newConn("", foreignLink{t})
	}
	err := f(boundTPM{c, ctx})
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &TimeoutError{Source: c.source, After: budget}
	}
	if c.source != "" {
		what += " at " + c.source
	}
	return fmt.Errorf("%s: %w", what, err)
}

func readEndorsement(t transport.TPM) (*Endorsement, error) {
	e := &Endorsement{}
	ecc, err := hasP256(t)
	if err != nil {
		return nil, err
	}
	for _, k := range binding.Kinds {
		if k.Name == binding.KindECCP256 && !ecc {
			e.Notes = append(e.Notes, "the TPM has no ECC P-256 endorsement key")
			continue
		}
		ek, err := createEK(t, k)
		var rc tpm2.TPMRC
		if errors.As(err, &rc) && !isUnavailableRC(err) {
			// The TPM refuses this kind (an RSA-less TPM, say); the
			// other kind may still serve.
			e.Notes = append(e.Notes, fmt.Sprintf("no %s endorsement key: %v", k.Name, err))
			continue
		}
		if err != nil {
			return nil, err
		}
		pub := tpm2.Marshal(ek.public)
		name := ek.hexName()
		if err := ek.flush(t); err != nil {
			return nil, err
		}
		out := EK{Kind: k.Name, Public: pub, Name: name, From: ek.from}
		if out.Cert, err = readCert(t, k.CertIndex); err != nil {
			e.Notes = append(e.Notes, fmt.Sprintf("%s EK certificate at %#x left out: %v", k.Name, k.CertIndex, err))
			out.Cert = nil
		}
		e.EKs = append(e.EKs, out)
	}
	if e.Chain, err = readChain(t, &e.Notes); err != nil {
		return nil, err
	}
	return e, nil
}

// readCert reads and trims the certificate at index; nil when the index
// is not defined.
func readCert(t transport.TPM, index uint32) ([]byte, error) {
	ok, err := nvDefined(t, index)
	if err != nil || !ok {
		return nil, err
	}
	raw, err := readNV(t, index)
	if err != nil {
		return nil, err
	}
	return binding.TrimDER(raw)
}

// readChain reads the certificates of the chain range.
func readChain(t transport.TPM, notes *[]string) ([][]byte, error) {
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapHandles,
		Property:      binding.ChainFirst,
		PropertyCount: binding.ChainLast - binding.ChainFirst + 1,
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("listing NV indices: %w", err)
	}
	hs, err := rsp.CapabilityData.Data.Handles()
	if err != nil {
		return nil, fmt.Errorf("listing NV indices: %w", err)
	}
	var chain [][]byte
	for _, h := range hs.Handle {
		if uint32(h) > binding.ChainLast {
			break
		}
		if len(chain) == binding.MaxChain {
			*notes = append(*notes, fmt.Sprintf("more than %d chain certificates in NV; the rest left out", binding.MaxChain))
			break
		}
		raw, err := readNV(t, uint32(h))
		var der []byte
		if err == nil {
			der, err = binding.TrimDER(raw)
		}
		if err != nil {
			*notes = append(*notes, fmt.Sprintf("chain certificate at %#x left out: %v", uint32(h), err))
			continue
		}
		chain = append(chain, der)
	}
	return chain, nil
}

// maxNV bounds an NV area read: EK certificates are 0.5 to 2 KiB.
const maxNV = 16 << 10

// readNV reads a whole NV index with its own empty authorization, as
// tpm2_nvread does, in chunks the TPM accepts.
func readNV(t transport.TPM, index uint32) ([]byte, error) {
	pubRsp, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("reading NV %#x: %w", index, err)
	}
	pub, err := pubRsp.NVPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("reading NV %#x: %w", index, err)
	}
	if pub.DataSize > maxNV {
		return nil, fmt.Errorf("NV %#x holds %d bytes, more than a certificate", index, pub.DataSize)
	}
	chunk := uint16(512)
	if v, err := property(t, tpm2.TPMPTNVBufferMax); err == nil && v > 0 {
		chunk = uint16(min(v, 1024))
	}
	out := make([]byte, 0, pub.DataSize)
	for off := uint16(0); off < pub.DataSize; {
		n := min(chunk, pub.DataSize-off)
		rsp, err := tpm2.NVRead{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(index), Name: pubRsp.NVName, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(index), Name: pubRsp.NVName},
			Size:       n,
			Offset:     off,
		}.Execute(t)
		if err != nil {
			return nil, fmt.Errorf("reading NV %#x at %d: %w", index, off, err)
		}
		if len(rsp.Data.Buffer) != int(n) {
			return nil, fmt.Errorf("reading NV %#x at %d: %d bytes instead of %d", index, off, len(rsp.Data.Buffer), n)
		}
		out = append(out, rsp.Data.Buffer...)
		off += n
	}
	return out, nil
}

// property reads one TPM property.
func property(t transport.TPM, p tpm2.TPMPT) (uint32, error) {
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(p), PropertyCount: 1}.Execute(t)
	if err != nil {
		return 0, err
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return 0, err
	}
	if len(props.TPMProperty) == 0 || props.TPMProperty[0].Property != p {
		return 0, fmt.Errorf("TPM property %#x not reported", uint32(p))
	}
	return props.TPMProperty[0].Value, nil
}

// loadedEK is an EK in the TPM: a transient handle olr flushes, or the
// persistent one a platform keeps.
type loadedEK struct {
	kind       binding.Kind
	handle     tpm2.TPMHandle
	name       tpm2.TPM2BName
	public     tpm2.TPMTPublic
	from       string
	persistent bool
}

func (ek *loadedEK) hexName() string { return fmt.Sprintf("%x", ek.name.Buffer) }

// flush unloads a transient EK; a persistent one stays.
func (ek *loadedEK) flush(t transport.TPM) error {
	if ek.persistent {
		return nil
	}
	if _, err := (tpm2.FlushContext{FlushHandle: ek.handle}).Execute(t); err != nil {
		return fmt.Errorf("flushing the endorsement key: %w", err)
	}
	return nil
}

// auth is the EK as a parent. The default templates clear userWithAuth
// and set authPolicy to PolicySecret(TPM_RH_ENDORSEMENT), so every use
// needs a policy session (tpm2.Policy starts one for the command and
// flushes it); a manufacturer's template from NV that sets userWithAuth
// takes the empty password instead.
func (ek *loadedEK) auth() tpm2.AuthHandle {
	a := tpm2.AuthHandle{Handle: ek.handle, Name: ek.name, Auth: tpm2.PasswordAuth(nil)}
	if !ek.public.ObjectAttributes.UserWithAuth {
		a.Auth = tpm2.Policy(ek.public.NameAlg, 16, endorsementPolicy)
	}
	return a
}

// endorsementPolicy satisfies PolicySecret(TPM_RH_ENDORSEMENT) with the
// endorsement hierarchy's empty password.
func endorsementPolicy(t transport.TPM, session tpm2.TPMISHPolicy, nonceTPM tpm2.TPM2BNonce) error {
	_, err := tpm2.PolicySecret{
		AuthHandle:    tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		PolicySession: session,
		NonceTPM:      nonceTPM,
	}.Execute(t)
	return err
}

// ekTemplate returns the template the manufacturer certified for kind:
// its template from NV when one is there, else the default with its
// nonce from NV, else the default.
func ekTemplate(t transport.TPM, k binding.Kind) (tpm2.TPMTPublic, string, error) {
	if ok, err := nvDefined(t, k.TemplateIndex); err != nil {
		return tpm2.TPMTPublic{}, "", err
	} else if ok {
		raw, err := readNV(t, k.TemplateIndex)
		if err != nil {
			return tpm2.TPMTPublic{}, "", err
		}
		tmpl, err := tpm2.Unmarshal[tpm2.TPMTPublic](raw)
		if err != nil || tmpl.Type != k.Template.Type {
			return tpm2.TPMTPublic{}, "", fmt.Errorf("the %s EK template in NV %#x is not a %s template", k.Name, k.TemplateIndex, k.Name)
		}
		return *tmpl, "nv-template", nil
	}
	if ok, err := nvDefined(t, k.NonceIndex); err != nil {
		return tpm2.TPMTPublic{}, "", err
	} else if ok {
		nonce, err := readNV(t, k.NonceIndex)
		if err != nil {
			return tpm2.TPMTPublic{}, "", err
		}
		tmpl, err := k.WithNonce(nonce)
		return tmpl, "nv-nonce", err
	}
	return k.Template, "default", nil
}

// createEK makes the EK of kind with TPM2_CreatePrimary, from the template
// the manufacturer certified, and checks the answer.
func createEK(t transport.TPM, k binding.Kind) (*loadedEK, error) {
	tmpl, from, err := ekTemplate(t, k)
	if err != nil {
		return nil, err
	}
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tmpl),
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("creating the %s endorsement key: %w%s", strings.ToUpper(k.Name[:3]), err, createHint(err))
	}
	ek := &loadedEK{kind: k, handle: rsp.ObjectHandle, name: rsp.Name, from: from}
	if _, err := checkName(rsp, tmpl); err != nil {
		ek.flush(t)
		return nil, err
	}
	pub, _ := rsp.OutPublic.Contents() // checkName parsed it
	ek.public = *pub
	return ek, nil
}
