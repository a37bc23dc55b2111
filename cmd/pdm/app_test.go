package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/stretchr/testify/require"
)

// appFixture is a site, an asset with a location, an engineer (user,
// engineer record) and two orders assigned to them.
type appFixture struct {
	api       *apiClient
	stop      func()
	base      string
	engineer  *apiClient
	engToken  string
	engUserID string
	jobA      orderJSON
	jobB      orderJSON
}

func newAppFixture(t testing.TB, ctx context.Context) *appFixture {
	t.Helper()
	env := newTestEnv(t)
	token := "app-admin-" + env.ID + "-0123456789abcdef"
	api, stop := startServe(t, env, token)
	f := &appFixture{api: api, stop: stop, base: strings.TrimSuffix(api.base, "/api/v1")}
	var site, asset idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "SZ1", "name": "Suzhou plant",
		"location": map[string]float64{"lat": 31.3, "lon": 120.6}}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-7", "type": "pump",
		"name": "Cooling pump 7", "criticality": 3, "location": map[string]float64{"lat": 31.31, "lon": 120.62}}, &asset))
	var eng struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": "Wang Wei", "role": "engineer"}, &eng))
	f.engToken, f.engUserID = eng.Token, eng.ID
	f.engineer = api.as(eng.Token)
	require.NoError(t, api.do(ctx, "POST", "/engineers", map[string]any{"name": "Wang Wei", "user_id": eng.ID,
		"home": map[string]float64{"lat": 31.25, "lon": 120.55}}, nil))
	for i, o := range []*orderJSON{&f.jobA, &f.jobB} {
		require.NoError(t, api.do(ctx, "POST", "/work-orders", map[string]any{"asset_id": asset.ID,
			"title": fmt.Sprintf("Replace seal %d", i+1), "priority": "P2"}, o))
		err := api.do(ctx, "POST", "/work-orders/"+o.ID+"/assign", map[string]any{"assignee_id": eng.ID}, nil)
		if err != nil {
			// The dispatcher may have assigned it to the only engineer already.
			var got orderJSON
			require.NoError(t, api.do(ctx, "GET", "/work-orders/"+o.ID, nil, &got))
			require.Equal(t, "assigned", got.Status, "%v", err)
		}
	}
	return f
}

type eventJSON struct {
	Type string          `json:"type"`
	Note string          `json:"note"`
	Data json.RawMessage `json:"data"`
}

type detailJSON struct {
	orderJSON
	Resolution  string      `json:"resolution"`
	LabourTime  string      `json:"labour_time"`
	Events      []eventJSON `json:"events"`
	Attachments []struct {
		Kind       string `json:"kind"`
		SignerName string `json:"signer_name"`
	} `json:"attachments"`
}

func countEvents(d detailJSON) map[string]int {
	n := map[string]int{}
	for _, e := range d.Events {
		n[e.Type]++
	}
	return n
}

