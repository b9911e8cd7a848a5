package tpmbind

import (
	"strings"

	"github.com/olr-dev/olr/internal/safetext"
)

// virtualVendors are TPM manufacturer IDs (TPM_PT_MANUFACTURER) of
// software and virtual TPMs, with what they are.
var virtualVendors = map[string]string{
	"IBM":  "swtpm/libtpms, the software TPM of QEMU and libvirt",
	"MSFT": "the reference simulator or a Hyper-V vTPM (Pluton says so too)",
	"GOOG": "a Google Cloud vTPM",
	"AMZN": "an AWS NitroTPM",
	"VMW":  "a VMware vTPM",
	"XEN":  "a Xen vTPM",
}

// SoftwareTPM says why a TPM looks software or virtual, or "" when nothing
// says so: its manufacturer ID, or an EK certificate issuer (certIssuer,
// "" for none) that is swtpm's local CA. A virtual TPM's state can be
// copied with its VM, so each copy proves the binding; the vendor decides
// whether to bind to one.
func SoftwareTPM(manufacturer, certIssuer string) string {
	if what, ok := virtualVendors[strings.TrimSpace(manufacturer)]; ok {
		return "manufacturer " + manufacturer + ": " + what
	}
	if strings.Contains(strings.ToLower(certIssuer), "swtpm") {
		return "EK certificate from " + safetext.Quote(certIssuer) + " (swtpm's local CA)"
	}
	return ""
}
