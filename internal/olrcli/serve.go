package olrcli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/fingerprint/machine"
	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/internal/webserve"
	"github.com/olr-dev/olr/olr/page"
)

// defaultListen is olr serve's address: loopback only.
const defaultListen = "127.0.0.1:8471"

// tokenCookie carries the access token after the first visit.
const tokenCookie = "olr_token"

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the License page in a browser, for a machine whose product has no console of its own",
		Description: "Listens on 127.0.0.1:8471 and prints a URL with a random access token; any other\n" +
			"address needs --tls-cert and --tls-key. --listen unix:PATH serves on a unix socket\n" +
			"(mode 0600) without a token.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: defaultListen, Usage: "`ADDR` to listen on (HOST:PORT, or unix:PATH)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "TLS certificate `FILE` (PEM), needed for a non-loopback address"},
			&cli.StringFlag{Name: "tls-key", Usage: "TLS private key `FILE` (PEM)"},
			&cli.StringFlag{Name: "vendor", Required: true, EnvVars: []string{"OLR_VENDOR"},
				Usage: "the vendor's age recipient, or a `FILE` holding it (vendor.key.recipient), for requests"},
			&cli.StringSliceFlag{Name: "product", DefaultText: "backup-server=Backup",
				Usage: "product `NAME[=TITLE]` with a tab on the page; repeatable"},
			&cli.StringFlag{Name: "usage", Usage: "JSON `FILE` of the modules in use ({\"obm\": 12, ...}), read at every check"},
			&cli.StringFlag{Name: "on-alert", Usage: "run `CMD` (with sh -c) for every new license error, the event as JSON on its standard input"},
			&cli.DurationFlag{Name: "check-every", Value: time.Minute, Usage: "check the license and quotas every `DURATION`"},
			trustFlag, stateFlag, tpmFlag,
		},
		Action: runServe,
	}
}

func runServe(c *cli.Context) error {
	if c.NArg() > 0 {
		return cliutil.BadArgs(c, "serve takes no arguments")
	}
	listen := c.String("listen")
	certFile, keyFile := c.String("tls-cert"), c.String("tls-key")
	if (certFile == "") != (keyFile == "") {
		return cliutil.Usagef("give both --tls-cert and --tls-key")
	}
	socket, isUnix := strings.CutPrefix(listen, "unix:")
	if !isUnix {
		if err := checkListen(listen, certFile != ""); err != nil {
			return err
		}
	}
	recipients, err := vendorRecipients(c.String("vendor"))
	if err != nil {
		return err
	}
	st := storeOf(c)
	trust, _, err := loadTrust(c, st)
	if err != nil {
		return err
	}
	products, err := serveProducts(c.StringSlice("product"))
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	tpmSpec := c.String("tpm")
	cfg := page.Config{
		Trust: trust, StateDir: st.Dir, Products: products, Vendor: recipients, Logger: log,
		Tool: "olr " + cliutil.Version(),
		// The machine as olr request reads it, at every check.
		Machine: func(ctx context.Context) (*machine.Machine, error) {
			return machine.Collect(ctx, machine.Options{TPM: tpmSpec, AllowSoftwareTPM: os.Getenv(allowSoftwareTPM) == "1"})
		},
	}
	if path := c.String("usage"); path != "" {
		cfg.Usage = usageFile(path)
	}
	if cmd := c.String("on-alert"); cmd != "" {
		hook := newAlertHook(cmd, log)
		defer hook.Close(30 * time.Second)
		cfg.OnAlert = hook.Alert
	}
	h, err := page.New(cfg)
	if err != nil {
		return cliutil.Usagef("%v", err)
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var ln net.Listener
	var handler http.Handler = h
	if isUnix {
		removeStaleSocket(socket)
		ln, err = net.Listen("unix", socket)
		if err == nil {
			err = os.Chmod(socket, 0o600)
		}
	} else {
		ln, err = net.Listen("tcp", listen)
	}
	if err != nil {
		return cliutil.Usagef("cannot listen on %s: %v", listen, err)
	}
	scheme := "http"
	if certFile != "" {
		scheme = "https"
	}
	if isUnix {
		fmt.Fprintf(os.Stderr, "olr: serving the License page on unix socket %s (mode 0600)\n", socket)
	} else {
		token, err := newToken()
		if err != nil {
			return err
		}
		handler = requireToken(token, h, certFile != "")
		fmt.Fprintf(os.Stderr, "olr: serving the License page at %s://%s/?token=%s\n", scheme, ln.Addr(), token)
		fmt.Fprintf(os.Stderr, "olr: open that URL; the token is needed once per browser, and by scripts as Authorization: Bearer TOKEN\n")
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go h.Monitor().Run(ctx, c.Duration("check-every"))
	// A shutdown that outlasts its grace (a request still in flight) is
	// not an error of the page's: it has stopped.
	err = webserve.Serve(ctx, srv, ln, certFile, keyFile, 5*time.Second)
	if isUnix {
		os.Remove(socket)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return cliutil.Usagef("serving the License page: %v", err)
	}
	return nil
}

// removeStaleSocket removes the socket an earlier run left at path, and
// nothing else: --listen unix: naming a key, the state or any other file
// by mistake fails with "address already in use" instead of deleting it.
func removeStaleSocket(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
		os.Remove(path)
	}
}

// checkListen allows a loopback address, and any other only with TLS.
func checkListen(listen string, tls bool) error {
	hostPart, _, err := net.SplitHostPort(listen)
	if err != nil {
		return cliutil.Usagef("--listen %q: want HOST:PORT or unix:PATH", listen)
	}
	if tls {
		return nil
	}
	ip := net.ParseIP(hostPart)
	if hostPart == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	what := hostPart
	if what == "" {
		what = "every address"
	}
	return cliutil.WithHint(fmt.Errorf("--listen %s would serve the License page on %s without TLS", listen, what), cliutil.ExitUsage,
		"listen on 127.0.0.1 (the default), or give --tls-cert and --tls-key")
}

func newToken() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// requireToken lets a request through with the token: as a bearer token,
// as the cookie set at the first visit, or once in the URL (?token=...),
// which sets the cookie and redirects to the same URL without it.
func requireToken(token string, next http.Handler, secure bool) http.Handler {
	ok := func(s string) bool { return subtle.ConstantTimeCompare([]byte(s), []byte(token)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found && ok(auth) {
			next.ServeHTTP(w, r)
			return
		}
		if ck, err := r.Cookie(tokenCookie); err == nil && ok(ck.Value) {
			next.ServeHTTP(w, r)
			return
		}
		if q := r.URL.Query(); q.Has("token") && ok(q.Get("token")) && r.Method == http.MethodGet {
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: token, Path: "/", HttpOnly: true,
				Secure: secure, SameSite: http.SameSiteStrictMode})
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("WWW-Authenticate", `Bearer realm="olr"`)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintln(w, "olr serve: access needs the token that olr serve printed when it started: open the URL it printed")
	})
}

