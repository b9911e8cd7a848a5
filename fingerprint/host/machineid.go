package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/olr-dev/olr/fingerprint"
)

// machineIDPaths are where systemd and D-Bus keep the machine-id, in the
// order systemd reads them.
var machineIDPaths = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}

// uninitialized is what /etc/machine-id holds in an image that must run
// systemd's first-boot logic (machine-id(5)).
const uninitialized = "uninitialized"

// collectMachineID adds the machine-id. Under a root it also adds the
// golden-image audit, since the machine-id is what clones share.
func (h *host) collectMachineID(_ context.Context, fp *fingerprint.Fingerprint) error {
	if !h.live {
		fp.Notes = append(fp.Notes, AuditImage(h.root)...)
	}
	for _, p := range machineIDPaths {
		v, err := readInRoot(h.root, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if v == "" || v == uninitialized {
			if h.live {
				fp.Notes = append(fp.Notes, fmt.Sprintf("machine-id: %s is %s", p, describeEmpty(v)))
			}
			continue
		}
		fp.Add(fingerprint.KindMachineID, v, p, false)
		return nil
	}
	if h.live {
		fp.Notes = append(fp.Notes, "machine-id: none found in /etc/machine-id or /var/lib/dbus/machine-id")
	}
	return nil
}

func describeEmpty(v string) string {
	if v == "" {
		return "empty"
	}
	return `"uninitialized"`
}

// readInRoot reads the file at p as seen from root.
func readInRoot(root, p string) (string, error) {
	hp, err := resolveInRoot(root, p)
	if err != nil {
		return "", err
	}
	return readAttr(hp)
}

// AuditImage checks a root that is to be cloned (a golden image) and
// returns warnings about its machine-id. A machine-id baked into an image
// is shared by every clone, so licenses could not tell the clones apart;
// an image without one gets a fresh machine-id at first boot, so a
// fingerprint taken from the image will not match the booted machine.
// An empty root means "/".
func AuditImage(root string) []string {
	if root == "" {
		root = "/"
	}
	var notes []string
	etc, err := readInRoot(root, "/etc/machine-id")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		notes = append(notes, "image audit: /etc/machine-id is missing: systemd makes a new one at first boot, so fingerprint the booted machine, not the image")
	case err != nil:
		notes = append(notes, fmt.Sprintf("image audit: /etc/machine-id not readable: %v", err))
	case etc == "" || etc == uninitialized:
		notes = append(notes, fmt.Sprintf("image audit: /etc/machine-id is %s: each clone gets its own at first boot, so fingerprint the booted machine, not the image", describeEmpty(etc)))
	default:
		notes = append(notes, "image audit: warning: /etc/machine-id has a value: every machine cloned from this image will share it; empty the file (or run systemd-firstboot on each clone) before capturing the image")
	}
	// D-Bus keeps its own copy unless it is a link to /etc/machine-id.
	dbus := filepath.Join(root, "var/lib/dbus/machine-id")
	if fi, err := os.Lstat(dbus); err == nil && fi.Mode().IsRegular() {
		if v, err := readAttr(dbus); err == nil && v != "" && v != uninitialized {
			notes = append(notes, "image audit: warning: /var/lib/dbus/machine-id has a value: clones will share it; remove it or link it to /etc/machine-id")
		}
	}
	return notes
}
