// Package olrcli is the olr command: it runs on the licensed (often
// air-gapped) machine, shows the machine's fingerprint, writes the
// encrypted activation request req.olr, imports and verifies the signed
// license.olr, and runs a whole offline activation as a demo.
package olrcli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/store"
)

// defaultProduct names the product a request is for when --product is
// not given.
const defaultProduct = "backup-server"

// The flags that several commands share. Each shows its default once, in
// urfave/cli's "(default: ...)"; stateFlag's is set in NewApp, from the
// environment it runs in.
var (
	tpmFlag = &cli.StringFlag{Name: "tpm", Value: "auto", EnvVars: []string{"OLR_TPM"},
		Usage: "TPM `SPEC` to read: auto, none, a device path, mssim:HOST:PORT, or sim (software TPMs only with " + allowSoftwareTPM + "=1)"}
	rootFlag = &cli.StringFlag{Name: "root", EnvVars: []string{"OLR_ROOT"},
		Usage: "fingerprint the image or saved sysfs tree mounted at `DIR` instead of this machine"}
	// whatIfRootFlag is --root of verify and status: a what-if that
	// records nothing.
	whatIfRootFlag = &cli.StringFlag{Name: "root", EnvVars: []string{"OLR_ROOT"},
		Usage: "judge against the image or saved sysfs tree mounted at `DIR` instead of this machine, recording nothing"}
	// refusedRootFlag is --root of import, declared only so that it (and
	// OLR_ROOT) is refused with a reason rather than ignored.
	refusedRootFlag = &cli.StringFlag{Name: "root", EnvVars: []string{"OLR_ROOT"}, Hidden: true}
	stateFlag       = &cli.StringFlag{Name: "state", EnvVars: []string{"OLR_STATE"},
		Usage: "state `DIR` holding the installed license"}
	trustFlag = &cli.StringFlag{Name: "trust", EnvVars: []string{"OLR_TRUST"},
		Usage: "vendor trust bundle `FILE`", DefaultText: "the bundle olr import saved in the state directory"}
	jsonFlag    = &cli.BoolFlag{Name: "json", Usage: "machine-readable output"}
	productFlag = &cli.StringFlag{Name: "product", Value: defaultProduct, EnvVars: []string{"OLR_PRODUCT"}, Usage: "product `NAME` the license is for"}
)

// Main runs the command with the process arguments and exits.
func Main() { cliutil.Run(NewApp(), os.Args) }

// thisMachine is the directory that stands in for this machine when it
// is not "": see MainOn.
var thisMachine string

// MainOn is Main with the sysfs tree at root standing in for this
// machine, for tests of the commands that record what they see on this
// machine (import refuses --root; verify and status only judge under it,
// recording nothing). Only the test binary of the commands calls it;
// cmd/olr calls Main.
func MainOn(root string) {
	thisMachine = root
	Main()
}

// NewApp returns the command-line application.
func NewApp() *cli.App {
	// The one directory that applies here, not a rule for every user.
	stateFlag.DefaultText = store.PlatformDir()
	return withCompletion(&cli.App{
		Name:  "olr",
		Usage: "offline license activation for air-gapped machines",
		Description: "On the machine: olr request writes req.olr for the vendor; olr import installs the\n" +
			"license.olr the vendor sends back; olr verify and olr status check it.",
		HideHelpCommand: true,
		Commands: []*cli.Command{
			fingerprintCommand(),
			requestCommand(),
			importCommand(),
			verifyCommand(),
			statusCommand(),
			demoCommand(),
			serveCommand(),
		},
	})
}

// allowSoftwareTPM is the environment variable that admits a software TPM
// (--tpm sim, --tpm mssim:HOST:PORT) as this machine's TPM, for labs and
// tests.
const allowSoftwareTPM = "OLR_ALLOW_SOFTWARE_TPM"

// collect fingerprints the machine (or --root) as the flags say, through
// package fingerprint/machine, exactly as a product does. The caller
// closes the machine, which releases its TPM.
func collect(c *cli.Context) (*machine.Machine, error) {
	return collectMachine(c, os.Getenv(allowSoftwareTPM) == "1")
}

