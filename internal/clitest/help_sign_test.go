package clitest

import (
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/signcli"
)

// TestSignHelpOneDefault checks every flag of every olr-sign command, as
// TestHelpOneDefault does olr's: its help line shows at most one
// default, in the "(default: ...)" form.
func TestSignHelpOneDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	defaultRE := regexp.MustCompile(`(?i)\bdefault`)
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(append([]string{}, path...), c.Name)
			r := run(t, dir, "olr-sign", append(p, "--help")...)
			for _, line := range strings.Split(r.stdout, "\n") {
				line = strings.TrimSpace(line)
				if !strings.HasPrefix(line, "--") {
					continue
				}
				name := "olr-sign " + strings.Join(p, " ") + ": " + strings.Fields(line)[0]
				switch n := len(defaultRE.FindAllString(line, -1)); {
				case n > 1:
					t.Errorf("%s shows %d defaults: %s", name, n, line)
				case n == 1 && !strings.Contains(line, "(default: "):
					t.Errorf("%s shows its default in another form: %s", name, line)
				}
			}
			walk(p, c.Subcommands)
		}
	}
	walk(nil, signcli.NewApp().Commands)
}
