package clitest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/olrcli"
)

// TestHelpOneDefault checks every flag of every olr command: its help line
// shows at most one default, in the "(default: ...)" form, and --state
// shows the one directory that applies in the environment it runs in.
func TestHelpOneDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wantState := "/var/lib/olr"
	if os.Geteuid() != 0 {
		wantState = filepath.Join(dir, ".local", "state", "olr") // run sets HOME=dir
	}
	defaultRE := regexp.MustCompile(`(?i)\bdefault`)
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(append([]string{}, path...), c.Name)
			r := run(t, dir, "olr", append(p, "--help")...)
			for _, line := range strings.Split(r.stdout, "\n") {
				line = strings.TrimSpace(line)
				if !strings.HasPrefix(line, "--") {
					continue
				}
				name := "olr " + strings.Join(p, " ") + ": " + strings.Fields(line)[0]
				switch n := len(defaultRE.FindAllString(line, -1)); {
				case n > 1:
					t.Errorf("%s shows %d defaults: %s", name, n, line)
				case n == 1 && !strings.Contains(line, "(default: "):
					t.Errorf("%s shows its default in another form: %s", name, line)
				}
				if strings.HasPrefix(line, "--state ") && !strings.Contains(line, "(default: "+wantState+")") {
					t.Errorf("%s: want the default %s: %s", name, wantState, line)
				}
			}
			walk(p, c.Subcommands)
		}
	}
	walk(nil, olrcli.NewApp().Commands)
}