// collectMachine is collect, admitting a software TPM when allowSoftware.
func collectMachine(c *cli.Context, allowSoftware bool) (*machine.Machine, error) {
	root := c.String("root")
	if root != "" {
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			return nil, cliutil.Usagef("--root %s is not a directory", root)
		}
	} else {
		root = thisMachine
	}
	opts := machine.Options{Root: root, TPM: c.String("tpm"), AllowSoftwareTPM: allowSoftware}
	ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
	defer cancel()
	m, err := machine.Collect(ctx, opts)
	if errors.Is(err, machine.ErrSoftwareTPM) {
		return nil, cliutil.WithHint(fmt.Errorf("--tpm %s: %w", opts.TPM, machine.ErrSoftwareTPM), cliutil.ExitUsage,
			"in a lab or a test, set "+allowSoftwareTPM+"=1 to admit it; requests then tell the vendor it is a software TPM")
	}
	if err != nil {
		return nil, cliutil.WithHint(fmt.Errorf("cannot fingerprint this machine: %v", err), cliutil.ExitUsage,
			"run with --tpm none to leave the TPM out, or as root to read DMI serials")
	}
	if len(m.Fingerprint.Factors) == 0 {
		m.Close()
		return nil, noFactors(m.Fingerprint)
	}
	return m, nil
}

// refuseRoot refuses --root (or OLR_ROOT) for a command that records what
// it sees: only this machine may install a license or move its clocks.
func refuseRoot(c *cli.Context, hint string) error {
	if root := c.String("root"); root != "" {
		return cliutil.WithHint(fmt.Errorf("--root (or OLR_ROOT) %s: olr %s records its result in the state of this machine, so it reads only this machine",
			root, c.Command.Name), cliutil.ExitUsage, hint)
	}
	return nil
}

func storeOf(c *cli.Context) *store.Store {
	dir := c.String("state")
	if dir == "" {
		dir = store.DefaultDir()
	}
	return store.Open(dir)
}

// trustFile is where import saves the trust bundle it was given.
const trustFile = "trust.olr"

// loadTrust reads --trust, or the bundle saved in the state directory.
func loadTrust(c *cli.Context, st *store.Store) (*olr.Trust, []byte, error) {
	path := c.String("trust")
	var data []byte
	var err error
	if path == "" {
		// The bundle import saved is read like every state file: bounded,
		// and only if it is a regular file.
		path = filepath.Join(st.Dir, trustFile)
		data, err = safefile.ReadFile(path, olr.MaxTrustSize)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, cliutil.WithHint(errors.New("no trust bundle: give the vendor's with --trust FILE"), cliutil.ExitUsage,
				"the vendor's keygen wrote it as vendor.key.trust")
		}
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err // the path is named below
		}
		if err != nil {
			return nil, nil, cliutil.WithHint(fmt.Errorf("cannot read the saved trust bundle %s: %v", path, err), cliutil.ExitUsage,
				"give the vendor's with --trust FILE")
		}
	} else if data, err = cliutil.ReadInput(path, "trust bundle", olr.MaxTrustSize); err != nil {
		return nil, nil, err
	}
	t, err := olr.ParseTrust(data)
	if err != nil {
		return nil, nil, cliutil.Usagef("%s: %v", path, err)
	}
	return t, data, nil
}

// parseAt parses --at: an RFC 3339 time, a date, or "+DURATION" such as
// +15d or +36h from now.
func parseAt(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		if days, ok := strings.CutSuffix(rest, "d"); ok {
			var n int
			if _, err := fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days {
				return now.AddDate(0, 0, n), nil
			}
		}
		d, err := time.ParseDuration(rest)
		if err == nil {
			return now.Add(d), nil
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, cliutil.Usagef("--at %q: want a time like 2027-01-31T12:00:00Z, a date, or +15d", s)
}

// noFactors explains an empty fingerprint from the collectors' notes, with
// a hint that fits the cause.
func noFactors(fp *fingerprint.Fingerprint) error {
	msg := "found no hardware factor to bind a license to"
	if fp.Machine.Class != "" && fp.Machine.Class != fingerprint.ClassUnknown {
		msg += " on this " + fp.Machine.Class
		if fp.Machine.Detail != "" {
			msg += " (" + fp.Machine.Detail + ")"
		}
	}
	for _, n := range fp.Notes {
		msg += "\n" + n
	}
	hint := "run as root so that DMI identities can be read"
	switch {
	case fp.Machine.Class == fingerprint.ClassContainer:
		hint = "a container has no hardware of its own: run olr on the host, or give the container the host's machine-id and network"
	case !strings.Contains(strings.Join(fp.Notes, " "), "needs root"):
		hint = "the notes above say why each source gave nothing"
	}
	return cliutil.WithHint(errors.New(msg), cliutil.ExitUsage, hint)
}
