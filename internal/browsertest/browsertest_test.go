package browsertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

var chromium *Browser

func TestMain(m *testing.M) { os.Exit(Main(m, &chromium)) }

func TestTabScreenshotDownload(t *testing.T) {
	ctx := chromium.Tab(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/file" {
			w.Header().Set("Content-Disposition", `attachment; filename="f.txt"`)
			io.WriteString(w, "downloaded")
			return
		}
		io.WriteString(w, `<!doctype html><title>t</title><p id="p">hello</p><a id="a" href="/file">get</a>`)
	}))
	defer srv.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	if got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#p"))); err != nil || got != "hello" {
		t.Fatalf("text %q, %v", got, err)
	}
	path := Screenshot(t, ctx, "browsertest")
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("screenshot not saved: %v", err)
	}
	if got := Download(t, ctx, chromedp.Click(chromedp.CSS("#a"))); string(got) != "downloaded" {
		t.Fatalf("downloaded %q", got)
	}
}
