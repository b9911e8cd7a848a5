package signcli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
	"github.com/olr-dev/olr/signer/tpmbind"
)

// The TPM binding's flags: issue takes all three, inspect the roots.
var (
	tpmBindFlag = &cli.StringFlag{Name: "tpm-bind", Value: string(tpmbind.Prefer),
		Usage: "bind the license to the machine's TPM: `MODE` require (refuse without an EK to bind to), prefer (bind when the request carries an attested EK) or off"}
	ekRootsFlag = &cli.StringSliceFlag{Name: "ek-roots", EnvVars: []string{"OLR_EK_ROOTS"},
		DefaultText: defaultEKRootsHint + ", when present",
		Usage:       "PEM `FILE` of TPM manufacturer CA certificates (roots and intermediates) that attest endorsement keys; repeatable"}
	allowUnattestedFlag = &cli.BoolFlag{Name: "allow-unattested-ek",
		Usage: "bind to an endorsement key without a certificate that chains to --ek-roots (it may be a software TPM, whose state can be copied); the ledger records it as unattested"}
)

const defaultEKRootsHint = "$XDG_CONFIG_HOME/olr/ek-roots.pem, else ~/.config/olr/ek-roots.pem"

// defaultEKRoots is where olr-sign looks for TPM manufacturer CAs when
// --ek-roots is not given.
func defaultEKRoots() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "olr", "ek-roots.pem")
}

// ekRoots reads --ek-roots, or the default file when present. A file
// named on the command line must exist.
func ekRoots(c *cli.Context) (*tpmbind.Roots, error) {
	files := c.StringSlice("ek-roots")
	explicit := len(files) > 0
	if !explicit {
		def := defaultEKRoots()
		if def == "" {
			return nil, nil
		}
		if _, err := os.Stat(def); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		files = []string{def}
	}
	roots := &tpmbind.Roots{}
	for _, f := range files {
		data, err := cliutil.ReadInput(f, "TPM manufacturer CA file", 16<<20)
		if err != nil {
			return nil, err
		}
		if err := roots.ParseRoots(f, data); err != nil {
			return nil, cliutil.Usagef("--ek-roots: %v", err)
		}
	}
	if roots.Count == 0 {
		return nil, cliutil.Usagef("--ek-roots: %v holds no self-signed root certificate, only intermediates", files)
	}
	return roots, nil
}

// tpmPolicy reads the TPM binding flags.
func tpmPolicy(c *cli.Context) (tpmbind.Policy, error) {
	mode, err := tpmbind.ParseMode(c.String("tpm-bind"))
	if err != nil {
		return tpmbind.Policy{}, cliutil.Usagef("--tpm-bind: %v", err)
	}
	roots, err := ekRoots(c)
	if err != nil {
		return tpmbind.Policy{}, err
	}
	return tpmbind.Policy{Mode: mode, Roots: roots, AllowUnattested: c.Bool("allow-unattested-ek")}, nil
}

// tpmIssueNote says what a license's TPM binding is, for the line issue
// prints, and warns about an unattested one.
func tpmIssueNote(l *olr.License, rec *signer.TPMRecord) string {
	if l.TPM == nil {
		return ""
	}
	if rec == nil {
		return fmt.Sprintf(", bound to the TPM's %s EK", l.TPM.EKKind)
	}
	if rec.Attestation != tpmbind.Attested {
		fmt.Fprintf(os.Stderr, "olr-sign: warning: the %s EK has no verified manufacturer certificate: it may be a software TPM, whose state can be copied\n", rec.EKKind)
	}
	return fmt.Sprintf(", bound to the TPM's %s EK (%s)", rec.EKKind, rec.Attestation)
}

// printTPM shows a request's TPM: each EK with its certificate and
// attestation against the roots.
func printTPM(r *olr.Request, roots *tpmbind.Roots) {
	if r.TPM == nil {
		return
	}
	if r.TPM.Manufacturer != "" {
		fmt.Printf("tpm:       manufacturer %s, %d endorsement keys, %d chain certificates\n", safetext.Field(r.TPM.Manufacturer), len(r.TPM.EKs), len(r.TPM.Chain))
	}
	for _, e := range r.TPM.EKs {
		ek, err := tpmbind.CheckEK(e.Kind, e.Public, e.Cert, r.TPM.Chain, roots, time.Now())
		if err != nil {
			fmt.Printf("tpm ek:    %s EK, refused: %v\n", e.Kind, err)
			continue
		}
		fmt.Printf("tpm ek:    %s\n", signer.DescribeEK(ek, r.TPM.Manufacturer))
	}
}
