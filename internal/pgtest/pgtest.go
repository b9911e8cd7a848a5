// Package pgtest runs a throwaway PostgreSQL cluster for the tests of a
// package: initdb and the server on a temporary directory, reached over
// a unix socket in that directory (and TCP on a free loopback port, for
// tests that need password authentication), removed when the tests end.
//
// One cluster serves every test of a package, and each test gets a fresh
// database of its own:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.NewDatabase(t) // postgres://… of an empty database
//		…
//	}
//
// The cluster starts on the first NewDatabase, so a run that selects no
// PostgreSQL test pays nothing. When PostgreSQL is not installed, the
// test is skipped with a message; under CI=true it fails instead, since
// CI installs Debian's postgresql (.ci/setup).
//
// initdb refuses to run as root, and the server too: when the tests run
// as root (as in containers and CI), both run as the user nobody, on a
// directory that user owns. The server is killed if the test binary dies
// without stopping it.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Superuser is the cluster's superuser role. It connects over the unix
// socket without a password.
const Superuser = "olrtest"

// ErrNotInstalled is returned by Start when no PostgreSQL server
// binaries are found.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL is not installed (Debian package postgresql)")

// startTimeout bounds how long Start waits for the server to accept
// connections; a loaded 2-core machine takes a few seconds.
const startTimeout = 60 * time.Second

// Cluster is a running throwaway PostgreSQL cluster.
type Cluster struct {
	bin    string // directory of initdb, postgres and psql
	dir    string // the temporary directory: data/, the socket, log
	port   int
	server *exec.Cmd
	exited chan struct{} // closed when the server process has exited
	dbs    atomic.Int64  // databases made by NewDB
}

// Options configure Start.
type Options struct {
	// Durable makes the server fsync every commit, as a production server
	// does: for benchmarks. Without it the server does not wait for the
	// disk (fsync=off), which changes nothing of what the tests check
	// (transactions, isolation, locks; the server is never killed) and
	// makes creating a database per test several times cheaper.
	Durable bool
}

