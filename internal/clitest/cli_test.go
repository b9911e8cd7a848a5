package clitest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/olr-dev/olr/internal/olrcli"
	"github.com/olr-dev/olr/internal/signcli"
)

// TestMain makes the test binary double as olr and olr-sign: testscript
// puts copies named after the commands first in $PATH, so that scripts,
// and the Go tests through exec.LookPath, run the real commands as
// subprocesses.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		// OLRTEST_MACHINE names a host tree that stands in for this
		// machine, for the commands that read only this machine.
		"olr":      func() { olrcli.MainOn(os.Getenv("OLRTEST_MACHINE")) },
		"olr-sign": signcli.Main,
		// the README's product code (product_test.go)
		"product": productMain,
	})
}

// fixtures is the directory of the sysfs-like host trees.
var fixtures = filepath.Join("..", "..", "fingerprint", "host", "testdata")

func TestScript(t *testing.T) {
	testscript.Run(t, scriptParams(t, "testdata/script"))
}

func scriptParams(t *testing.T, dir string) testscript.Params {
	hosts, err := filepath.Abs(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(hosts, "baremetal")); err != nil {
		t.Fatalf("host fixtures missing: %v", err)
	}
	return testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: false,
		Setup: func(env *testscript.Env) error {
			env.Setenv("OLR_STATE", filepath.Join(env.WorkDir, "state"))
			env.Setenv("OLR_TPM", "none")
			env.Setenv("HOSTS", hosts)
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "pty":
				// a pseudo-terminal for ttyin
				f, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
				if err != nil {
					return false, nil
				}
				f.Close()
				return true, nil
			case "swtpm":
				return haveSWTPM()
			case "cgo":
				// the test binary, hence olr, was built with cgo
				if bi, ok := debug.ReadBuildInfo(); ok {
					for _, s := range bi.Settings {
						if s.Key == "CGO_ENABLED" {
							return s.Value == "1", nil
						}
					}
				}
				return false, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exit":     cmdExit,
			"host":     cmdHost,
			"hostset":  cmdHostSet,
			"json":     cmdJSON,
			"perm":     cmdPerm,
			"sleep":    cmdSleep,
			"mkfile":   cmdMkfile,
			"mkfifo":   cmdMkfifo,
			"settime":  cmdSetTime,
			"noleak":   cmdNoLeak,
			"truncate": cmdTruncate,
			"swtpm":    cmdSWTPM,
		},
	}
}

// cmdExit runs a command and checks its exit code: exit CODE CMD ARGS...
// Its stdout and stderr can be checked after it as after exec. Whatever
// the code, a Go panic or stack trace on stderr fails the script, and so
// does a line of olr's or olr-sign's stderr without the program's prefix.
func cmdExit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exit CODE CMD ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	stderr := ts.ReadFile("stderr")
	if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
		ts.Fatalf("%s: a Go panic or stack trace on stderr", args[1])
	}
	// every line our commands write to stderr carries the program's name
	if prog := filepath.Base(args[1]); prog == "olr" || prog == "olr-sign" {
		for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
			if line != "" && !strings.HasPrefix(line, prog+": ") {
				ts.Fatalf("%s: a stderr line without the %q prefix: %q", prog, prog+": ", line)
			}
		}
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// cmdHost copies a fixture host tree: host NAME DIR. The copy keeps the
// tree's relative symbolic links, so it is read as the fixture is, and
// scripts may change it with hostset.
func cmdHost(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: host NAME DIR")
	}
	src := filepath.Join(ts.Getenv("HOSTS"), args[0])
	dst := ts.MkAbs(args[1])
	ts.Check(os.RemoveAll(dst))
	ts.Check(copyTree(src, dst))
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		default:
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(to, data, 0o644)
		}
	})
}

// cmdHostSet changes a host tree as drifting hardware would:
// hostset DIR FILE VALUE writes VALUE and a newline to DIR/FILE (through
// the tree's links, as sysfs is read), and hostset DIR FILE with a "!"
// before it removes the file.
func cmdHostSet(ts *testscript.TestScript, neg bool, args []string) {
	root := ts.MkAbs(args[0])
	if len(args) < 2 {
		ts.Fatalf("usage: hostset DIR FILE VALUE | ! hostset DIR FILE")
	}
	path := filepath.Join(root, filepath.FromSlash(args[1]))
	if neg {
		if len(args) != 2 {
			ts.Fatalf("usage: ! hostset DIR FILE")
		}
		ts.Check(os.Remove(path))
		return
	}
	if len(args) != 3 {
		ts.Fatalf("usage: hostset DIR FILE VALUE")
	}
	if _, err := os.Stat(path); err != nil {
		ts.Fatalf("hostset: %v (the fixture has no such file)", err)
	}
	ts.Check(os.WriteFile(path, []byte(args[2]+"\n"), 0o644))
}

