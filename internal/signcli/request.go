package signcli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer"
)

func loadKeys(c *cli.Context) (*signer.Keys, error) {
	path := c.String("identity")
	k, err := signer.LoadKeys(path, func() (string, error) {
		return cliutil.Passphrase("Passphrase for "+path+": ", false)
	})
	var ce *cliutil.Error
	if errors.As(err, &ce) {
		return nil, err
	}
	if err != nil {
		return nil, cliutil.Usagef("cannot load vendor key: %v", err)
	}
	return k, nil
}

func readRequest(c *cli.Context, k *signer.Keys) (*olr.Request, string, error) {
	if c.NArg() != 1 {
		return nil, "", cliutil.BadArgs(c, "%s takes one request file (- for standard input)", c.Command.Name)
	}
	path := c.Args().First()
	data, err := cliutil.ReadInput(path, "request", olr.MaxRequestSize)
	if err != nil {
		return nil, path, err
	}
	data, partsID, err := joinParts(path, data)
	if err != nil {
		return nil, path, err
	}
	req, err := olr.DecryptRequest(data, []age.Identity{k.Identity})
	if errors.Is(err, olr.ErrWrongVendorKey) {
		return nil, path, cliutil.WithHint(fmt.Errorf("%s: %w", path, err), cliutil.ExitUsage,
			"the machine used another vendor recipient; check which key its --vendor named")
	}
	if err != nil {
		return nil, path, cliutil.Usagef("%s: %v", path, err)
	}
	if err := checkPartsID(path, partsID, req); err != nil {
		return nil, path, err
	}
	return req, path, nil
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "decrypt and show an activation request",
		ArgsUsage: "req.olr",
		Flags:     []cli.Flag{identityFlag, ekRootsFlag, &cli.BoolFlag{Name: "json", Usage: "print the decrypted request as JSON"}},
		Action: func(c *cli.Context) error {
			roots, err := ekRoots(c)
			if err != nil {
				return err
			}
			k, err := loadKeys(c)
			if err != nil {
				return err
			}
			req, _, err := readRequest(c, k)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return cliutil.PrintJSON(req)
			}
			printRequest(req)
			printTPM(req, roots)
			return nil
		},
	}
}

// printRequest shows a request. Everything in it came from the
// customer's machine: each text is shown with safetext.Field (quoted
// unless plainly harmless), so that no escape sequence, bidirectional or
// zero-width character reaches the terminal as such, and no value floods
// it.
func printRequest(r *olr.Request) {
	q := safetext.Field
	fmt.Printf("request:   %s\n", q(r.ID))
	fmt.Printf("created:   %s\n", q(r.Created))
	fmt.Printf("product:   %s\n", q(r.Product))
	fmt.Printf("licensee:  %s\n", q(r.Licensee))
	fmt.Printf("key:       %s\n", q(r.LicenseKey))
	fmt.Printf("hostname:  %s\n", q(r.Hostname))
	fmt.Printf("tool:      %s\n", q(r.Tool))
	m := r.Fingerprint.Machine
	kind := m.Class
	if !slices.Contains(machineClasses, kind) {
		kind = q(kind)
	}
	if m.Detail != "" {
		kind += " (" + q(m.Detail) + ")"
	}
	fmt.Printf("machine:   %s\n", kind)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSTABILITY\tVALUE\tSOURCE")
	for _, f := range r.Fingerprint.Factors {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", kindText(f.Kind), f.Kind.Stability(), q(f.Value), q(f.Source))
	}
	tw.Flush()
	for _, n := range r.Fingerprint.Notes {
		fmt.Printf("note: %s\n", q(n))
	}
}

// machineClasses are the machine classes a request may name: shown as
// they are, since olr defines them; anything else is quoted.
var machineClasses = []string{fingerprint.ClassBareMetal, fingerprint.ClassVM, fingerprint.ClassContainer, fingerprint.ClassUnknown}

// kindText shows a factor kind: as it is when olr defines it, else
// quoted.
func kindText(k fingerprint.Kind) string {
	if k.Known() {
		return string(k)
	}
	return safetext.Quote(string(k))
}