// TestAppOfflineJob does a whole job in the engineers' app on an emulated
// phone with the network cut through the DevTools protocol, the app
// reloaded offline (from the service worker's cache) before and during
// the job: accept,
// depart, arrive, start, a note, a photo, hold, resume, complete and the
// customer's signature, all queued in IndexedDB. Meanwhile a planner
// cancels the engineer's other job, on which the engineer accepted and
// noted something offline. Back online, the outbox replays in order: the
// server holds every transition once, the note, the photo and the
// signature once; the cancelled job shows as a conflict, its note attached.
func TestAppOfflineJob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	f := newAppFixture(t, ctx)
	// The phone reaches pdm through a link the test can cut: the page's
	// emulated offline does not reach its service worker, whose fetches
	// went out regardless (an action sent while "offline" now and then).
	link := newCuttableLink(t, strings.TrimPrefix(f.base, "http://"))
	f.base = "http://" + link.addr()
	b := newBrowser(t, chromedp.UserDataDir(profileDir(t)))
	photo := filepath.Join(t.TempDir(), "photo.jpg")
	writeJPEG(t, photo, 2400, 1800)

	runBrowser(t, b, 60*time.Second, "sign in on a phone",
		chromedp.Emulate(device.IPhone13),
		chromedp.Navigate(f.base+"/app/"),
		chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SetValue(`select`, "zh-CN", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector("h1").textContent === "登录 pdm" || document.documentElement.lang === "zh-CN"`, nil),
		chromedp.SetValue(`select`, "en", chromedp.ByQuery),
		chromedp.SendKeys("#token", f.engToken, chromedp.ByID),
		chromedp.Click(`button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="job-row"]`, chromedp.ByQuery),
		// Both jobs listed, their details kept on the device, the shell
		// under the service worker's control.
		chromedp.Poll(`document.querySelectorAll('[data-testid="job-row"]').length === 2`, nil),
		chromedp.Poll(`navigator.serviceWorker.controller !== null`, nil, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Poll(`(async () => {
			const db = await new Promise((res, rej) => { const r = indexedDB.open('pdm-app'); r.onsuccess = () => res(r.result); r.onerror = rej; });
			const keys = await new Promise((res) => { const r = db.transaction('cache').objectStore('cache').getAllKeys(); r.onsuccess = () => res(r.result); });
			return keys.includes('/work-orders/`+f.jobA.ID+`') && keys.includes('/work-orders/`+f.jobB.ID+`');
		})()`, nil, chromedp.WithPollingTimeout(20*time.Second)),
	)

	// The network goes away.
	link.cut(true)
	runBrowser(t, b, 10*time.Second, "cut the network",
		network.Enable(),
		network.EmulateNetworkConditions(true, 0, 0, 0),
		chromedp.Poll(`navigator.onLine === false`, nil),
		chromedp.WaitVisible(`header.netbar.offline`, chromedp.ByQuery),
	)
	// A reload without a network: the service worker serves the shell
	// from its cache and the jobs come from IndexedDB.
	runBrowser(t, b, 30*time.Second, "reload offline",
		chromedp.Reload(),
		chromedp.WaitVisible(`header.netbar.offline`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelectorAll('[data-testid="job-row"]').length === 2`, nil),
		chromedp.Poll(`performance.getEntriesByType('navigation')[0].transferSize === 0`, nil),
	)
	status := func(want string) chromedp.Action {
		return chromedp.WaitVisible(fmt.Sprintf(`[data-testid="job-status"][data-status=%q]`, want), chromedp.ByQuery)
	}
	click := func(action string) chromedp.Action {
		return chromedp.Click(fmt.Sprintf(`button[data-action=%q]`, action), chromedp.ByQuery)
	}
	runBrowser(t, b, 150*time.Second, "do job A offline",
		chromedp.Navigate(f.base+"/app/jobs/"+f.jobA.ID),
		status("assigned"),
		click("accept"), status("accepted"),
		click("depart"), status("en_route"),
		click("arrive"), status("on_site"),
		click("start"), status("in_progress"),
		// The phone reloads the app mid-job, still offline: what waits in
		// the outbox survives and the job shows where it stands.
		chromedp.Reload(),
		status("in_progress"),
		chromedp.WaitVisible(`header.netbar.offline`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('[data-testid="netbar"]').dataset.pending === "4"`, nil),
		click("note"),
		chromedp.SendKeys("#note-text", "Seal worn on the drive side; replaced.", chromedp.ByID),
		chromedp.Click(`form.sheet button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitNotPresent("#note-text", chromedp.ByID),
		chromedp.SetUploadFiles(`input[data-testid="photo-input"]`, []string{photo}, chromedp.ByQuery),
		chromedp.Poll(`document.querySelectorAll('.thumbs li.pending').length === 1`, nil),
		click("hold"),
		chromedp.SendKeys("#reason", "waiting for the operator", chromedp.ByID),
		chromedp.Click(`form.sheet button[type="submit"]`, chromedp.ByQuery),
		status("on_hold"),
		click("resume"), status("in_progress"),
		click("complete"),
		chromedp.SendKeys("#resolution", "Mechanical seal replaced, no leak after 10 min run.", chromedp.ByID),
		chromedp.SetValue("#hours", "1", chromedp.ByID),
		chromedp.SetValue("#minutes", "30", chromedp.ByID),
		chromedp.Click(`button[data-action="complete-submit"]`, chromedp.ByQuery),
		status("completed"),
	)
	// Completed jobs leave the action bar; the signature is taken from a
	// fresh detail of the same order (still open on the server).
	runBrowser(t, b, 30*time.Second, "job B offline: accept and a note",
		chromedp.Navigate(f.base+"/app/jobs/"+f.jobB.ID),
		status("assigned"),
		click("accept"), status("accepted"),
		click("note"),
		chromedp.SendKeys("#note-text", "Gate locked, called the site.", chromedp.ByID),
		chromedp.Click(`form.sheet button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitNotPresent("#note-text", chromedp.ByID),
		click("signature"),
		chromedp.WaitVisible(`[data-testid="signature"]`, chromedp.ByQuery),
		chromedp.Evaluate(`(() => {
			const c = document.querySelector('[data-testid="signature"]'); const r = c.getBoundingClientRect();
			for (const [type, x, y] of [['pointerdown', 10, 10], ['pointermove', 60, 60], ['pointermove', 140, 20], ['pointerup', 140, 20]])
				c.dispatchEvent(new PointerEvent(type, { clientX: r.left + x, clientY: r.top + y, pointerId: 1, bubbles: true }));
		})()`, nil),
		chromedp.WaitVisible(`[data-testid="signature"][data-drawn="1"]`, chromedp.ByQuery),
		chromedp.SendKeys("#signer", "Zhao Min", chromedp.ByID),
		chromedp.Click(`form.sheet button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(`[data-testid="signature"]`, chromedp.ByQuery),
	)
	// 8 actions, 2 notes, a photo and a signature wait (the signature is
	// written to IndexedDB just after its sheet closes).
	runBrowser(t, b, 20*time.Second, "count the outbox",
		chromedp.Poll(`document.querySelector('[data-testid="netbar"]').dataset.pending === "12"`, nil))

	// Nothing reached the server; meanwhile the planner cancels job B.
	var a detailJSON
	require.NoError(t, f.api.do(ctx, "GET", "/work-orders/"+f.jobA.ID, nil, &a))
	require.Equal(t, "assigned", a.Status)
	require.NoError(t, f.api.do(ctx, "POST", "/work-orders/"+f.jobB.ID+"/cancel", map[string]any{"reason": "customer postponed"}, nil))

	// The network is back: the outbox replays by itself.
	link.cut(false)
	runBrowser(t, b, 60*time.Second, "reconnect and replay",
		network.EmulateNetworkConditions(false, 0, -1, -1),
		chromedp.Poll(`document.querySelector('[data-testid="netbar"]').dataset.pending === "0"`, nil,
			chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Navigate(f.base+"/app/jobs/"+f.jobB.ID),
		chromedp.WaitVisible(`[data-testid="conflicts"] [data-conflict="cancelled"]`, chromedp.ByQuery),
	)

	require.NoError(t, f.api.do(ctx, "GET", "/work-orders/"+f.jobA.ID, nil, &a))
	require.Equal(t, "completed", a.Status)
	require.Equal(t, "1h30m", a.LabourTime)
	require.Contains(t, a.Resolution, "seal replaced")
	n := countEvents(a)
	for _, typ := range []string{"accepted", "departed", "arrived", "started", "held", "resumed", "completed", "comment"} {
		require.Equal(t, 1, n[typ], "job A: %s exactly once (events %v)", typ, n)
	}
	require.Len(t, a.Attachments, 1)
	require.Equal(t, "photo", a.Attachments[0].Kind)

	var bj detailJSON
	require.NoError(t, f.api.do(ctx, "GET", "/work-orders/"+f.jobB.ID, nil, &bj))
	require.Equal(t, "cancelled", bj.Status)
	nb := countEvents(bj)
	require.Equal(t, 0, nb["accepted"], "the accept after the cancellation is a conflict, not applied")
	require.Equal(t, 1, nb["comment"], "the note is kept and attached")
	require.Len(t, bj.Attachments, 1, "the signature is kept and attached")
	require.Equal(t, "Zhao Min", bj.Attachments[0].SignerName)
}

// profileDir is a Chromium profile removed after the test, tolerating
// files the browser's service-worker and storage processes still write
// while they shut down (t.TempDir fails the test on those).
func profileDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pdm-app-profile-")
	require.NoError(t, err)
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return dir
}

func writeJPEG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x ^ y) & 0xff), 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}))
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
}

