package main

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/openpdm/pdm/web"
)

// chromiumPath is Debian's Chromium, installed by deploy/local/services.sh.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PDM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is not installed: run deploy/local/services.sh up (apt-get install chromium)")
	return ""
}

// newBrowser starts a headless Chromium for one test with an empty
// profile and the flags that keep it off the (closed) network, and returns
// a context that drives one tab in it.
func newBrowser(t testing.TB, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if !web.Built() {
		t.Fatal("the web bundle is not built into this test binary: run `make web` first (make test does)")
	}
	// The profile is removed after Chromium has exited; its helper
	// processes may still be writing for a moment, so retry (t.TempDir's
	// own cleanup fails the test on "directory not empty").
	profile, err := os.MkdirTemp("", "pdm-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for deadline := time.Now().Add(10 * time.Second); os.RemoveAll(profile) != nil && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
		}
	})
	all := append(append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1400, 900),
	)
	all = append(all, opts...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), all...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser now so a failure to launch names itself. The first
	// Run must get ctx itself: the browser lives as long as that context.
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// signIn opens url and signs in with token on the sign-in form it shows
// (console and app alike); the caller waits for the page it expects.
func signIn(url, token string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Navigate(url),
		chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", token, chromedp.ByID),
		chromedp.Click(`button[type="submit"]`, chromedp.ByQuery),
	}
}

// run runs browser actions with a deadline, failing the test with what.
func runBrowser(t testing.TB, ctx context.Context, within time.Duration, what string, actions ...chromedp.Action) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if err := chromedp.Run(c, actions...); err != nil {
		var loc, html string
		lc, lcancel := context.WithTimeout(ctx, 5*time.Second)
		_ = chromedp.Run(lc, chromedp.Location(&loc), chromedp.OuterHTML("body", &html, chromedp.ByQuery))
		lcancel()
		if len(html) > 4000 {
			html = html[:4000] + "…"
		}
		t.Fatalf("%s: %v\nat %s\n%s", what, err, loc, html)
	}
}
