// Package host reads the hardware factors of a Linux host: the permanent
// MAC addresses of its physical NICs, its local IP addresses, the
// machine-id, the DMI system UUID and serials, and the serials of its
// fixed disks. It also tells bare metal from a virtual machine or a
// container.
//
// The hardware inventory (NICs, DMI product and baseboard, block devices)
// comes from github.com/jaypipes/ghw. sysfs is read directly only for what
// ghw does not expose: addr_assign_type, permanent addresses of bond
// slaves, the device link that tells a USB adapter from a PCI one, and
// disk serials that only sysfs knows when udev data is absent.
//
// # Roots
//
// [Options.Root] points the collectors at a mounted disk image or a saved
// sysfs tree instead of the live host. Every path is then read under the
// root, sources are reported relative to it, and live-only sources (IP
// addresses, the permanent address ioctl, the extra collectors such as the
// TPM) are skipped with a note. [AuditImage] checks an image that is
// meant to be cloned.
//
// # Output
//
// ghw never writes to the terminal: its logger is replaced by one that
// discards everything, and its external tools (ethtool, udevadm) are
// disabled, which also keeps collection fast. What a user should know ends
// up in [fingerprint.Fingerprint.Notes].
package host

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/jaypipes/ghw"
	"github.com/jaypipes/ghw/pkg/baseboard"
	"github.com/jaypipes/ghw/pkg/product"

	"github.com/olr-dev/olr/fingerprint"
)

// Options selects what to read.
type Options struct {
	// Root is "" (or "/") for the live host; otherwise the directory where
	// a disk image or a saved sysfs tree is mounted.
	Root string
	// Extra collectors run after the built-in ones, on the live host only
	// (under Root they are skipped with a note). The CLI adds the TPM
	// collector here.
	Extra []fingerprint.Collector
}

// Collect runs the built-in collectors and then opts.Extra, classifies the
// machine and returns the factors in canonical order. An error from any
// collector aborts collection: collectors report missing sources as notes,
// so an error is a source that exists and could not be read.
func Collect(ctx context.Context, opts Options) (*fingerprint.Fingerprint, error) {
	h := newHost(opts)
	if !h.live {
		// A mistyped root would otherwise give an empty fingerprint.
		if fi, err := os.Stat(h.root); err != nil {
			return nil, fmt.Errorf("host: root: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("host: root %s is not a directory", h.root)
		}
	}
	// An empty list, not null, in JSON when nothing is found.
	fp := &fingerprint.Fingerprint{Factors: []fingerprint.Factor{}}
	cs := h.collectors()
	for _, c := range opts.Extra {
		if h.live {
			cs = append(cs, c)
		} else {
			cs = append(cs, skipped{c.Name()})
		}
	}
	for _, c := range cs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := c.Collect(ctx, fp); err != nil {
			return nil, fmt.Errorf("host: %s: %w", c.Name(), err)
		}
	}
	fp.Machine = h.machineKind()
	fp.Sort()
	return fp, nil
}

// Collectors returns the built-in collectors for opts, in the order Collect
// runs them: network, ips, machine-id, dmi, disks. opts.Extra is ignored.
func Collectors(opts Options) []fingerprint.Collector {
	return newHost(opts).collectors()
}

// host is the state the collectors of one Collect call share: where to
// read, and the DMI data that both the dmi collector and the machine
// classification need, read once.
type host struct {
	root string // "/" when live
	live bool
	ghw  []any

	dmiOnce sync.Once
	dmi     dmiInfo
}

type dmiInfo struct {
	present bool // /sys/class/dmi/id exists
	product *product.Info
	board   *baseboard.Info
}

// discard receives ghw's log records. ghw's own WithDisableWarnings sets a
// process-wide level that every ghw call resets from the environment
// first, so a logger of our own is the only switch that cannot race.
var discard = slog.New(slog.DiscardHandler)

func newHost(opts Options) *host {
	root := opts.Root
	if root == "" {
		root = "/"
	}
	root = filepath.Clean(root)
	return &host{
		root: root,
		live: root == "/",
		// The chroot is passed even when live so that GHW_CHROOT in the
		// environment cannot redirect a live collection.
		ghw: []any{
			ghw.WithChroot(root),
			ghw.WithDisableTools(),
			ghw.WithDisableTopology(),
			ghw.WithLogger(discard),
		},
	}
}

func (h *host) collectors() []fingerprint.Collector {
	return []fingerprint.Collector{
		collector{"network", h.collectNetwork},
		collector{"ips", h.collectIPs},
		collector{"machine-id", h.collectMachineID},
		collector{"dmi", h.collectDMI},
		collector{"disks", h.collectDisks},
	}
}

// path returns the host path of p, an absolute path on the machine being
// fingerprinted.
func (h *host) path(p string) string { return filepath.Join(h.root, p) }

type collector struct {
	name string
	fn   func(context.Context, *fingerprint.Fingerprint) error
}

func (c collector) Name() string { return c.name }
func (c collector) Collect(ctx context.Context, fp *fingerprint.Fingerprint) error {
	return c.fn(ctx, fp)
}

// skipped stands in for a live-only collector under a root.
type skipped struct{ name string }

func (s skipped) Name() string { return s.name }
func (s skipped) Collect(_ context.Context, fp *fingerprint.Fingerprint) error {
	fp.Notes = append(fp.Notes, s.name+": live-only source skipped under --root")
	return nil
}

var (
	_ fingerprint.Collector = collector{}
	_ fingerprint.Collector = skipped{}
)
