package signtest

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/olr-dev/olr/internal/pgtest"
	"github.com/olr-dev/olr/signer/ledger"
)

// TestRaceTwoMachines starts two olr-sign issue processes at the same
// moment against one fresh ledger, for one key and two machines, again
// and again: exactly one activation each time, the other refused with
// exit 1, and no license file for it.
func TestRaceTwoMachines(t *testing.T) { onEngines(t, testRaceTwoMachines) }

func testRaceTwoMachines(t *testing.T) {
	t.Parallel()
	const key = "OEM-0001-AAAA"
	rounds := 12
	if testing.Short() {
		rounds = 10
	}
	wins := [2]int{}
	for round := range rounds {
		e := newEnv(t, policyKeys)
		var reqs [2]string
		for m := range reqs {
			reqs[m], _ = e.request(fmt.Sprintf("m%d.olr", m), Request{Licensee: licensee, Key: key, Machine: 100*round + m})
		}
		// On PostgreSQL, each process has its own connection pool, and
		// the second reaches the server over TCP with a password, as an
		// olr-sign on another host would.
		ledgers := [2]string{e.ledger, e.ledger}
		var extraEnv [2][]string
		if onPostgres(t) {
			ledgers[1], extraEnv[1] = overTCP(t, e.ledger)
		}
		var cmds [2]*cmdRun
		for m := range cmds {
			cmds[m] = &cmdRun{cmd: e.cmd("issue", "-i", vendorKey, "--ledger", ledgers[m], reqs[m], "-o", fmt.Sprintf("m%d.license.olr", m))}
			cmds[m].cmd.Env = append(cmds[m].cmd.Env, extraEnv[m]...)
		}
		// Both are ready to go before either starts.
		var ready, start sync.WaitGroup
		ready.Add(2)
		start.Add(1)
		var done sync.WaitGroup
		for _, c := range cmds {
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				start.Wait()
				c.r, c.err = tryCmd(c.cmd)
			}()
		}
		ready.Wait()
		start.Done()
		done.Wait()
		for _, c := range cmds {
			if c.err != nil {
				t.Fatal(c.err)
			}
		}

		codes := [2]int{cmds[0].r.code, cmds[1].r.code}
		if codes != [2]int{0, 1} && codes != [2]int{1, 0} {
			t.Fatalf("round %d: want one exit 0 and one exit 1:\n%v\n%v", round, cmds[0].r, cmds[1].r)
		}
		winner := 0
		if codes[1] == 0 {
			winner = 1
		}
		wins[winner]++
		loser := cmds[1-winner].r
		if !strings.Contains(loser.stderr, "can only be used on one machine") {
			t.Errorf("round %d: the loser was not refused by the one-machine rule:\n%v", round, loser)
		}
		if _, err := os.Stat(filepath.Join(e.dir, fmt.Sprintf("m%d.license.olr", 1-winner))); err == nil {
			t.Errorf("round %d: the refused request has a license file", round)
		}
		winLic := e.license(fmt.Sprintf("m%d.license.olr", winner))
		e.view(func(tx *ledger.Tx) error {
			acts, err := tx.Activations(key)
			if err != nil {
				return err
			}
			if len(acts) != 1 || acts[0].State != ledger.StateActive || acts[0].LicenseID != winLic.ID {
				t.Errorf("round %d: activations %+v, want one, for %s", round, acts, winLic.ID)
			}
			return nil
		})
		e.must("ledger", "verify", "--ledger", e.ledger)
	}
	t.Logf("%d rounds: machine 0 won %d, machine 1 won %d", rounds, wins[0], wins[1])
}

type cmdRun struct {
	cmd *exec.Cmd
	r   result
	err error
}

// superuserPassword is the password overTCP gives the cluster's
// superuser, once per run.
const superuserPassword = "signtest: not a secret"

var setPassword sync.Once

// overTCP returns the URL of the database of the unix-socket URL socketURL
// over TCP on the loopback address, and the environment that gives its
// password (PGPASSWORD).
func overTCP(t *testing.T, socketURL string) (string, []string) {
	t.Helper()
	c := pgtest.Shared(t)
	var err error
	setPassword.Do(func() {
		err = c.Exec("postgres", fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", pgtest.Superuser, superuserPassword))
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(socketURL)
	if err != nil {
		t.Fatal(err)
	}
	return c.TCPURL(strings.TrimPrefix(u.Path, "/"), pgtest.Superuser), []string{"PGPASSWORD=" + superuserPassword}
}
