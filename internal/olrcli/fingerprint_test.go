package olrcli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olr-dev/olr/fingerprint"
)

// runOLR runs the olr binary with stdin and returns its exit code and
// output. The in-process simulator these tests read is admitted as the
// machine's TPM, as in a lab.
func runOLR(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(olrBinary(t), args...)
	cmd.Env = append(os.Environ(), "OLR_TPM=", "OLR_ROOT=", "OLR_ALLOW_SOFTWARE_TPM=1")
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// simFingerprint runs olr fingerprint with the in-process TPM simulator,
// skipping when this build has none or this machine has nothing to
// fingerprint.
func simFingerprint(t *testing.T, args ...string) string {
	t.Helper()
	code, out, stderr := runOLR(t, nil, append([]string{"fingerprint", "--tpm", "sim"}, args...)...)
	if strings.Contains(stderr, "without cgo") {
		t.Skip("this build has no TPM simulator")
	}
	if strings.Contains(stderr, "found no hardware factor") {
		t.Skip("this machine has no factor to fingerprint")
	}
	if code != 0 {
		t.Fatalf("olr fingerprint --tpm sim %v: exit %d\n%s", args, code, stderr)
	}
	return out
}

func TestFingerprintShowsTPM(t *testing.T) {
	out := simFingerprint(t)
	for _, want := range []string{
		"tpm: sim\n",
		"  manufacturer:      MSFT\n",
		"  EK algorithm:      ecc-p256\n",
		"  EK certificate:    none in NV\n",
		"  firmware version:  ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFingerprintJSONShowsTPMAndDiffReadsIt(t *testing.T) {
	out := simFingerprint(t, "--json")
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var saved savedFingerprint
	if err := dec.Decode(&saved); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	tpm := saved.TPM
	if tpm == nil {
		t.Fatalf("--json has no tpm details:\n%s", out)
	}
	if tpm.Source != "sim" || tpm.Manufacturer != "MSFT" || tpm.EKAlgorithm != "ecc-p256" || tpm.EKCertPresent || tpm.FirmwareVersion == "" {
		t.Errorf("tpm details %+v", tpm)
	}
	hasEK := false
	for _, f := range saved.Factors {
		hasEK = hasEK || f.Kind == fingerprint.KindTPMEK
	}
	if !hasEK {
		t.Errorf("no tpm-ek factor in\n%s", out)
	}

	// olr fingerprint --json | olr fingerprint diff -
	code, diff, stderr := runOLR(t, []byte(out), "fingerprint", "diff", "--tpm", "sim", "-")
	if code != 0 || !strings.Contains(diff, ": passes (") {
		t.Errorf("diff of the machine with its own fingerprint: exit %d\n%s%s", code, diff, stderr)
	}
	// Two saved fingerprints, one with TPM details and one without.
	code, noTPM, stderr := runOLR(t, nil, "fingerprint", "--tpm", "none", "--json")
	if code != 0 || strings.Contains(noTPM, `"tpm"`) {
		t.Fatalf("--tpm none --json: exit %d, %s\n%s", code, stderr, noTPM)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	os.WriteFile(a, []byte(noTPM), 0o644)
	os.WriteFile(b, []byte(out), 0o644)
	if code, diff, stderr := runOLR(t, nil, "fingerprint", "diff", a, b); code != 0 || !strings.Contains(diff, "tpm-ek") {
		t.Errorf("diff of saved fingerprints without and with a TPM: exit %d\n%s%s", code, diff, stderr)
	}
}

// TestFingerprintJSONRoundTripRoot pipes olr fingerprint --json into olr
// fingerprint diff for a fixture tree, which every machine can run.
func TestFingerprintJSONRoundTripRoot(t *testing.T) {
	root := filepath.Join("..", "..", "fingerprint", "host", "testdata", "baremetal")
	code, out, stderr := runOLR(t, nil, "fingerprint", "--root", root, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(out, `"tpm"`) {
		t.Errorf("--root output has TPM details, but --root reads no TPM:\n%s", out)
	}
	code, diff, stderr := runOLR(t, []byte(out), "fingerprint", "diff", "--root", root, "-")
	if code != 0 || !strings.Contains(diff, "comparing with saved fingerprint - (default policy)") || !strings.Contains(diff, ": passes (") {
		t.Errorf("exit %d\n%s%s", code, diff, stderr)
	}
	if strings.Contains(diff, " changed ") || strings.Contains(diff, " missing ") || strings.Contains(diff, " new ") {
		t.Errorf("a fingerprint compared with itself has differences:\n%s", diff)
	}
}

func TestParseSavedFingerprint(t *testing.T) {
	const factors = `"factors":[{"kind":"machine-id","value":"0123456789abcdef0123456789abcdef","source":"/etc/machine-id"}],"machine":{"class":"bare-metal"}`
	tests := []struct {
		name, json string
		ok         bool
	}{
		{"bare fingerprint", `{` + factors + `}`, true},
		{"with notes", `{` + factors + `,"notes":["dmi: no /sys/class/dmi/id to read"]}`, true},
		{"with TPM details", `{` + factors + `,"tpm":{"source":"/dev/tpmrm0","manufacturer":"IFX","firmware_version":"7.85.4555.0","ek_algorithm":"ecc-p256","ek_cert_present":true}}`, true},
		{"unknown field", `{` + factors + `,"extra":1}`, false},
		{"unknown TPM field", `{` + factors + `,"tpm":{"source":"sim","ek_name":"000b"}}`, false},
		{"trailing data", `{` + factors + `}{}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp, err := parseSavedFingerprint("saved.json", []byte(tt.json))
			if tt.ok && (err != nil || len(fp.Factors) != 1) {
				t.Errorf("refused: %v", err)
			}
			if !tt.ok && err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestPrintFingerprintTPM(t *testing.T) {
	fp := &fingerprint.Fingerprint{Machine: fingerprint.MachineKind{Class: fingerprint.ClassBareMetal}}
	fp.Add(fingerprint.KindTPMEK, "000b"+strings.Repeat("ab", 32), "tpm:/dev/tpmrm0 (ecc-p256 EK)", false)
	var b bytes.Buffer
	printFingerprint(&b, fp, &tpmDetails{Source: "/dev/tpmrm0", Manufacturer: "IFX", FirmwareVersion: "7.85.4555.0",
		EKAlgorithm: "ecc-p256", EKCertPresent: true})
	want := "tpm: /dev/tpmrm0\n" +
		"  manufacturer:      IFX\n" +
		"  firmware version:  7.85.4555.0\n" +
		"  EK algorithm:      ecc-p256\n" +
		"  EK certificate:    present in NV\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("output:\n%s\nlacks:\n%s", b.String(), want)
	}
	b.Reset()
	printFingerprint(&b, fp, nil)
	if strings.Contains(b.String(), "tpm: ") || strings.Contains(b.String(), "manufacturer") {
		t.Errorf("TPM details without a TPM read:\n%s", b.String())
	}
}

// FuzzParseSavedFingerprint: the saved-fingerprint reader of olr
// fingerprint diff never panics, and what it accepts holds only
// normalised factors.
func FuzzParseSavedFingerprint(f *testing.F) {
	f.Add([]byte(`{"factors":[{"kind":"mac","value":"3c:ec:ef:12:34:56","source":"eno1"}],"machine":{"class":"bare-metal"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fp, err := parseSavedFingerprint("saved.json", data)
		if err != nil {
			return
		}
		for _, x := range fp.Factors {
			if v, err := fingerprint.Normalize(x.Kind, x.Value); err != nil || v != x.Value {
				t.Fatalf("accepted a factor not in normal form: %+v", x)
			}
		}
	})
}
