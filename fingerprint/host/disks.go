package host

import (
	"context"
	"fmt"
	"strings"

	"github.com/jaypipes/ghw/pkg/block"

	"github.com/olr-dev/olr/fingerprint"
)

// notDiskPrefixes name block devices that are not disks of their own:
// loop files, RAM disks, device-mapper and md volumes built over real
// disks, optical drives, network block devices, floppies.
var notDiskPrefixes = []string{"loop", "ram", "zram", "dm-", "md", "sr", "nbd", "fd"}

// collectDisks adds the serials of the fixed disks.
func (h *host) collectDisks(_ context.Context, fp *fingerprint.Fingerprint) error {
	if !exists(h.path("/sys/block")) {
		fp.Notes = append(fp.Notes, "disk-serial: no /sys/block to read")
		return nil
	}
	info, err := block.New(h.ghw...)
	if err != nil {
		return err
	}
	var noSerial []string
	for _, d := range info.Disks {
		name := d.Name
		if hasAnyPrefix(name, notDiskPrefixes) {
			continue
		}
		if d.IsRemovable || h.blockOnUSB(name) {
			fp.Notes = append(fp.Notes, fmt.Sprintf("disk-serial: %s left out: removable", name))
			continue
		}
		if d.SerialNumber != "" && d.SerialNumber != ghwUnknown {
			fp.Add(fingerprint.KindDiskSerial, d.SerialNumber, "udev:"+name, false)
			continue
		}
		// Without udev data (an image, a container without /run/udev)
		// ghw finds no serial; the kernel has it for NVMe, virtio and
		// SCSI disks.
		if v, src := h.sysfsDiskSerial(name); v != "" {
			fp.Add(fingerprint.KindDiskSerial, v, src, false)
			continue
		}
		noSerial = append(noSerial, name)
	}
	if len(noSerial) > 0 {
		fp.Notes = append(fp.Notes, "disk-serial: no serial for "+list(noSerial))
	}
	return nil
}

func (h *host) blockOnUSB(name string) bool {
	dev, err := resolveLink(h.root, "/sys/block/"+name)
	return err == nil && onUSBBus(dev)
}

// sysfsDiskSerial reads a disk serial the kernel exposes: "serial" of the
// disk (virtio) or of its device (NVMe controller, some SCSI), else the
// unit serial number VPD page (SCSI, and SATA through libata).
func (h *host) sysfsDiskSerial(name string) (value, source string) {
	for _, rel := range []string{"/sys/block/" + name + "/serial", "/sys/block/" + name + "/device/serial"} {
		if v := attr(h.path(rel)); v != "" {
			return v, rel
		}
	}
	rel := "/sys/block/" + name + "/device/vpd_pg80"
	if b, _ := readRaw(h.path(rel)); len(b) > 0 {
		if v := parseVPD80(b); v != "" {
			return v, rel
		}
	}
	return "", ""
}

// parseVPD80 returns the serial in a Unit Serial Number VPD page (SPC-4
// 7.8.15): a 4-byte header whose last two bytes are the length, then the
// serial, often padded with spaces.
func parseVPD80(page []byte) string {
	if len(page) < 4 || page[1] != 0x80 {
		return ""
	}
	n := int(page[2])<<8 | int(page[3])
	if n > len(page)-4 {
		n = len(page) - 4
	}
	return strings.TrimSpace(strings.TrimRight(string(page[4:4+n]), "\x00"))
}
