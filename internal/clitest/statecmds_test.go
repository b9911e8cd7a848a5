package clitest

import (
	"encoding/json"
	"os"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdSetTime sets a time field of a JSON file to the present moment plus
// an offset, as a check made with another clock would have recorded it,
// and puts the value in an environment variable: settime FILE KEY OFFSET
// VAR (settime state/state.json last_seen 20h SEEN).
func cmdSetTime(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: settime FILE KEY OFFSET VAR")
	}
	d, err := time.ParseDuration(args[2])
	ts.Check(err)
	path := ts.MkAbs(args[0])
	var doc map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &doc))
	v := time.Now().Add(d).UTC().Truncate(time.Second).Format(time.RFC3339)
	doc[args[1]] = v
	data, err := json.MarshalIndent(doc, "", "  ")
	ts.Check(err)
	ts.Check(os.WriteFile(path, append(data, '\n'), 0o600))
	ts.Setenv(args[3], v)
}

// cmdMkfifo makes a named pipe: mkfifo FILE.
func cmdMkfifo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mkfifo FILE")
	}
	ts.Check(syscall.Mkfifo(ts.MkAbs(args[0]), 0o600))
}
