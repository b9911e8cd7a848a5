package tpm

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/olr-dev/olr/fingerprint/tpm/binding"
)

// simSource is the source description of the in-process simulator.
const simSource = "sim"

// EK algorithms, as reported in [Info.EKAlgorithm].
const (
	AlgECCP256 = binding.KindECCP256
	AlgRSA2048 = binding.KindRSA2048
)

// NV indices of the manufacturer's EK certificates (TCG EK Credential
// Profile, section 2.2.1.4).
const (
	nvRSAEKCert = 0x01C00002
	nvECCEKCert = 0x01C0000A
)

// Info is what [Read] learns from a TPM.
type Info struct {
	// EKName is the TPM Name of the endorsement key: lower-case hex of the
	// 2-byte name algorithm and the digest, exactly as tpm2_readpublic
	// prints "name:". It is a hardware identifier: like every factor value
	// it belongs only inside the encrypted request.
	EKName string `json:"ek_name"`
	// EKAlgorithm is AlgECCP256 or AlgRSA2048.
	EKAlgorithm string `json:"ek_algorithm"`
	// Manufacturer is the TPM vendor ID (TPM_PT_MANUFACTURER), such as
	// "IFX", "NTC", "STM", "AMD", "MSFT" (also the in-process reference
	// simulator) or "IBM" (swtpm).
	Manufacturer string `json:"manufacturer"`
	// FirmwareVersion is TPM_PT_FIRMWARE_VERSION_1 and _2 as four 16-bit
	// numbers, "major.minor.build.revision", the form vendors and the
	// Linux sysfs use.
	FirmwareVersion string `json:"firmware_version"`
	// EKCertPresent reports whether the TPM holds a manufacturer
	// certificate for this EK: in NV at 0x01C0000A for an ECC EK, at
	// 0x01C00002 for an RSA one. Simulators and many firmware TPMs have
	// none.
	EKCertPresent bool `json:"ek_cert_present"`
	// Source is where the TPM was read, as [Open] describes it; empty for
	// a transport that Open did not make.
	Source string `json:"source"`
}

// Read reads the endorsement key's Name and the TPM's identity. The EK is
// created from the TCG default ECC NIST P-256 template (EK Credential
// Profile template L-2) when the TPM supports that curve, else from the
// RSA-2048 template (L-1), under the endorsement hierarchy with empty
// authorization, as tpm2_createek does; its handle is flushed afterwards.
// A TPM whose manufacturer keeps an EK nonce or template in NV gets the
// EK made from those, the one its certificate is for.
//
// Read takes until the deadline of ctx, or [DefaultTimeout] when ctx has
// none; a TPM that does not answer in time gives a [*TimeoutError]. A
// transport opened with [Open] then refuses commands until the late
// exchange ends; others must not be used again.
func Read(ctx context.Context, t transport.TPM) (*Info, error) {
	ctx, budget, cancel := withBudget(ctx)
	defer cancel()
	c, ok := t.(*conn)
	if !ok {
		c = newConn("", foreignLink{t})
	}
	info, err := read(boundTPM{c, ctx})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &TimeoutError{Source: c.source, After: budget}
		}
		at := "reading TPM"
		if c.source != "" {
			at += " at " + c.source
		}
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	info.Source = c.source
	return info, nil
}

func read(t transport.TPM) (*Info, error) {
	info, ek, err := readHolding(t)
	if err != nil {
		return nil, err
	}
	if err := ek.flush(t); err != nil {
		return nil, err
	}
	return info, nil
}

// readHolding is read, leaving the EK loaded for a proof to use.
func readHolding(t transport.TPM) (*Info, *loadedEK, error) {
	info := &Info{}
	if err := readProperties(t, info); err != nil {
		return nil, nil, err
	}
	// The algorithm follows from what the TPM supports, never from an
	// error on the way: a transient failure must not turn a machine's
	// ECC EK into an RSA one, which would look like a new TPM.
	ecc, err := hasP256(t)
	if err != nil {
		return nil, nil, err
	}
	kind, _ := binding.KindNamed(binding.KindRSA2048)
	if ecc {
		kind, _ = binding.KindNamed(binding.KindECCP256)
	}
	info.EKAlgorithm = kind.Name
	ek, err := createEK(t, kind)
	if err != nil {
		return nil, nil, err
	}
	info.EKName = ek.hexName()
	if info.EKCertPresent, err = nvDefined(t, kind.CertIndex); err != nil {
		ek.flush(t)
		return nil, nil, err
	}
	return info, ek, nil
}

