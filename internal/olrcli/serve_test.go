package olrcli

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/olr/page"
)

// TestAlertHookDoesNotBlock: an --on-alert command that hangs holds up
// neither the check that raised the alert nor the ones after it, and the
// alerts it has not taken yet wait for it, in order.
func TestAlertHookDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "alerts")
	var logs bytes.Buffer
	// The first alert's command hangs for a while; a hook that ran it in
	// the caller's goroutine would block the second Alert call for as long.
	h := newAlertHook(`read line; case "$line" in *first*) sleep 3;; esac; echo "$line" >> `+out,
		slog.New(slog.NewTextHandler(&logs, nil)))
	returned := make(chan struct{})
	go func() {
		h.Alert(context.Background(), page.Alert{Event: page.AlertInvalid, Message: "first"})
		h.Alert(context.Background(), page.Alert{Event: page.AlertGrace, Message: "second"})
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(2 * time.Second):
		t.Fatal("Alert waited for the command")
	}
	h.Close(30 * time.Second)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"first"`) || !strings.Contains(lines[1], `"second"`) {
		t.Fatalf("the command saw:\n%s", data)
	}
	// After Close, an alert is logged, never sent on the closed queue.
	h.Alert(context.Background(), page.Alert{Event: page.AlertInvalid, Message: "late"})
	if !strings.Contains(logs.String(), "stopping") {
		t.Fatalf("late alert not logged: %s", logs.String())
	}
}

// TestRemoveStaleSocket: olr serve --listen unix:PATH replaces a socket
// left by an earlier run, and never a file of another kind.
func TestRemoveStaleSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "page.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no unix sockets here: %v", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	removeStaleSocket(sock)
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Fatalf("stale socket still there: %v", err)
	}
	key := filepath.Join(dir, "vendor.key")
	if err := os.WriteFile(key, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	removeStaleSocket(key)
	if _, err := os.Stat(key); err != nil {
		t.Fatalf("a regular file at the socket path was removed: %v", err)
	}
}

// A command's standard error is kept up to its first maxAlertStderr
// bytes, however much it writes.
func TestHeadWriter(t *testing.T) {
	w := &headWriter{max: 10}
	for range 3 {
		if n, err := w.Write([]byte("0123456")); n != 7 || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	if got := w.buf.String(); got != "0123456012" {
		t.Fatalf("kept %q", got)
	}
}