// serveProducts parses --product NAME[=TITLE].
func serveProducts(specs []string) ([]page.Product, error) {
	if len(specs) == 0 {
		return []page.Product{{Name: defaultProduct, Title: "Backup"}}, nil
	}
	var out []page.Product
	for _, s := range specs {
		name, title, _ := strings.Cut(s, "=")
		out = append(out, page.Product{Name: name, Title: title})
	}
	return out, nil
}

// usageFile reads the modules in use from a JSON file at every check.
func usageFile(path string) func(string) (int64, error) {
	return func(module string) (int64, error) {
		data, err := cliutil.ReadInput(path, "usage file", 1<<20)
		if err != nil {
			return 0, err
		}
		var counts map[string]int64
		if err := json.Unmarshal(data, &counts); err != nil {
			return 0, fmt.Errorf("%s: want a JSON object of module counts: %v", path, err)
		}
		return counts[module], nil
	}
}

// alertHook runs an --on-alert command for each alert, one at a time and
// in the background: the page's checks hand an alert over and go on, so a
// slow or hanging command holds up neither the page nor the checks.
type alertHook struct {
	cmd  string
	log  *slog.Logger
	done chan struct{}

	mu     sync.Mutex // a check may still raise an alert while Close runs
	queue  chan page.Alert
	closed bool
}

// alertQueue bounds the alerts waiting for a slow command. Alerts come
// once per change of the license's state, so a full queue means the
// command hangs; further alerts are logged (they always are) and not
// passed to it.
const alertQueue = 64

func newAlertHook(cmd string, log *slog.Logger) *alertHook {
	h := &alertHook{cmd: cmd, log: log, queue: make(chan page.Alert, alertQueue), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for a := range h.queue {
			h.run(a)
		}
	}()
	return h
}

// Alert is the page's Config.OnAlert.
func (h *alertHook) Alert(_ context.Context, a page.Alert) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		h.log.Error("license: stopping; this alert is not passed to the --on-alert command", "event", a.Event, "product", a.Product)
		return
	}
	select {
	case h.queue <- a:
	default:
		h.log.Error("license: the --on-alert command is not keeping up; this alert is not passed to it",
			"event", a.Event, "product", a.Product)
	}
}

// Close lets the alerts already handed over run, waiting at most wait.
func (h *alertHook) Close(wait time.Duration) {
	h.mu.Lock()
	h.closed = true
	close(h.queue)
	h.mu.Unlock()
	select {
	case <-h.done:
	case <-time.After(wait):
		h.log.Error("license: stopped before the --on-alert command ran for every alert")
	}
}

func (h *alertHook) run(a page.Alert) {
	data, _ := json.Marshal(a)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "/bin/sh", "-c", h.cmd)
	c.Stdin = bytes.NewReader(append(data, '\n'))
	c.Env = append(os.Environ(), "OLR_ALERT_EVENT="+a.Event, "OLR_ALERT_PRODUCT="+a.Product)
	stderr := &headWriter{max: maxAlertStderr}
	c.Stderr = stderr
	if err := c.Run(); err != nil {
		var ee *exec.ExitError
		msg := err.Error()
		if errors.As(err, &ee) {
			msg = strings.TrimSpace(stderr.buf.String())
		}
		h.log.Error("license: the --on-alert command failed", "event", a.Event, "err", err, "stderr", msg)
	}
}

// maxAlertStderr is how much of the --on-alert command's standard error
// goes into the log when it fails.
const maxAlertStderr = 4 << 10

// headWriter keeps the first max bytes written to it and discards the
// rest, so that a command writing without end costs no memory.
type headWriter struct {
	buf bytes.Buffer
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
