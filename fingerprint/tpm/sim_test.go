//go:build cgo

package tpm

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/tpm/binding"
)

// openSim opens the in-process simulator for the length of a test.
func openSimT(tb testing.TB) transport.TPMCloser {
	tb.Helper()
	t, source, err := Open("sim")
	if err != nil {
		tb.Fatal(err)
	}
	if source != "sim" {
		tb.Errorf("source = %q, want sim", source)
	}
	tb.Cleanup(func() { t.Close() })
	return t
}

// checkName checks the shape of a SHA-256 TPM Name in hex.
func checkNameHex(t *testing.T, name string) {
	t.Helper()
	if !strings.HasPrefix(name, "000b") || len(name) != 68 {
		t.Errorf("EK name %q: want 000b (SHA-256) and 68 hex digits", name)
	}
	if v, err := fingerprint.Normalize(fingerprint.KindTPMEK, name); err != nil || v != name {
		t.Errorf("EK name %q does not survive Normalize: %q, %v", name, v, err)
	}
}

func TestReadSimulator(t *testing.T) {
	tpm := openSimT(t)
	a, err := Read(context.Background(), tpm)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Read(context.Background(), tpm)
	if err != nil {
		t.Fatal(err)
	}
	if *a != *b {
		t.Errorf("two reads of one TPM differ:\n%+v\n%+v", a, b)
	}
	checkNameHex(t, a.EKName)
	if a.EKAlgorithm != AlgECCP256 {
		t.Errorf("EK algorithm %q, want %q", a.EKAlgorithm, AlgECCP256)
	}
	// The reference code is Microsoft's (VendorString.h); swtpm, built on
	// IBM's libtpms, says "IBM".
	if a.Manufacturer != "MSFT" {
		t.Errorf("manufacturer %q, want MSFT", a.Manufacturer)
	}
	// VendorString.h of the reference code: FIRMWARE_V1 0x20170619,
	// FIRMWARE_V2 0x00163636.
	if a.FirmwareVersion != "8215.1561.22.13878" {
		t.Errorf("firmware version %q", a.FirmwareVersion)
	}
	if a.EKCertPresent {
		t.Error("the simulator has no EK certificate, yet EKCertPresent")
	}
	if a.Source != "sim" {
		t.Errorf("source %q, want sim", a.Source)
	}
}

// The simulator is seeded alike in every open, so a demo sees one EK
// across runs.
func TestSimulatorSeedFixed(t *testing.T) {
	read := func() string {
		tpm, _, err := Open("sim")
		if err != nil {
			t.Fatal(err)
		}
		defer tpm.Close()
		info, err := Read(context.Background(), tpm)
		if err != nil {
			t.Fatal(err)
		}
		return info.EKName
	}
	if a, b := read(), read(); a != b {
		t.Errorf("EK differs between opens: %s, %s", a, b)
	}
}

func TestReadEKRSA(t *testing.T) {
	tpm := openSimT(t)
	rsa, err := readEK(tpm, binding.Kinds[1])
	if err != nil {
		t.Fatal(err)
	}
	checkNameHex(t, rsa)
	ecc, err := readEK(tpm, binding.Kinds[0])
	if err != nil {
		t.Fatal(err)
	}
	if rsa == ecc {
		t.Error("RSA and ECC EKs have the same Name")
	}
	again, err := readEK(tpm, binding.Kinds[1])
	if err != nil {
		t.Fatal(err)
	}
	if again != rsa {
		t.Errorf("RSA EK differs between reads: %s, %s", rsa, again)
	}
	// readEK flushes: a TPM has few transient slots (the reference code
	// three), so a leak would fail here.
	for range 5 {
		if _, err := readEK(tpm, binding.Kinds[0]); err != nil {
			t.Fatalf("after repeated reads: %v", err)
		}
	}
}

func TestEKCertPresent(t *testing.T) {
	tpm := openSimT(t)
	// Stand in for the manufacturer: put a (dummy) certificate at the
	// ECC EK certificate index.
	_, err := tpm2.NVDefineSpace{
		AuthHandle: tpm2.TPMRHOwner,
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: nvECCEKCert,
			NameAlg: tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{
				OwnerWrite: true, AuthWrite: true,
				OwnerRead: true, AuthRead: true, NoDA: true,
				NT: tpm2.TPMNTOrdinary,
			},
			DataSize: 16,
		}),
	}.Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Read(context.Background(), tpm)
	if err != nil {
		t.Fatal(err)
	}
	if !info.EKCertPresent {
		t.Error("EK certificate index defined, yet not EKCertPresent")
	}
	// The RSA index stays empty.
	if ok, err := nvDefined(tpm, nvRSAEKCert); err != nil || ok {
		t.Errorf("RSA EK certificate reported present: %v, %v", ok, err)
	}
}

// slowTPM answers after a delay, like a TPM that another process holds.
type slowTPM struct {
	t     transport.TPM
	delay time.Duration
	done  chan struct{} // one value per answered command
}

func (s *slowTPM) Send(cmd []byte) ([]byte, error) {
	defer func() { s.done <- struct{}{} }()
	time.Sleep(s.delay)
	return s.t.Send(cmd)
}

func TestReadTimeout(t *testing.T) {
	slow := &slowTPM{t: openSimT(t), delay: time.Second, done: make(chan struct{}, 16)}
	// The simulator must outlive the late exchange (cleanups run last in,
	// first out); Read sends one command before it gives up.
	t.Cleanup(func() { <-slow.done })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Read(ctx, slow)
	if took := time.Since(start); took > time.Second {
		t.Errorf("Read took %v with a 200ms deadline", took)
	}
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a TimeoutError", err)
	}
	if !regexp.MustCompile(`^TPM did not answer within (1[0-9]0|200)ms; is another process holding it\?$`).MatchString(err.Error()) {
		t.Errorf("message %q", err)
	}
}

// A second open of the one simulator of a process gives up at the deadline.
func TestSimulatorBusy(t *testing.T) {
	openSimT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := OpenContext(ctx, "sim")
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("err = %v, want in use", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("open took %v with a 200ms deadline", took)
	}
}

func TestCollectorSimulator(t *testing.T) {
	c := NewCollector("sim")
	var fp fingerprint.Fingerprint
	if err := c.Collect(context.Background(), &fp); err != nil {
		t.Fatal(err)
	}
	if len(fp.Factors) != 1 {
		t.Fatalf("factors: %v", fp.Factors)
	}
	f := fp.Factors[0]
	if f.Kind != fingerprint.KindTPMEK || f.Source != "tpm:sim (ecc-p256 EK)" || f.Removable {
		t.Errorf("factor %+v", f)
	}
	info := c.Info()
	if info == nil || info.EKName != f.Value || info.Manufacturer != "MSFT" {
		t.Errorf("Info() = %+v", info)
	}
	if len(fp.Notes) != 1 || !strings.Contains(fp.Notes[0], "identifies no hardware") {
		t.Errorf("notes %q", fp.Notes)
	}
}

func BenchmarkRead(b *testing.B) {
	tpm := openSimT(b)
	for b.Loop() {
		if _, err := Read(context.Background(), tpm); err != nil {
			b.Fatal(err)
		}
	}
}

// Collect bounds the TPM by its own timeout within a longer context.
func TestCollectorTimeout(t *testing.T) {
	openSimT(t) // holds the one simulator: the collector's open must wait
	c := NewCollector("sim")
	c.Timeout = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	var fp fingerprint.Fingerprint
	if err := c.Collect(ctx, &fp); err == nil {
		t.Error("Collect succeeded on a simulator in use")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Collect took %v with a 200ms timeout", took)
	}
}
