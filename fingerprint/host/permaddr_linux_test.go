package host

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestPermAddrLive asks the drivers of this machine's physical NICs for
// their permanent address; where the visible one was never changed, the
// two must agree.
func TestPermAddrLive(t *testing.T) {
	dirs, _ := filepath.Glob("/sys/class/net/*/device")
	tried := 0
	for _, d := range dirs {
		dir := filepath.Dir(d)
		name := filepath.Base(dir)
		got, err := permAddr(name)
		if errors.Is(err, unix.EOPNOTSUPP) {
			continue // the driver does not implement ETHTOOL_GPERMADDR
		}
		tried++
		if attr(dir+"/addr_assign_type") != addrPerm {
			t.Logf("%s: permanent address %q, %v", name, got, err)
			continue
		}
		want := attr(dir + "/address")
		if err != nil || got != want {
			t.Errorf("permAddr(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := permAddr("nonexistent0"); !errors.Is(err, unix.ENODEV) {
		t.Errorf("permAddr(nonexistent0) error = %v, want ENODEV", err)
	}
	if tried == 0 {
		if _, err := os.Stat("/sys/class/net"); err == nil {
			t.Log("no physical NIC here answers ETHTOOL_GPERMADDR")
		}
	}
}

func TestIfreqDataSize(t *testing.T) {
	if a, b := unsafe.Sizeof(ifreqData{}), unsafe.Sizeof(unix.Ifreq{}); a != b {
		t.Errorf("ifreqData is %d bytes, struct ifreq %d", a, b)
	}
}