// Start runs initdb on a new temporary directory and starts the server.
// It returns ErrNotInstalled (wrapped) when PostgreSQL is missing.
func Start(opts Options) (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := tempDir(cred != nil)
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir}
	if err := c.start(cred, opts); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(cred *syscall.Credential, opts Options) error {
	if cred != nil {
		if err := os.Chown(c.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	data := filepath.Join(c.dir, "data")
	initdb := c.command(cred, "initdb", "-D", data, "-U", Superuser, "-E", "UTF8", "--locale=C",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	c.port = port
	logf, err := os.OpenFile(filepath.Join(c.dir, "server.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close()
	// The server is the child itself (not pg_ctl's grandchild), so that
	// it gets SIGQUIT, an immediate shutdown, if this process dies.
	sync := "off"
	if opts.Durable {
		sync = "on"
	}
	c.server = c.command(cred, "postgres", "-D", data,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(port),
		"-c", "unix_socket_directories="+c.dir,
		"-c", "max_connections=200",
		"-c", "fsync="+sync,
		"-c", "synchronous_commit="+sync,
		"-c", "full_page_writes="+sync,
		"-c", "log_min_messages=warning")
	c.server.Stdout, c.server.Stderr = logf, logf
	c.server.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	if err := c.server.Start(); err != nil {
		return fmt.Errorf("pgtest: starting postgres: %w", err)
	}
	c.exited = make(chan struct{})
	go func() { c.server.Wait(); close(c.exited) }()
	return c.waitReady()
}

// waitReady waits until the server accepts a connection, or exits.
func (c *Cluster) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("pgtest: postgres exited during start:\n%s", c.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postgres did not accept connections within %v: %v\n%s", startTimeout, err, c.Log())
		}
	}
}

// command returns an exec.Cmd for one of the PostgreSQL programs, run as
// cred's user when cred is not nil.
func (c *Cluster) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = []string{"LC_ALL=C", "PATH=" + os.Getenv("PATH"), "HOME=" + c.dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd
}

// Stop stops the server (fast shutdown: clients are disconnected) and
// removes the cluster's directory. It is safe to call more than once.
func (c *Cluster) Stop() error {
	var err error
	if c.server != nil && c.server.Process != nil {
		c.server.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			c.server.Process.Kill()
			<-c.exited
			err = errors.New("pgtest: postgres did not stop within 30 s; killed")
		}
		c.server = nil
	}
	if c.dir != "" {
		if rerr := os.RemoveAll(c.dir); rerr != nil && err == nil {
			err = fmt.Errorf("pgtest: %w", rerr)
		}
		c.dir = ""
	}
	return err
}

// URL returns the connection URL of database db as the superuser, over
// the unix socket.
func (c *Cluster) URL(db string) string {
	q := url.Values{"host": {c.dir}, "port": {strconv.Itoa(c.port)}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.User(Superuser), Path: "/" + db, RawQuery: q.Encode()}).String()
}

// TCPURL returns the connection URL of database db as role over TCP on
// the loopback address, where the server asks for a password (SCRAM).
// The password is not in the URL: give it the way a client would
// (PGPASSWORD, a .pgpass file, or the URL's user information).
func (c *Cluster) TCPURL(db, role string) string {
	q := url.Values{"sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.User(role), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path: "/" + db, RawQuery: q.Encode()}).String()
}

// NewDB creates an empty database and returns its name.
func (c *Cluster) NewDB() (string, error) {
	name := fmt.Sprintf("t%d", c.dbs.Add(1))
	if err := c.Exec("postgres", "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return name, nil
}

// Exec runs SQL statements in database db as the superuser.
func (c *Cluster) Exec(db, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgtest: %s: %w", firstLine(sql), err)
	}
	return nil
}

// Psql runs the psql client with script on its standard input against
// the database at url, stopping at the first error, and returns what it
// printed (unaligned, tuples only). Tests use it to act as someone with
// direct access to the tables would.
func (c *Cluster) Psql(url, script string) (string, error) {
	cmd := exec.Command(filepath.Join(c.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url)
	cmd.Env = []string{"LC_ALL=C", "PATH=" + os.Getenv("PATH"), "PGCONNECT_TIMEOUT=30"}
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("psql: %v\n%s", err, out.String())
	}
	return out.String(), nil
}

// Log returns the server's log so far.
func (c *Cluster) Log() string {
	b, err := os.ReadFile(filepath.Join(c.dir, "server.log"))
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	return string(b)
}

// Bin returns the directory of the PostgreSQL programs in use.
func (c *Cluster) Bin() string { return c.bin }

// findBin returns the directory holding initdb, postgres and psql: the
// one of initdb on PATH, else Debian's newest /usr/lib/postgresql/N/bin
// (Debian keeps them off PATH).
func findBin() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(found, func(a, b string) int { return version(b) - version(a) })
	dirs = append(dirs, found...)
	for _, d := range dirs {
		ok := true
		for _, prog := range []string{"initdb", "postgres", "psql"} {
			if _, err := os.Stat(filepath.Join(d, prog)); err != nil {
				ok = false
			}
		}
		if ok {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

// version returns N of /usr/lib/postgresql/N/bin, 0 if not a number.
func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// serverCredential returns the user to run initdb and the server as: nil
// (this process's) unless this process is root, then nobody.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, and no user nobody to run PostgreSQL as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgtest: user nobody has uid %q and gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// tempDir makes the cluster's directory. Another user must reach it when
// the server runs as nobody, so if TMPDIR is not reachable by everyone,
// /tmp is used instead.
func tempDir(otherUser bool) (string, error) {
	parent := os.TempDir()
	if otherUser && !reachableByAll(parent) {
		parent = "/tmp"
	}
	d, err := os.MkdirTemp(parent, "pgtest-")
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	return d, nil
}

// reachableByAll reports whether every directory from / down to dir may
// be searched by any user.
func reachableByAll(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
