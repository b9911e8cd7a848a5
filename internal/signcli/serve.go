package signcli

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/internal/cliutil"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/portal"
)

// Timeouts of the desk's HTTP server: slow clients cannot hold
// connections open, and a request that runs away is cut off.
const (
	serveReadHeaderTimeout = 10 * time.Second
	serveReadTimeout       = time.Minute
	serveWriteTimeout      = 2 * time.Minute
	serveIdleTimeout       = 2 * time.Minute
	serveMaxHeaderBytes    = 64 << 10
	// serveShutdownGrace is how long requests in flight may take to
	// finish after SIGINT or SIGTERM.
	serveShutdownGrace = 30 * time.Second
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the support desk: web pages and a JSON API to answer requests, over the ledger",
		Description: "Unlocks the vendor key once (OLR_PASSPHRASE or the terminal) and serves the desk.\n" +
			"Accounts are in the ledger: make the first with olr-sign users add NAME --role admin.\n" +
			"Without --tls-cert and --tls-key the desk serves plain HTTP, on a loopback address only.\n" +
			"Several desks may share one PostgreSQL ledger (--ledger postgres://...).",
		Flags: []cli.Flag{
			identityFlag, ledgerFlag,
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8443", Usage: "serve on `ADDRESS` (host:port; port 0 picks a free one)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "TLS certificate chain `FILE` (PEM)"},
			&cli.StringFlag{Name: "tls-key", Usage: "TLS private key `FILE` (PEM)"},
			&cli.DurationFlag{Name: "idle-timeout", Value: portal.DefaultIdleTimeout, Usage: "end a session after `DURATION` without a request"},
			&cli.DurationFlag{Name: "session-timeout", Value: portal.DefaultAbsoluteTimeout, Usage: "end every session after `DURATION`"},
			&cli.StringFlag{Name: "product", Usage: "refuse requests for another product than `NAME`"},
			&cli.IntFlag{Name: "grace-days", Value: int(olr.DefaultGrace.Hours() / 24), Usage: "grace period in `DAYS` after the hardware drifts"},
			&cli.StringSliceFlag{Name: "require", Usage: "factor `KIND` that must match when recorded (e.g. tpm-ek); repeatable"},
			&cli.IntFlag{Name: "threshold", Value: fingerprint.DefaultPolicy().Threshold, Usage: "`PERCENT` of the recorded weight that must match"},
			tpmBindFlag, ekRootsFlag, allowUnattestedFlag,
			&cli.StringFlag{Name: "log-format", Value: "json", Usage: "access log `FORMAT` on standard error: json or text"},
		},
		Action: runServe,
	}
}

func runServe(c *cli.Context) error {
	if c.NArg() > 0 {
		return cliutil.BadArgs(c, "serve takes no arguments")
	}
	opts, err := issueOptions(c)
	if err != nil {
		return err
	}
	cert, key := c.String("tls-cert"), c.String("tls-key")
	if (cert == "") != (key == "") {
		return cliutil.Usagef("--tls-cert and --tls-key go together")
	}
	addr := c.String("listen")
	if cert == "" {
		if err := checkLoopback(addr); err != nil {
			return cliutil.WithHint(err, cliutil.ExitUsage, "serve over TLS with --tls-cert FILE --tls-key FILE, or listen on 127.0.0.1")
		}
	}
	var handler slog.Handler
	switch f := c.String("log-format"); f {
	case "json":
		handler = slog.NewJSONHandler(os.Stderr, nil)
	case "text":
		handler = slog.NewTextHandler(os.Stderr, nil)
	default:
		return cliutil.Usagef("--log-format %q: want json or text", f)
	}
	if c.Duration("idle-timeout") <= 0 || c.Duration("session-timeout") <= 0 {
		return cliutil.Usagef("--idle-timeout and --session-timeout must be positive")
	}
	is, err := issuerFromFlags(c)
	if err != nil {
		return err
	}
	defer is.Ledger.Close()
	desk, err := portal.New(portal.Config{
		Issuer: is, Accounts: portal.LedgerAccounts(is.Ledger), Options: *opts,
		Logger: slog.New(handler), Secure: cert != "",
		IdleTimeout: c.Duration("idle-timeout"), AbsoluteTimeout: c.Duration("session-timeout"),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return cliutil.Usagef("cannot listen on %s: %v", addr, err)
	}
	srv := &http.Server{
		Handler:           desk,
		ReadHeaderTimeout: serveReadHeaderTimeout,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		IdleTimeout:       serveIdleTimeout,
		MaxHeaderBytes:    serveMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
	scheme := "http"
	if cert != "" {
		scheme = "https"
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "olr-sign: serving the support desk on %s://%s (ledger %s)\n", scheme, ln.Addr(), is.Ledger.Path())
	if err := portal.Serve(ctx, srv, ln, cert, key, serveShutdownGrace); err != nil {
		return cliutil.Usagef("%v", err)
	}
	fmt.Fprintln(os.Stderr, "olr-sign: the support desk stopped")
	return nil
}

// checkLoopback refuses a plain-HTTP address that others could reach:
// passwords and session cookies would cross the network in the clear.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %s: %v", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return errors.New("plain HTTP is served on a loopback address only (--listen " + addr + "): passwords and sessions would cross the network in the clear")
	}
	return nil
}