// TestIdempotencyAcrossRestart: a POST answered, the process stopped and
// started again on the same database, the same request with the same key
// is answered from PostgreSQL and applies nothing again.
func TestIdempotencyAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := newTestEnv(t)
	token := "idem-admin-" + env.ID + "-0123456789abcdef"
	api, stop := startServe(t, env, token)
	var site, asset idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "S", "name": "S"}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "A", "type": "pump",
		"name": "A", "criticality": 3}, &asset))
	post := func(c *apiClient, path, key string, body any) (int, string) {
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, "POST", c.base+path, bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := c.hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		return resp.StatusCode, out.String()
	}
	body := map[string]any{"asset_id": asset.ID, "title": "once", "priority": "P3"}
	code, first := post(api, "/work-orders", "create-once", body)
	require.Equal(t, 201, code, first)
	stop()

	api2, _ := startServe(t, env, token)
	code, again := post(api2, "/work-orders", "create-once", body)
	require.Equal(t, 201, code)
	require.JSONEq(t, first, again, "the first answer, replayed")
	var l listOf[orderJSON]
	require.NoError(t, api2.do(ctx, "GET", "/work-orders?asset_id="+asset.ID, nil, &l))
	require.Len(t, l.Items, 1, "created once")
	code, _ = post(api2, "/work-orders", "create-once", map[string]any{"asset_id": asset.ID, "title": "other", "priority": "P3"})
	require.Equal(t, 422, code)
}

// cuttableLink is a TCP relay to target that the test can cut: while
// cut it refuses new connections and has closed the open ones, as a
// phone's lost network does to everything on it (page and service
// worker alike).
type cuttableLink struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func newCuttableLink(t testing.TB, target string) *cuttableLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := &cuttableLink{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go l.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		l.cut(true)
	})
	return l
}

func (l *cuttableLink) addr() string { return l.ln.Addr().String() }

func (l *cuttableLink) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		go l.relay(c)
	}
}

func (l *cuttableLink) relay(c net.Conn) {
	l.mu.Lock()
	if l.down {
		l.mu.Unlock()
		_ = c.Close()
		return
	}
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	up, err := net.Dial("tcp", l.target)
	if err != nil {
		_ = c.Close()
		return
	}
	l.mu.Lock()
	l.conns[up] = struct{}{}
	down := l.down
	l.mu.Unlock()
	if down {
		_ = c.Close()
		_ = up.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = up.Close()
	l.mu.Lock()
	delete(l.conns, c)
	delete(l.conns, up)
	l.mu.Unlock()
}

// cut takes the link down (closing what is open) or brings it back.
func (l *cuttableLink) cut(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = down
	if down {
		for c := range l.conns {
			_ = c.Close()
		}
	}
}
