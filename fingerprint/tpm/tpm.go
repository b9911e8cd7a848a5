// Package tpm reads the TPM 2.0 factor of a machine fingerprint: the TPM
// Name of the endorsement key (EK) that the TCG default template yields.
//
// The EK is derived from the TPM's endorsement primary seed, which is set
// at manufacture and survives OS reinstalls, so its Name is the most stable
// hardware identifier a machine has. olr recreates the EK with
// TPM2_CreatePrimary from the default ECC NIST P-256 template (RSA-2048 on
// TPMs without P-256) and reports its Name exactly as `tpm2_readpublic`
// prints `name:`, so that support staff can check a value by hand with
// tpm2-tools.
//
// A TPM is selected with a spec string, the value of the --tpm flag:
//
//   - "auto": the kernel resource manager /dev/tpmrm0 when present, else none
//   - "none": no TPM
//   - a device path such as /dev/tpmrm0 or /dev/tpm0
//   - "mssim:HOST:PORT": a TPM simulator speaking the Microsoft simulator TCP
//     protocol, such as `swtpm socket` (command port PORT, control port PORT+1)
//   - "sim": the in-process reference simulator, for tests and demos; only in
//     builds with cgo. It is seeded alike in every process, so its EK is the
//     same from run to run (and on every machine).
//
// Every exchange with a TPM is bounded in time (see [DefaultTimeout]): a TPM
// that another process holds, or a simulator that went away, gives an error
// rather than a hang.
package tpm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
)

// DefaultTimeout bounds opening a TPM and each [Read] when the context has
// no deadline of its own. A TPM answers in well under a second; real ones
// take up to a few hundred milliseconds to create an ECC primary key.
const DefaultTimeout = 5 * time.Second

// ResourceManager is the Linux kernel's TPM resource manager device, which
// lets several processes share the TPM. "auto" uses only this device.
const ResourceManager = "/dev/tpmrm0"

// rawDevice is the exclusive TPM device of Linux, named in hints only.
const rawDevice = "/dev/tpm0"

// ErrNoTPM reports that no TPM was selected or none is present. It is not a
// failure: the fingerprint simply has no TPM factor.
var ErrNoTPM = errors.New("no TPM")

// specForms names the accepted spec forms, for error messages.
const specForms = "auto, none, sim, a device path such as /dev/tpmrm0, or mssim:HOST:PORT"

// OpenError reports a TPM that was selected but could not be opened.
type OpenError struct {
	// Source is the device path or simulator address.
	Source string
	Err    error
	// Hint suggests a fix, or is empty. Error already includes it.
	Hint string
}

func (e *OpenError) Error() string {
	s := "cannot open TPM at " + e.Source + ": " + e.Err.Error()
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *OpenError) Unwrap() error { return e.Err }

// TimeoutError reports a TPM that did not answer in time. It matches
// [context.DeadlineExceeded] with [errors.Is].
type TimeoutError struct {
	// Source is the device path or simulator address, or empty when
	// unknown (a transport not opened by [Open]).
	Source string
	// After is the time the caller allowed.
	After time.Duration
}

func (e *TimeoutError) Error() string {
	at := "TPM"
	if e.Source != "" {
		at = "TPM at " + e.Source
	}
	return fmt.Sprintf("%s did not answer within %v; is another process holding it?", at, e.After)
}

func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Open opens the TPM that spec selects (see the package documentation) and
// returns it with a description of its source, such as "/dev/tpmrm0" or
// "mssim:127.0.0.1:2321". It returns an error wrapping [ErrNoTPM] for
// "none", and for "auto" on a machine without /dev/tpmrm0. Opening takes
// at most [DefaultTimeout].
func Open(spec string) (transport.TPMCloser, string, error) {
	return OpenContext(context.Background(), spec)
}

