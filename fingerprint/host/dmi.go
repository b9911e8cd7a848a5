package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/jaypipes/ghw/pkg/baseboard"
	"github.com/jaypipes/ghw/pkg/product"

	"github.com/olr-dev/olr/fingerprint"
)

// ghwUnknown is what ghw returns for a DMI item it could not read.
const ghwUnknown = "unknown"

const dmiDir = "/sys/class/dmi/id"

// readDMI loads the SMBIOS data once per Collect call.
func (h *host) readDMI() (dmiInfo, error) {
	var err error
	h.dmiOnce.Do(func() {
		if !exists(h.path(dmiDir)) {
			return
		}
		h.dmi.present = true
		if h.dmi.product, err = product.New(h.ghw...); err != nil {
			return
		}
		h.dmi.board, err = baseboard.New(h.ghw...)
	})
	return h.dmi, err
}

// collectDMI adds the system UUID, the system serial and the board serial.
func (h *host) collectDMI(_ context.Context, fp *fingerprint.Fingerprint) error {
	d, err := h.readDMI()
	if err != nil {
		return err
	}
	if !d.present {
		fp.Notes = append(fp.Notes, "dmi: no "+dmiDir+" to read")
		return nil
	}
	h.addDMI(fp, fingerprint.KindProductUUID, "product_uuid", d.product.UUID)
	h.addDMI(fp, fingerprint.KindProductSerial, "product_serial", d.product.SerialNumber)
	h.addDMI(fp, fingerprint.KindBoardSerial, "board_serial", d.board.SerialNumber)
	return nil
}

func (h *host) addDMI(fp *fingerprint.Fingerprint, k fingerprint.Kind, item, v string) {
	rel := dmiDir + "/" + item
	if v == ghwUnknown {
		// ghw says "unknown" for any failure; find out which one.
		if _, err := os.ReadFile(h.path(rel)); err != nil {
			fp.Notes = append(fp.Notes, dmiNote(k, rel, err))
			return
		}
		// The firmware really says "unknown": Add notes the placeholder.
	}
	fp.Add(k, v, rel, false)
}

// dmiNote explains why a DMI item could not be read. The serials and the
// UUID are mode 0400 on most kernels, so without root they are missing.
func dmiNote(k fingerprint.Kind, rel string, err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("%s: %s not readable (needs root)", k, rel)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s: no %s", k, rel)
	}
	return fmt.Sprintf("%s: %s not readable: %v", k, rel, err)
}
