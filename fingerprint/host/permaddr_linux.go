package host

import (
	"errors"
	"net"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxAddrLen is MAX_ADDR_LEN in the kernel's netdevice.h.
const maxAddrLen = 32

// ethtoolPermAddr is struct ethtool_perm_addr with room for the address.
type ethtoolPermAddr struct {
	cmd  uint32
	size uint32
	data [maxAddrLen]byte
}

// ifreqData is struct ifreq with ifr_data set, padded to the size of
// struct ifreq. x/sys/unix keeps its own version private; the pointer
// must stay a pointer for the garbage collector, so it cannot live in
// unix.Ifreq's byte array.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [unsafe.Sizeof(unix.Ifreq{}) - unix.IFNAMSIZ - unsafe.Sizeof(uintptr(0))]byte
}

// permAddr asks the driver for the interface's permanent (burned-in)
// address with the ETHTOOL_GPERMADDR ioctl, which needs no privilege. It
// is the address bonding, teaming or a hand-set MAC hides.
func permAddr(name string) (string, error) {
	if len(name) >= unix.IFNAMSIZ {
		return "", errors.New("interface name too long")
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)

	req := &ethtoolPermAddr{cmd: unix.ETHTOOL_GPERMADDR, size: maxAddrLen}
	var ifr ifreqData
	copy(ifr.name[:], name)
	ifr.data = unsafe.Pointer(req)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(req)
	if errno != 0 {
		return "", errno
	}
	if req.size != 6 {
		return "", errors.New("no 48-bit permanent address")
	}
	hw := net.HardwareAddr(req.data[:6])
	if hw.String() == "00:00:00:00:00:00" {
		// Drivers that make up an address leave the permanent one zero.
		return "", errors.New("no permanent address")
	}
	return hw.String(), nil
}
