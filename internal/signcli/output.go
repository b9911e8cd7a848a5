package signcli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/ledger"
)

// What olr-sign writes with -o, and how it tells a file of that type.
type outputKind struct {
	what   string // "license"
	header string // the first line of such a file
}

var (
	licenseOutput = outputKind{"license", "-----BEGIN OLR LICENSE-----"}
	crlOutput     = outputKind{"revocation list", "-----BEGIN OLR REVOCATION LIST-----"}
	anchorOutput  = outputKind{"ledger anchor", "-----BEGIN OLR LEDGER ANCHOR-----"}
)

var forceFlag = &cli.BoolFlag{Name: "force", Aliases: []string{"f"},
	Usage: "replace an existing -o file even if it is not of the type written (never the vendor key or the ledger)"}

// writeOutput writes a command's output to path ("-" is standard output),
// so that -o never destroys what the commands rely on:
//
//   - the vendor key files (-i FILE, FILE.sign, FILE.recipient,
//     FILE.trust) and the ledger (with its -wal and -shm files) are
//     refused, --force or not;
//   - an existing regular file that is not of the kind written (not
//     empty, not starting with its header) is refused without --force;
//   - a descriptor's name (/dev/stdout, /dev/fd/N, /proc/self/fd/N) is
//     written through that descriptor, and an existing file that is not
//     a regular file (/dev/null, a FIFO) as a stream, never renamed
//     over;
//   - anything else is replaced atomically (safefile.WriteFile).
func writeOutput(c *cli.Context, path string, data []byte, kind outputKind) error {
	if path == "-" {
		_, err := os.Stdout.Write(data)
		return err
	}
	if err := checkOutput(c, path, kind); err != nil {
		return err
	}
	if fd, ok := descriptorPath(path); ok {
		f := os.NewFile(uintptr(fd), path)
		if f == nil {
			return cliutil.Usagef("cannot write %s: no such descriptor", path)
		}
		if _, err := f.Write(data); err != nil {
			return cliutil.Usagef("cannot write %s: %v", path, unwrapPath(err))
		}
		return nil
	}
	if err := safefile.WriteFile(path, data, 0o644); err != nil {
		return cliutil.Usagef("cannot write %s: %v", path, unwrapPath(err))
	}
	return nil
}

// checkOutput refuses an output path that names a file the commands rely
// on, or an existing file of another kind (without --force). Standard
// output ("-") is always accepted.
func checkOutput(c *cli.Context, path string, kind outputKind) error {
	if path == "-" {
		return nil
	}
	for _, p := range protectedFiles(c) {
		if cliutil.SameFile(path, p.path) {
			return cliutil.WithHint(fmt.Errorf("-o %s is %s: refusing to overwrite it", path, p.what), cliutil.ExitUsage,
				"write the "+kind.what+" to another file")
		}
	}
	if _, ok := descriptorPath(path); ok || safefile.IsStream(path) {
		return nil
	}
	f, err := safefile.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return cliutil.Usagef("-o %s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	head, _ := io.ReadAll(io.LimitReader(f, int64(len(kind.header))+64))
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) == 0 || bytes.HasPrefix(head, []byte(kind.header)) || c.Bool("force") {
		return nil
	}
	return cliutil.WithHint(fmt.Errorf("-o %s exists and is not a %s: refusing to replace it", path, kind.what), cliutil.ExitUsage,
		"choose another file, or replace it anyway with --force")
}

// signingFromLedger checks -o, then loads the vendor key and opens the
// ledger: what a command that signs a file from the ledger needs. -o
// comes first so that a refused output asks for no passphrase. The
// caller closes the ledger.
func signingFromLedger(c *cli.Context, kind outputKind, access ledgerAccess) (*signer.Keys, *ledger.Ledger, error) {
	if err := checkOutput(c, c.String("output"), kind); err != nil {
		return nil, nil, err
	}
	k, err := loadKeys(c)
	if err != nil {
		return nil, nil, err
	}
	l, err := openLedger(c, access)
	if err != nil {
		return nil, nil, err
	}
	return k, l, nil
}

type protected struct{ path, what string }

// protectedFiles lists the files -o must never name: the vendor key's
// files and the ledger's.
func protectedFiles(c *cli.Context) []protected {
	var ps []protected
	for _, id := range []string{c.String("identity"), os.Getenv("OLR_VENDOR_KEY")} {
		if id == "" || id == "-" {
			continue
		}
		ps = append(ps,
			protected{id, "the vendor key"},
			protected{signer.SigningPath(id), "the vendor's signing key"},
			protected{signer.RecipientPath(id), "the vendor's recipient file"},
			protected{signer.TrustPath(id), "the vendor's trust bundle"})
	}
	if t := c.String("trust"); t != "" {
		ps = append(ps, protected{t, "the trust bundle"})
	}
	if l, err := ledgerPath(c); err == nil {
		ps = append(ps, protected{l, "the ledger"}, protected{l + "-wal", "the ledger's log"}, protected{l + "-shm", "the ledger's index"})
	}
	return ps
}

var procFD = regexp.MustCompile(`^/proc/self/fd/([0-9]+)$|^/dev/fd/([0-9]+)$`)

// descriptorPath reports whether path names one of this process's open
// descriptors, and which: what a shell passes for a redirection or a
// process substitution. Writing through the descriptor keeps the
// redirection's meaning (appending, a pipe); renaming over the file it
// names would not.
func descriptorPath(path string) (int, bool) {
	switch filepath.Clean(path) {
	case "/dev/stdout":
		return 1, true
	case "/dev/stderr":
		return 2, true
	}
	m := procFD.FindStringSubmatch(filepath.Clean(path))
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1] + m[2])
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
