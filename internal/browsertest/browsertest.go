// Package browsertest runs one headless Chromium per test package for
// browser tests of olr's web pages, through chromedp: TestMain starts it,
// each test opens a tab, and screenshots are kept as test artifacts.
//
//	var browser *browsertest.Browser
//
//	func TestMain(m *testing.M) { os.Exit(browsertest.Main(m, &browser)) }
//
//	func TestPage(t *testing.T) {
//		ctx := browser.Tab(t)
//		chromedp.Run(ctx, chromedp.Navigate(url), ...)
//		browsertest.Screenshot(t, ctx, "page")
//	}
//
// Without a browser, Tab fails the test under CI=true (CI must run every
// test) and skips it elsewhere with a message. Chromium comes from
// Debian's chromium package; .ci/setup installs it.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// TabTimeout bounds one test's use of its tab: generous, since CI's two
// cores are shared by parallel test packages.
const TabTimeout = 2 * time.Minute

// Browser is a running headless Chromium.
type Browser struct {
	ctx     context.Context // the browser's first tab, which keeps it running
	missing string          // why there is no browser, when ctx is nil
}

// Main starts the browser, runs the tests and stops the browser; it
// returns the exit code for os.Exit.
func Main(m *testing.M, b **Browser) int {
	br, stop := start()
	*b = br
	code := m.Run()
	stop()
	return code
}

// find returns the path of a Chromium binary.
func find() (string, error) {
	if p := os.Getenv("OLR_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium found on PATH (Debian: apt-get install chromium; .ci/setup installs it)")
}

func start() (*Browser, func()) {
	path, err := find()
	if err != nil {
		return &Browser{missing: err.Error()}, func() {}
	}
	profile, err := os.MkdirTemp("", "olr-chromium-")
	if err != nil {
		return &Browser{missing: err.Error()}, func() {}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1024),
		// A closed network: nothing in the background may try to reach out.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	stop := func() {
		cancel()
		cancelAlloc()
		os.RemoveAll(profile)
	}
	// The browser lives as long as the context of its first action: no
	// timeout on this one.
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return &Browser{missing: fmt.Sprintf("cannot start %s: %v", path, err)}, func() {}
	}
	return &Browser{ctx: ctx}, stop
}

// Tab opens a new tab for t, closed when t ends. Without a browser it
// fails t under CI=true and skips it elsewhere.
func (b *Browser) Tab(t testing.TB) context.Context {
	t.Helper()
	if b == nil || b.ctx == nil {
		why := "browsertest.Main did not run"
		if b != nil {
			why = b.missing
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need Chromium: %s", why)
		}
		t.Skipf("browser test skipped: %s", why)
	}
	ctx, cancel := chromedp.NewContext(b.ctx)
	ctx, cancelTimeout := context.WithTimeout(ctx, TabTimeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
	})
	return ctx
}

// ArtifactDir is where screenshots go: $OLR_ARTIFACTS, else
// olr-test-artifacts in the temporary directory.
func ArtifactDir() string {
	if d := os.Getenv("OLR_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "olr-test-artifacts")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves a full-page PNG of the tab as ArtifactDir()/NAME.png
// and returns its path.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := ArtifactDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, unsafeName.ReplaceAllString(name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// Download runs action (a click on a download link) in the tab and
// returns the content of the file the browser saved.
func Download(t testing.TB, ctx context.Context, action chromedp.Action[chromedp.Void]) []byte {
	t.Helper()
	dir := t.TempDir()
	done := make(chan string, 1)
	on := true
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &on}); err != nil {
		t.Fatalf("download: %v", err)
	}
	if err := chromedp.ListenBrowser(ctx, func(ev any) {
		if e, ok := ev.(*browser.EventDownloadProgress); ok && e.State == browser.DownloadProgressStateCompleted {
			select {
			case done <- e.GUID:
			default:
			}
		}
	}); err != nil {
		t.Fatalf("download: %v", err)
	}
	if err := chromedp.Do(ctx, action); err != nil {
		t.Fatalf("download: %v", err)
	}
	select {
	case guid := <-done:
		data, err := os.ReadFile(filepath.Join(dir, guid))
		if err != nil {
			t.Fatal(err)
		}
		return data
	case <-ctx.Done():
		t.Fatalf("download did not complete: %v", ctx.Err())
	}
	return nil
}
