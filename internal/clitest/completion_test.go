package clitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/internal/olrcli"
	"github.com/olr-dev/olr/internal/signcli"
)

// TestCompletionAndManPages: both binaries print completion scripts for
// bash, zsh and fish and a manual page, made from their own commands;
// the bash script, run by bash against the real binary, completes
// commands, subcommands and flags.
func TestCompletionAndManPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct {
		prog     string
		commands []*cli.Command
		complete map[string]string // words typed (the last one being completed) -> a candidate
	}{
		{"olr", olrcli.NewApp().Commands, map[string]string{"ver": "verify", "request --lic": "--licensee", "": "fingerprint"}},
		{"olr-sign", signcli.NewApp().Commands, map[string]string{"is": "issue", "issue --gr": "--grace-days", "ledger ": "anchor", "keys im": "import"}},
	} {
		t.Run(tt.prog, func(t *testing.T) {
			man := mustRun(t, dir, tt.prog, "man").stdout
			if !strings.Contains(man, ".TH "+tt.prog+" 1") || !strings.Contains(man, ".SH NAME") {
				t.Errorf("man page header:\n%.300s", man)
			}
			for _, c := range tt.commands {
				if !c.Hidden && !strings.Contains(man, c.Name) {
					t.Errorf("the man page does not name command %s", c.Name)
				}
			}
			zsh := mustRun(t, dir, tt.prog, "completion", "zsh").stdout
			if !strings.HasPrefix(zsh, "#compdef "+tt.prog+"\n") {
				t.Errorf("zsh script:\n%s", zsh)
			}
			fish := mustRun(t, dir, tt.prog, "completion", "fish").stdout
			if !strings.Contains(fish, "complete -c "+tt.prog) || !strings.Contains(fish, "verify") {
				t.Errorf("fish script:\n%.500s", fish)
			}
			if r := run(t, dir, tt.prog, "completion", "tcsh"); r.code != 2 || !strings.Contains(r.stderr, `no completion for shell "tcsh"`) {
				t.Errorf("an unknown shell: %v", r)
			}

			bashScript := mustRun(t, dir, tt.prog, "completion", "bash").stdout
			bash, err := exec.LookPath("bash")
			if err != nil {
				t.Skip("no bash to run the completion script")
			}
			fn := "_" + strings.ReplaceAll(tt.prog, "-", "_") + "_complete"
			script := filepath.Join(dir, tt.prog+".bash")
			writeFile(t, script, bashScript)
			for typed, want := range tt.complete {
				words := append([]string{tt.prog}, strings.Split(typed, " ")...)
				quoted := make([]string, len(words))
				for i, w := range words {
					quoted[i] = "'" + w + "'"
				}
				r := run(t, dir, bash, "-c", "source "+script+"; COMP_WORDS=("+strings.Join(quoted, " ")+"); COMP_CWORD="+
					strconv.Itoa(len(words)-1)+"; "+fn+`; printf '%s\n' "${COMPREPLY[@]}"`)
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(r.stdout) {
					t.Errorf("%s %q: candidates %q, want %s among them (%s)", tt.prog, typed, r.stdout, want, r.stderr)
				}
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
