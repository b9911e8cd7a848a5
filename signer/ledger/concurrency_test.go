package ledger

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olr-dev/olr/internal/pgtest"
)

const raceRounds = 20

func TestMain(m *testing.M) {
	if os.Getenv("OLR_LEDGER_TEST_CHILD") == "race" {
		os.Exit(raceChild())
	}
	os.Exit(pgtest.Main(m))
}

// tryActivate is what the issuing policy does for a new machine: look
// for an active activation and record one if there is none.
func tryActivate(l *Ledger, key, who string) error {
	return l.Update(context.Background(), who, func(tx *Tx) error {
		if _, err := tx.ActiveActivation(key); err == nil {
			return ErrAlreadyActive
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		// Widen the window between the check and the write, where a
		// deferred transaction would let both racers through.
		time.Sleep(3 * time.Millisecond)
		a, lic := newActivation(key, who)
		return tx.Activate(a, lic)
	})
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "won"
	case errors.Is(err, ErrAlreadyActive):
		return "lost"
	default:
		return "error: " + err.Error()
	}
}

// raceChild is the body of a child process: it activates the key named
// on each line of stdin and answers "won" or "lost".
func raceChild() int {
	l, err := Open(os.Getenv("OLR_LEDGER_TEST_PATH"))
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	defer l.Close()
	who := os.Getenv("OLR_LEDGER_TEST_NAME")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Println(outcome(tryActivate(l, in.Text(), who)))
	}
	return 0
}

func raceKeys(t *testing.T, l *Ledger) []string {
	var keys []string
	var sold []*SoldKey
	for i := range raceRounds {
		k := fmt.Sprintf("RACE-%02d", i)
		keys = append(keys, k)
		sold = append(sold, testKey(k))
	}
	putKeys(t, l, sold...)
	return keys
}

func checkOneActivationEach(t *testing.T, l *Ledger, keys []string) {
	t.Helper()
	err := l.View(context.Background(), func(tx *Tx) error {
		for _, k := range keys {
			acts, err := tx.Activations(k)
			if err != nil {
				return err
			}
			if len(acts) != 1 {
				t.Errorf("%s has %d activations", k, len(acts))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, l)
}

func TestConcurrentActivateGoroutines(t *testing.T) { onEngines(t, testConcurrentActivateGoroutines) }

func testConcurrentActivateGoroutines(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared handle %v", shared), func(t *testing.T) {
			l, path := openTest(t)
			keys := raceKeys(t, l)
			// Separate handles have separate connection pools, so only
			// SQLite's lock stands between them; a shared handle also
			// exercises the in-process writer queue.
			handles := [2]*Ledger{l, l}
			if !shared {
				l2, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer l2.Close()
				handles[1] = l2
			}
			for _, key := range keys {
				start := make(chan struct{})
				var wg sync.WaitGroup
				var results [2]string
				for i := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						results[i] = outcome(tryActivate(handles[i], key, fmt.Sprintf("g%d", i)))
					}()
				}
				close(start)
				wg.Wait()
				if got := results[0] + "," + results[1]; got != "won,lost" && got != "lost,won" {
					t.Errorf("%s: %s", key, got)
				}
			}
			checkOneActivationEach(t, l, keys)
		})
	}
}

func TestConcurrentActivateProcesses(t *testing.T) { onEngines(t, testConcurrentActivateProcesses) }

func testConcurrentActivateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	l, path := openTest(t)
	keys := raceKeys(t, l)

	type child struct {
		cmd *exec.Cmd
		in  io.WriteCloser
		out *bufio.Scanner
	}
	var children [2]child
	for i := range children {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "OLR_LEDGER_TEST_CHILD=race", "OLR_LEDGER_TEST_PATH="+path, fmt.Sprintf("OLR_LEDGER_TEST_NAME=p%d", i))
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children[i] = child{cmd, in, bufio.NewScanner(out)}
	}
	defer func() {
		for _, c := range children {
			c.in.Close()
			if err := c.cmd.Wait(); err != nil {
				t.Errorf("child: %v", err)
			}
		}
	}()

	for _, key := range keys {
		// Both children get the key at (nearly) the same moment.
		for _, c := range children {
			io.WriteString(c.in, key+"\n")
		}
		var results []string
		for _, c := range children {
			if !c.out.Scan() {
				t.Fatalf("%s: child stopped: %v", key, c.out.Err())
			}
			results = append(results, c.out.Text())
		}
		if got := strings.Join(results, ","); got != "won,lost" && got != "lost,won" {
			t.Errorf("%s: %s", key, got)
		}
	}
	checkOneActivationEach(t, l, keys)
}

// TestViewDoesNotWaitForWriter checks that reads run beside a write
// transaction (WAL, deferred read transactions) instead of queueing.
func TestViewDoesNotWaitForWriter(t *testing.T) { onEngines(t, testViewDoesNotWaitForWriter) }

func testViewDoesNotWaitForWriter(t *testing.T) {
	l, _ := openTest(t)
	putKeys(t, l, testKey("K-1"))
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- l.Update(context.Background(), testOperator, func(tx *Tx) error {
			if _, err := tx.PutKey(testKey("K-2")); err != nil {
				return err
			}
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := l.View(ctx, func(tx *Tx) error {
		if _, err := tx.Key("K-1"); err != nil {
			return err
		}
		if _, err := tx.Key("K-2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("View sees an uncommitted key: %v", err)
		}
		return nil
	})
	close(release)
	if err != nil {
		t.Fatalf("View during Update: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
