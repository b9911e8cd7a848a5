// Package cliutil holds what both olr command-line tools share: exit
// codes, error reporting in the age style, bounded input reading and
// atomic output.
package cliutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/internal/safetext"
	"github.com/urfave/cli/v2"
)

// Exit codes shared by both tools.
const (
	ExitOK      = 0
	ExitRefused = 1 // a verification failure or a policy refusal
	ExitUsage   = 2 // a usage error, or unreadable / malformed input
)

// Error is an error with an exit code and an optional hint.
type Error struct {
	Code int
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Usagef returns an exit-2 error.
func Usagef(format string, a ...any) error {
	return &Error{Code: ExitUsage, Err: fmt.Errorf(format, a...)}
}

// Refusedf returns an exit-1 error.
func Refusedf(format string, a ...any) error {
	return &Error{Code: ExitRefused, Err: fmt.Errorf(format, a...)}
}

// WithHint adds a hint line to err.
func WithHint(err error, code int, hint string) error {
	return &Error{Code: code, Err: err, Hint: hint}
}

// Code wraps err with an exit code.
func Code(err error, code int) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Run runs app and exits the process with the right code, printing errors
// as "name: error: ..." and hints as "name: hint: ...".
func Run(app *cli.App, args []string) {
	os.Exit(RunCode(app, args, os.Stderr))
}

// RunCode runs app and returns the exit code. Help text that urfave/cli
// prints on a usage error is dropped, so that stdout stays empty for
// callers that parse it; the error itself goes to stderr.
func RunCode(app *cli.App, args []string, stderr io.Writer) int {
	name := app.Name
	app.ExitErrHandler = func(*cli.Context, error) {}
	onUsage := func(c *cli.Context, err error, _ bool) error { return Usagef("%v", err) }
	app.OnUsageError = onUsage
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			c.OnUsageError = onUsage
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
	if app.Action == nil {
		app.Action = func(c *cli.Context) error {
			if c.NArg() > 0 {
				return WithHint(fmt.Errorf("unknown command %q", c.Args().First()), ExitUsage, "run "+name+" --help for the commands")
			}
			return cli.ShowAppHelp(c)
		}
	}
	if app.Version == "" {
		app.Version = Version()
	}
	var help bytes.Buffer
	out := app.Writer
	if out == nil {
		out = os.Stdout
	}
	app.Writer = &help
	err := app.Run(Interspersed(app, args))
	if err == nil {
		out.Write(help.Bytes())
		return ExitOK
	}
	code := ExitUsage
	var e *Error
	var ec cli.ExitCoder
	switch {
	case errors.As(err, &e):
		code = e.Code
	case errors.As(err, &ec):
		code = ec.ExitCode()
	}
	msg := lowerUsage(err.Error())
	if msg != "" {
		// Each line sanitised: a message may carry text from a file
		// that nobody quoted, and must not act on the terminal.
		for _, line := range strings.Split(msg, "\n") {
			fmt.Fprintf(stderr, "%s: error: %s\n", name, safetext.Sanitize(line))
		}
	}
	if e != nil && e.Hint != "" {
		fmt.Fprintf(stderr, "%s: hint: %s\n", name, safetext.Sanitize(e.Hint))
	}
	return code
}

// Version returns the module version from the build info.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// ReadInput reads path ("-" for standard input), at most limit bytes. The
// error names the file; what is named "what" (a license, a request) says
// what the file should have been.
func ReadInput(path, what string, limit int64) ([]byte, error) {
	var r io.Reader
	name := path
	if path == "-" {
		r, name = os.Stdin, "standard input"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, Usagef("cannot read %s %s: %v", what, path, unwrapPathError(err))
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return nil, Usagef("cannot read %s %s: it is a directory", what, path)
		}
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, Usagef("cannot read %s %s: %v", what, name, err)
	}
	if int64(len(data)) > limit {
		return nil, Usagef("%s %s is too large (more than %d bytes): is it the right file?", what, name, limit)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Usagef("%s %s is empty", what, name)
	}
	return data, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// WriteOutput writes data to path ("-" for standard output) atomically:
// the file appears whole or not at all.
func WriteOutput(path string, data []byte, perm os.FileMode) error {
	if path == "-" || path == "" {
		_, err := os.Stdout.Write(data)
		return err
	}
	if err := safefile.WriteFile(path, data, perm); err != nil {
		return Usagef("cannot write %s: %v", path, unwrapPathError(err))
	}
	return nil
}

// SameFile reports whether two paths name the same existing file, so that
// a command does not overwrite its own input.
func SameFile(a, b string) bool {
	if a == "-" || b == "-" {
		return false
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	if err1 == nil && err2 == nil {
		return os.SameFile(fa, fb)
	}
	aa, _ := filepath.Abs(a)
	bb, _ := filepath.Abs(b)
	return aa == bb
}

// BadArgs reports wrong positional arguments, with a hint when one of
// them looks like a flag the command does not know.
func BadArgs(c *cli.Context, format string, a ...any) error {
	for _, arg := range c.Args().Slice() {
		if strings.HasPrefix(arg, "-") && arg != "-" {
			return WithHint(fmt.Errorf(format, a...), ExitUsage, fmt.Sprintf("%s is not a flag of this command; see --help", arg))
		}
	}
	return Usagef(format, a...)
}

var requiredRE = regexp.MustCompile(`^Required flags? "(.*)" not set$`)

// lowerUsage rewrites urfave/cli's capitalised "Required flag" message in
// the tools' own style: "missing required flag --vendor".
func lowerUsage(msg string) string {
	m := requiredRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	names := strings.Split(m[1], ", ")
	for i, n := range names {
		if len(n) == 1 {
			names[i] = "-" + n
		} else {
			names[i] = "--" + n
		}
	}
	if len(names) == 1 {
		return "missing required flag " + names[0]
	}
	return "missing required flags " + strings.Join(names, ", ")
}

// PrintJSON writes v to standard output as indented JSON: the --json form
// of both tools.
func PrintJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
