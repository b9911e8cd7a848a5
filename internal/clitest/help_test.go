package clitest

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/olrcli"
	"github.com/olr-dev/olr/internal/signcli"
)

// TestHelpEveryCommand runs --help (and -h) on every command and
// subcommand of both binaries, found by walking the applications, so that
// a command added later is covered too: exit 0, its usage on stdout,
// nothing on stderr.
func TestHelpEveryCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := 0
	for _, app := range []*cli.App{olrcli.NewApp(), signcli.NewApp()} {
		var walk func(path []string, cmds []*cli.Command)
		walk = func(path []string, cmds []*cli.Command) {
			for _, c := range cmds {
				if c.Hidden {
					continue
				}
				p := append(append([]string{}, path...), c.Name)
				n++
				for _, flag := range []string{"--help", "-h"} {
					r := run(t, dir, app.Name, append(p, flag)...)
					name := app.Name + " " + strings.Join(p, " ") + " " + flag
					if r.code != 0 {
						t.Errorf("%s: exit %d\n%s", name, r.code, r.stderr)
					}
					if r.stderr != "" {
						t.Errorf("%s: stderr:\n%s", name, r.stderr)
					}
					if !strings.Contains(r.stdout, c.Name) || !strings.Contains(r.stdout, "USAGE") {
						t.Errorf("%s: no usage on stdout:\n%s", name, r.stdout)
					}
				}
				walk(p, c.Subcommands)
			}
		}
		r := run(t, dir, app.Name, "--help")
		if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "COMMANDS") {
			t.Errorf("%s --help: exit %d\n%s%s", app.Name, r.code, r.stdout, r.stderr)
		}
		walk(nil, app.Commands)
	}
	if n < 10 {
		t.Errorf("found only %d commands", n)
	}
	t.Logf("%d commands", n)
}