// readProperties fills in the manufacturer and firmware version.
func readProperties(t transport.TPM, info *Info) error {
	// TPM_PT_MANUFACTURER (0x105) to TPM_PT_FIRMWARE_VERSION_2 (0x10C)
	// are adjacent: one request covers them.
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapTPMProperties,
		Property:      uint32(tpm2.TPMPTManufacturer),
		PropertyCount: uint32(tpm2.TPMPTFirmwareVersion2 - tpm2.TPMPTManufacturer + 1),
	}.Execute(t)
	if err != nil {
		return fmt.Errorf("reading TPM properties: %w", err)
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return fmt.Errorf("reading TPM properties: %w", err)
	}
	var fw1, fw2 uint32
	var haveFW bool
	for _, p := range props.TPMProperty {
		switch p.Property {
		case tpm2.TPMPTManufacturer:
			info.Manufacturer = vendorString(p.Value)
		case tpm2.TPMPTFirmwareVersion1:
			fw1, haveFW = p.Value, true
		case tpm2.TPMPTFirmwareVersion2:
			fw2 = p.Value
		}
	}
	if haveFW {
		info.FirmwareVersion = fmt.Sprintf("%d.%d.%d.%d", fw1>>16, fw1&0xffff, fw2>>16, fw2&0xffff)
	}
	return nil
}

// vendorString decodes a 4-character vendor ID such as "IBM\x00" or
// "IFX\x00". Bytes that are not printable ASCII are dropped: the value is
// shown to people and put in JSON.
func vendorString(v uint32) string {
	var b strings.Builder
	for _, c := range []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} {
		if c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// hasP256 reports whether the TPM implements the NIST P-256 curve.
func hasP256(t transport.TPM) (bool, error) {
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapECCCurves,
		Property:      0,
		PropertyCount: 64,
	}.Execute(t)
	var rc tpm2.TPMRC
	if errors.As(err, &rc) {
		// A TPM without ECC may refuse the question rather than answer
		// with an empty list.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the TPM's ECC curves: %w", err)
	}
	curves, err := rsp.CapabilityData.Data.ECCCurves()
	if err != nil {
		return false, fmt.Errorf("reading the TPM's ECC curves: %w", err)
	}
	for _, c := range curves.ECCCurves {
		if c == tpm2.TPMECCNistP256 {
			return true, nil
		}
	}
	return false, nil
}

// readEK creates the EK of kind, flushes it and returns its Name in hex.
func readEK(t transport.TPM, kind binding.Kind) (string, error) {
	ek, err := createEK(t, kind)
	if err != nil {
		return "", err
	}
	if err := ek.flush(t); err != nil {
		return "", err
	}
	return ek.hexName(), nil
}

func createHint(err error) string {
	switch {
	case errors.Is(err, tpm2.TPMRCHierarchy):
		return " (the endorsement hierarchy is disabled in firmware)"
	case errors.Is(err, tpm2.TPMRCBadAuth), errors.Is(err, tpm2.TPMRCAuthFail):
		return " (the endorsement hierarchy has a password; olr, like tpm2_createek, uses none)"
	}
	return ""
}

// checkName returns the hex Name of a created primary key after checking
// that it is the Name of the returned public area, and that this area is
// of the template's type: a garbled or confused answer must not become a
// factor.
func checkName(rsp *tpm2.CreatePrimaryResponse, template tpm2.TPMTPublic) (string, error) {
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return "", fmt.Errorf("parsing the endorsement key: %w", err)
	}
	if pub.Type != template.Type || pub.NameAlg != tpm2.TPMAlgSHA256 {
		return "", fmt.Errorf("the TPM made an endorsement key of type %#x, name algorithm %#x, not the template's", pub.Type, pub.NameAlg)
	}
	want, err := tpm2.ObjectName(pub)
	if err != nil {
		return "", fmt.Errorf("computing the endorsement key's Name: %w", err)
	}
	if !bytes.Equal(want.Buffer, rsp.Name.Buffer) {
		return "", errors.New("the TPM returned a Name that does not match the endorsement key")
	}
	return hex.EncodeToString(rsp.Name.Buffer), nil
}

// nvDefined reports whether the NV index is defined, by listing NV handles
// from index on: an absent index is then not an error to interpret.
func nvDefined(t transport.TPM, index uint32) (bool, error) {
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapHandles,
		Property:      index,
		PropertyCount: 1,
	}.Execute(t)
	if err != nil {
		return false, fmt.Errorf("listing NV indices: %w", err)
	}
	h, err := rsp.CapabilityData.Data.Handles()
	if err != nil {
		return false, fmt.Errorf("listing NV indices: %w", err)
	}
	return len(h.Handle) > 0 && uint32(h.Handle[0]) == index, nil
}

// simulated reports whether source is a software TPM, whose EK identifies
// no hardware.
func simulated(source string) bool {
	return source == simSource || strings.HasPrefix(source, "mssim:")
}