// OpenContext is [Open] bounded by ctx; without a deadline in ctx it takes
// at most [DefaultTimeout].
func OpenContext(ctx context.Context, spec string) (transport.TPMCloser, string, error) {
	ctx, budget, cancel := withBudget(ctx)
	defer cancel()
	switch {
	case spec == "none":
		return nil, "", fmt.Errorf("%w: disabled with --tpm none", ErrNoTPM)
	case spec == "auto":
		if _, err := os.Stat(ResourceManager); errors.Is(err, fs.ErrNotExist) {
			if runtime.GOOS != "linux" {
				return nil, "", fmt.Errorf("%w: auto looks only for the Linux resource manager %s", ErrNoTPM, ResourceManager)
			}
			if _, err := os.Stat(rawDevice); err == nil {
				return nil, "", fmt.Errorf("%w: %s is not present (%s is; select it with --tpm %s)",
					ErrNoTPM, ResourceManager, rawDevice, rawDevice)
			}
			return nil, "", fmt.Errorf("%w: %s is not present", ErrNoTPM, ResourceManager)
		}
		return openDevice(ResourceManager)
	case spec == "sim":
		c, err := openSim(ctx, budget)
		if err != nil {
			return nil, "", err
		}
		return c, simSource, nil
	case strings.HasPrefix(spec, "mssim:"):
		return openMSSim(ctx, budget, strings.TrimPrefix(spec, "mssim:"))
	case strings.HasPrefix(spec, "/"):
		return openDevice(spec)
	case spec == "":
		return nil, "", fmt.Errorf("no TPM selected: use %s", specForms)
	}
	return nil, "", fmt.Errorf("unknown TPM selection %q: use %s", spec, specForms)
}

// withBudget gives ctx a deadline of DefaultTimeout unless it has one, and
// returns the time allowed, for error messages.
func withBudget(ctx context.Context) (context.Context, time.Duration, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		// Rounded up to 10ms, so that a caller's 200ms reads as such.
		const unit = 10 * time.Millisecond
		return ctx, (time.Until(dl) + unit - 1).Truncate(unit), func() {}
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	return ctx, DefaultTimeout, cancel
}

func openDevice(path string) (transport.TPMCloser, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", &OpenError{Source: path, Err: errors.New("no such device")}
		}
		return nil, "", deviceError(path, err)
	}
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return nil, "", &OpenError{Source: path, Err: errors.New("not a character device")}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, "", deviceError(path, err)
	}
	// Go opens character devices non-blocking when they support poll, as
	// the TPM devices do. The Linux driver then queues a write and lets a
	// read return 0 bytes until the answer is ready. Fd switches the file
	// to blocking mode, in which write runs the command to completion;
	// conn bounds the wait instead of file deadlines.
	_ = f.Fd()
	return newConn(path, &deviceLink{f: f}), path, nil
}

func deviceError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is already in the message
	}
	e := &OpenError{Source: path, Err: err}
	switch {
	case errors.Is(err, fs.ErrPermission):
		e.Hint = "add this user to the tss group, or run as root"
	case errors.Is(err, syscall.EBUSY):
		// /dev/tpm0 admits one process; tpm2-abrmd or another tool has it.
		e.Hint = "another process holds it; use the resource manager " + ResourceManager
	}
	return e
}

// parseMSSim splits "HOST:PORT" and returns the command and platform
// (control) addresses.
func parseMSSim(hostPort string) (cmd, platform string, err error) {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil || host == "" {
		return "", "", fmt.Errorf("bad TPM simulator address %q: use mssim:HOST:PORT, such as mssim:127.0.0.1:2321", hostPort)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	// The control port is PORT+1, so PORT must leave room for it.
	if err != nil || p == 0 || p >= 65535 {
		return "", "", fmt.Errorf("bad TPM simulator port %q: use a number from 1 to 65534", port)
	}
	return net.JoinHostPort(host, port), net.JoinHostPort(host, strconv.FormatUint(p+1, 10)), nil
}
