package clitest

import (
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/olr-dev/olr/fingerprint/tpm/tpmtest"
)

// scriptT lets package tpmtest run swtpm for a script.
type scriptT struct{ ts *testscript.TestScript }

func (s scriptT) Helper()                           {}
func (s scriptT) Fatalf(format string, args ...any) { s.ts.Fatalf(format, args...) }
func (s scriptT) Skipf(format string, args ...any)  { s.ts.Fatalf("cannot run swtpm: "+format, args...) }
func (s scriptT) Cleanup(f func())                  { s.ts.Defer(f) }

// swtpmTools are what the swtpm command needs (.ci/setup installs them).
var swtpmTools = []string{"swtpm", "swtpm_setup", "swtpm_localca"}

// haveSWTPM is the [swtpm] condition: true with the tools; an error under
// CI=true without them, so that CI cannot pass without running them.
func haveSWTPM() (bool, error) {
	for _, name := range swtpmTools {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("CI") == "true" {
				return false, err
			}
			return false, nil
		}
	}
	return true, nil
}

// scriptCAs holds each script's local CA, the TPM manufacturer of its
// swtpms.
var scriptCAs sync.Map // *testscript.TestScript -> *tpmtest.CA

// cmdSWTPM runs software TPMs for a script:
//
//	swtpm make NAME    manufacture $WORK/tpm-NAME with EK certificates from
//	                   the script's local CA; sets EK_ROOTS to its PEM bundle
//	swtpm start NAME   run it; sets TPM_NAME (upper case) to mssim:HOST:PORT
//	swtpm stop NAME    end it (its state stays)
//
// Every swtpm is stopped when the script ends.
func cmdSWTPM(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: swtpm make|start|stop NAME")
	}
	t := scriptT{ts}
	dir := ts.MkAbs("tpm-" + args[1])
	env := "TPM_" + strings.ToUpper(args[1])
	switch args[0] {
	case "make":
		v, _ := scriptCAs.LoadOrStore(ts, tpmtest.NewCAIn(t, ts.MkAbs("ek-ca")))
		ca := v.(*tpmtest.CA)
		ts.Defer(func() { scriptCAs.Delete(ts) })
		ca.Manufacture(t, dir)
		ts.Setenv("EK_ROOTS", ca.Bundle)
	case "start":
		s := tpmtest.Start(t, dir)
		ts.Setenv(env, s.Spec)
		stops.Store(dir, s)
	case "stop":
		v, ok := stops.LoadAndDelete(dir)
		if !ok {
			ts.Fatalf("swtpm %s is not running", args[1])
		}
		v.(*tpmtest.SWTPM).Stop()
	default:
		ts.Fatalf("usage: swtpm make|start|stop NAME")
	}
}

// stops holds the running swtpms by state directory.
var stops sync.Map
