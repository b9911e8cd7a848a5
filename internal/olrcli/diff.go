package olrcli

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/olr"
)

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare this machine (or --root) with a license.olr or a saved fingerprint, or two saved fingerprints",
		ArgsUsage: "license.olr|saved.json [other.json]",
		Description: "Shows per factor: matched, changed, missing or new, the score against the threshold,\n" +
			"and which factors matching again would make it pass. Saved fingerprints are the output of\n" +
			"olr fingerprint --json. A license is compared under its own signed match policy (its\n" +
			"signature is checked when --trust is given); fingerprints under the default policy.",
		Flags: []cli.Flag{trustFlag, tpmFlag, rootFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return cliutil.BadArgs(c, "diff takes a license or saved fingerprint, and optionally a second saved fingerprint")
			}
			base, err := readDiffBase(c, c.Args().Get(0))
			if err != nil {
				return err
			}
			var now *fingerprint.Fingerprint
			if c.NArg() == 2 {
				if now, err = readSavedFingerprint(c.Args().Get(1)); err != nil {
					return err
				}
			} else {
				m, err := collect(c)
				if err != nil {
					return err
				}
				defer m.Close()
				now = m.Fingerprint
			}
			r := base.binding.Match(now)
			if c.Bool("json") {
				return cliutil.PrintJSON(struct {
					*fingerprint.Report
					Remedy []fingerprint.KindResult `json:"remedy,omitempty"`
				}{r, r.Remedy()})
			}
			fmt.Printf("comparing with %s\n", base.what)
			printReport(os.Stdout, r, base.values)
			if !r.Pass {
				return cliutil.Refusedf("the machine does not match %s", c.Args().Get(0))
			}
			return nil
		},
	}
}

// diffBase is what a machine is compared with: a binding, and for a saved
// fingerprint the raw values behind its hashes, so that changed and
// missing factors can be shown by value.
type diffBase struct {
	what    string
	binding fingerprint.Binding
	values  map[fingerprint.Hash]string
}

func readDiffBase(c *cli.Context, path string) (*diffBase, error) {
	data, err := cliutil.ReadInput(path, "license or saved fingerprint", olr.MaxRequestSize)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(data, []byte("-----BEGIN OLR LICENSE-----")) {
		var l *olr.License
		what := "license %s (%s)"
		if c.IsSet("trust") {
			trust, _, err := loadTrust(c, nil)
			if err != nil {
				return nil, err
			}
			l, err = olr.ParseLicense(data, trust)
			if err != nil {
				return nil, cliutil.Code(fmt.Errorf("%s: %w", path, err), cliutil.ExitRefused)
			}
		} else {
			if l, err = olr.ParseLicenseUnauthenticated(data); err != nil {
				return nil, cliutil.Usagef("%s: %v", path, err)
			}
			what += ", signature not checked: give --trust to check it"
		}
		return &diffBase{what: fmt.Sprintf(what, path, l.Licensee), binding: l.Binding}, nil
	}
	fp, err := parseSavedFingerprint(path, data)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, fingerprint.SaltSize)
	rand.Read(salt)
	b, err := fingerprint.Bind(fp, salt, fingerprint.DefaultPolicy())
	if err != nil {
		return nil, cliutil.Usagef("%s: %v", path, err)
	}
	values := map[fingerprint.Hash]string{}
	for _, f := range fp.Factors {
		values[fingerprint.HashFactor(salt, f.Kind, f.Value)] = f.Value
	}
	return &diffBase{what: "saved fingerprint " + path + " (default policy)", binding: b, values: values}, nil
}

func readSavedFingerprint(path string) (*fingerprint.Fingerprint, error) {
	data, err := cliutil.ReadInput(path, "saved fingerprint", olr.MaxRequestSize)
	if err != nil {
		return nil, err
	}
	return parseSavedFingerprint(path, data)
}

// parseSavedFingerprint reads `olr fingerprint --json` output strictly,
// normalising values again so a hand-edited file cannot smuggle in a
// placeholder.
func parseSavedFingerprint(path string, data []byte) (*fingerprint.Fingerprint, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var saved savedFingerprint // the TPM details, if any, play no part in a match
	if err := dec.Decode(&saved); err != nil {
		return nil, cliutil.Usagef("%s: not a saved fingerprint (olr fingerprint --json): %v", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, cliutil.Usagef("%s: trailing data after the fingerprint", path)
	}
	fp := &saved.Fingerprint
	clean := &fingerprint.Fingerprint{Machine: fp.Machine}
	for i, f := range fp.Factors {
		notes := len(clean.Notes)
		if !clean.Add(f.Kind, f.Value, f.Source, f.Removable) && len(clean.Notes) > notes {
			return nil, cliutil.Usagef("%s: factor %d: %s", path, i+1, clean.Notes[notes])
		}
	}
	if len(clean.Factors) == 0 {
		return nil, cliutil.Usagef("%s: the fingerprint holds no factor", path)
	}
	return clean, nil
}