// cmdJSON checks a JSON document: json FILE PATH [WANT]. FILE is a file
// or "stdout"; PATH is dotted (license.modules.obm, match.factors.0.kind).
// Without WANT it checks that the value exists; "! json FILE PATH" checks
// that it does not, and "! json FILE PATH WANT" that it differs.
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: json FILE PATH [WANT]")
	}
	var doc any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &doc); err != nil {
		ts.Fatalf("%s is not JSON: %v", args[0], err)
	}
	v, ok := jsonPath(doc, args[1])
	if len(args) == 2 {
		switch {
		case ok && neg:
			ts.Fatalf("%s: %s is present: %v", args[0], args[1], v)
		case !ok && !neg:
			ts.Fatalf("%s: no %s", args[0], args[1])
		}
		return
	}
	if !ok {
		if neg {
			return
		}
		ts.Fatalf("%s: no %s", args[0], args[1])
	}
	got := jsonString(v)
	if got == args[2] && neg {
		ts.Fatalf("%s: %s is %s", args[0], args[1], got)
	}
	if got != args[2] && !neg {
		ts.Fatalf("%s: %s is %s, want %s", args[0], args[1], got, args[2])
	}
}

func jsonPath(v any, path string) (any, bool) {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[p]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func jsonString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "null"
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

// cmdNoLeak checks that the last command's stdout and stderr hold no
// secret of the given key files: noleak FILE... A secret is any token of
// 24 characters or more outside comment lines, other than an age
// recipient (age1...), such as an AGE-SECRET-KEY line or a signing seed,
// nor any 12 characters of one past its well-known prefix.
func cmdNoLeak(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: noleak FILE...")
	}
	out := ts.ReadFile("stdout") + ts.ReadFile("stderr")
	for _, file := range args {
		n := 0
		for _, line := range strings.Split(ts.ReadFile(file), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			for _, tok := range strings.Fields(line) {
				if len(tok) < 24 || strings.HasPrefix(tok, "age1") {
					continue
				}
				n++
				if strings.Contains(out, tok) {
					ts.Fatalf("the output shows a secret of %s", file)
				}
				// A part of it is a leak too: any 12 characters past
				// the key's well-known prefix ("AGE-SECRET-KEY-").
				core := tok
				if i := strings.LastIndex(core, "-"); strings.HasPrefix(core, "AGE-") && i >= 0 {
					core = core[i+1:]
				}
				for i := 0; i+12 <= len(core); i++ {
					if strings.Contains(out, core[i:i+12]) {
						ts.Fatalf("the output shows part of a secret of %s: %q", file, core[i:i+12])
					}
				}
			}
		}
		if n == 0 {
			ts.Fatalf("noleak: %s holds no secret token", file)
		}
	}
}

// cmdPerm checks a file's permission bits: perm FILE 0600.
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm FILE MODE")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := fi.Mode().Perm()
	if (got == fs.FileMode(want)) == neg {
		ts.Fatalf("%s has mode %04o (want %s%04o)", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// cmdMkfile writes a test input: mkfile FILE SIZE KIND, where KIND is
// "random" (deterministic binary garbage), "nul", or a text to repeat.
func cmdMkfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: mkfile FILE SIZE KIND")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	data := make([]byte, n)
	switch args[2] {
	case "random":
		r := rand.NewChaCha8([32]byte{'o', 'l', 'r'})
		r.Read(data)
	case "nul":
	default:
		for i := range data {
			data[i] = args[2][i%len(args[2])]
		}
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), data, 0o644))
}

// cmdSleep waits: sleep DURATION (1.1s), for steps that must fall in
// different seconds of the clock.
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}

// cmdTruncate cuts a file to its first N bytes: truncate FILE N.
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE N")
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	ts.Check(os.Truncate(ts.MkAbs(args[0]), n))
}
