package machine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/olr-dev/olr/fingerprint/host"
	"github.com/olr-dev/olr/fingerprint/machine"
)

// Under a root, Collect reads exactly what the host collectors read, and
// no TPM.
func TestCollectRootIsHost(t *testing.T) {
	for _, name := range []string{"baremetal", "kvm", "bonded", "container"} {
		t.Run(name, func(t *testing.T) {
			root := "../host/testdata/" + name
			m, err := machine.Collect(context.Background(), machine.Options{Root: root, TPM: "sim"})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			want, err := host.Collect(context.Background(), host.Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(m.Fingerprint)
			exp, _ := json.Marshal(want)
			if string(got) != string(exp) {
				t.Fatalf("machine.Collect:\n%s\nhost.Collect:\n%s", got, exp)
			}
			if m.TPM() != nil {
				t.Fatal("a TPM was read under a root")
			}
		})
	}
}

// A software TPM is refused without the opt-in, before anything is
// opened: the mssim address below has nothing listening.
func TestSoftwareTPMNeedsOptIn(t *testing.T) {
	for _, spec := range []string{"sim", "mssim:127.0.0.1:1"} {
		start := time.Now()
		m, err := machine.Collect(context.Background(), machine.Options{TPM: spec})
		if !errors.Is(err, machine.ErrSoftwareTPM) || m != nil {
			t.Fatalf("%s without opt-in: %v", spec, err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s: refusing took %v", spec, took)
		}
	}
	for spec, want := range map[string]bool{
		"sim": true, "mssim:localhost:2321": true, "auto": false, "none": false, "/dev/tpmrm0": false, "": false,
	} {
		if machine.IsSoftwareTPM(spec) != want {
			t.Errorf("IsSoftwareTPM(%q) = %v", spec, !want)
		}
	}
}

func TestNoTPM(t *testing.T) {
	m, err := machine.Collect(context.Background(), machine.Options{Root: "../host/testdata/kvm", TPM: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if m.TPM() != nil || m.Close() != nil || m.Close() != nil {
		t.Fatal("a machine without a TPM has one to close")
	}
	if m.Fingerprint.Machine.Class != "virtual-machine" {
		t.Fatalf("class %q", m.Fingerprint.Machine.Class)
	}
}
