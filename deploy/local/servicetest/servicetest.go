// Package servicetest starts private instances of the services that
// deploy/local/services.sh runs (Mosquitto, InfluxDB 1.8), each on free
// loopback ports with its files in the test's temporary directory, so that
// fault tests can stop and restart them without touching the shared ones
// other tests use. A missing binary fails the test, naming it; it never
// skips.
package servicetest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port nothing listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func binary(t testing.TB, env, def, name string) string {
	t.Helper()
	bin := os.Getenv(env)
	if bin == "" {
		bin = def
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s binary not found at %s (set %s; deploy/local/services.sh up installs it): %v", name, bin, env, err)
	}
	return bin
}

// waitUntil polls ok every 50 ms until it holds or d passes.
func waitUntil(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopProcess asks cmd to stop (SIGTERM: both services save their state)
// and kills it when it has not exited within grace.
func stopProcess(cmd *exec.Cmd, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Mosquitto is a private broker with persistence: what it queued for a
// persistent session survives Stop and Start.
type Mosquitto struct {
	t    testing.TB
	bin  string
	conf string
	cmd  *exec.Cmd
	// Port and URL (tcp://127.0.0.1:Port) of its listener.
	Port int
	URL  string
}

// StartMosquitto starts a broker ($PDM_MOSQUITTO_BIN, default
// /usr/sbin/mosquitto) that keeps any number of queued messages; extra
// lines are appended to its configuration (e.g. "max_inflight_messages
// 1000"). It is stopped when the test ends.
func StartMosquitto(t testing.TB, extra ...string) *Mosquitto {
	t.Helper()
	m := &Mosquitto{t: t, bin: binary(t, "PDM_MOSQUITTO_BIN", "/usr/sbin/mosquitto", "Mosquitto"), Port: FreePort(t)}
	m.URL = fmt.Sprintf("tcp://127.0.0.1:%d", m.Port)
	dir := t.TempDir()
	m.conf = filepath.Join(dir, "mosquitto.conf")
	// "user root" keeps privileges when the test runs as root (Mosquitto
	// would drop to its own user, which cannot write to the temp dir); it
	// has no effect for other users.
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n"+
		"autosave_interval 1\nmax_queued_messages 0\nlog_dest none\nuser root\n%s\n", m.Port, dir, strings.Join(extra, "\n"))
	if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// Start starts the broker again (after Stop) and waits until it listens.
func (m *Mosquitto) Start() {
	m.t.Helper()
	m.cmd = exec.Command(m.bin, "-c", m.conf)
	m.cmd.Stdout, m.cmd.Stderr = io.Discard, io.Discard
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("Mosquitto (private): start: %v", err)
	}
	waitUntil(m.t, 10*time.Second, "the private Mosquitto to listen", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", m.Port), 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// Stop stops the broker cleanly (it saves its persistent state).
func (m *Mosquitto) Stop() {
	stopProcess(m.cmd, 10*time.Second)
	m.cmd = nil
}

// Influxd is a private InfluxDB 1.8 server with Flux enabled.
type Influxd struct {
	t      testing.TB
	bin    string
	conf   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	// URL of its HTTP API.
	URL string
}

// StartInfluxd starts influxd ($PDM_INFLUXD_BIN, default the services
// script's cache) and waits until it answers /ping. It is stopped when the
// test ends.
func StartInfluxd(t testing.TB) *Influxd {
	t.Helper()
	home, _ := os.UserHomeDir()
	p := &Influxd{t: t, bin: binary(t, "PDM_INFLUXD_BIN", filepath.Join(home, ".cache/pdm/influxdb-1.8.10/bin/influxd"), "InfluxDB")}
	dir := t.TempDir()
	// A free port may be taken by another process before influxd binds it
	// (many tests start servers at once): try other ports then.
	for attempt := 1; ; attempt++ {
		port, rpc := FreePort(t), FreePort(t)
		p.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
		p.conf = filepath.Join(dir, "influxdb.conf")
		conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = "%s/meta"
[data]
  dir = "%s/data"
  wal-dir = "%s/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%d"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`, rpc, dir, dir, dir, port)
		if err := os.WriteFile(p.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := p.start()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("InfluxDB (private): %v\n%s", err, out)
		}
		t.Logf("InfluxDB (private): %v; trying other ports", err)
	}
	t.Cleanup(p.Stop)
	return p
}

// Start starts influxd again (after Stop) and waits until it answers.
func (p *Influxd) Start() {
	p.t.Helper()
	if out, err := p.start(); err != nil {
		p.t.Fatalf("InfluxDB (private): %v\n%s", err, out)
	}
}

// start starts influxd and waits until it answers, or returns why not and
// its output.
func (p *Influxd) start() (string, error) {
	var out syncBuffer
	p.cmd = exec.Command(p.bin, "run", "-config", p.conf)
	p.cmd.Stdout, p.cmd.Stderr = &out, &out
	if err := p.cmd.Start(); err != nil {
		return "", fmt.Errorf("start: %w", err)
	}
	exited := make(chan struct{})
	cmd := p.cmd
	go func() { _ = cmd.Wait(); close(exited) }()
	p.exited = exited
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/ping")
		if err == nil {
			resp.Body.Close()
			return "", nil
		}
		select {
		case <-exited:
			p.cmd = nil
			return out.String(), errors.New("influxd exited before it answered")
		default:
		}
		if time.Now().After(deadline) {
			p.stop(5 * time.Second)
			return out.String(), errors.New("influxd did not answer within 90s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer collects a process's output (the last 64 KiB).
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	if len(b.b) > 64<<10 {
		b.b = b.b[len(b.b)-64<<10:]
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// Stop stops influxd cleanly.
func (p *Influxd) Stop() { p.stop(15 * time.Second) }

// stop asks influxd to stop and kills it when it has not exited within
// grace.
func (p *Influxd) stop(grace time.Duration) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

// InfluxURL returns the shared InfluxDB's URL (PDM_INFLUX_URL, default the
// services script's) and fails the test, naming InfluxDB, when it does not
// answer.
func InfluxURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("PDM_INFLUX_URL")
	if u == "" {
		u = "http://127.0.0.1:8086"
	}
	resp, err := http.Get(u + "/ping")
	if err != nil {
		t.Fatalf("InfluxDB is not reachable at %s (start it: deploy/local/services.sh up): %v", u, err)
	}
	resp.Body.Close()
	return u
}

// InfluxDatabase creates a database of the test's own on the InfluxDB at
// base. Under many tests creating and dropping databases at once,
// InfluxDB 1.8 now and then loses a CREATE DATABASE, so it creates until a
// probe point (measurement "probe") is accepted.
//
// The database is not dropped when the test ends: InfluxDB 1.8 crashes
// (SIGSEGV in storage/reads.defaultGroupKeyForSeries, a Flux read of a
// shard that a DROP DATABASE unmapped) when a query still runs on a
// database being dropped, and a test's pdm processes or background jobs
// may still be querying when its cleanup runs; the crash takes every other
// test down with it. Instead the name carries its creation time and each
// new test database drops those of earlier tests older than
// staleTestDatabase, long after anything reads them.
func InfluxDatabase(t testing.TB, base string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	now := time.Now()
	db := fmt.Sprintf("pdm_t_%d_%s", now.Unix(), hex.EncodeToString(b))
	query := func(q string) error {
		resp, err := http.PostForm(base+"/query", url.Values{"q": {q}})
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s: %s", q, resp.Status)
		}
		return nil
	}
	for _, old := range staleTestDatabases(base, now) {
		if err := query("DROP DATABASE " + old); err != nil {
			t.Logf("InfluxDB: drop %s: %v", old, err)
		}
	}
	waitUntil(t, 10*time.Second, "InfluxDB database "+db, func() bool {
		if query("CREATE DATABASE "+db) != nil {
			return false
		}
		resp, err := http.Post(base+"/write?db="+db, "text/plain", strings.NewReader("probe v=1 1\n"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	})
	return db
}

// staleTestDatabase is how long a test database is kept after it was
// created: longer than any test (and its processes) runs.
const staleTestDatabase = 30 * time.Minute

// staleTestDatabases lists the test databases (pdm_t_<unix seconds>_...)
// created more than staleTestDatabase before now. Errors list nothing:
// the sweep is housekeeping, the next test tries again.
func staleTestDatabases(base string, now time.Time) []string {
	resp, err := http.PostForm(base+"/query", url.Values{"q": {"SHOW DATABASES"}})
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return nil
	}
	var stale []string
	for _, r := range out.Results {
		for _, s := range r.Series {
			for _, v := range s.Values {
				if len(v) == 0 {
					continue
				}
				name, _ := v[0].(string)
				if created, ok := testDatabaseCreated(name); ok && now.Sub(created) > staleTestDatabase {
					stale = append(stale, name)
				}
			}
		}
	}
	return stale
}

// testDatabaseCreated reads the creation time from a test database's name.
func testDatabaseCreated(name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, "pdm_t_")
	if !ok {
		return time.Time{}, false
	}
	secs, _, ok := strings.Cut(rest, "_")
	if !ok {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// MQTTURL returns the shared broker's URL (PDM_MQTT_URL, default the
// services script's) and fails the test, naming Mosquitto, when nothing
// accepts connections there.
func MQTTURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("PDM_MQTT_URL")
	if u == "" {
		u = "tcp://127.0.0.1:1883"
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("Mosquitto: bad PDM_MQTT_URL %q", u)
	}
	c, err := net.DialTimeout("tcp", pu.Host, 2*time.Second)
	if err != nil {
		t.Fatalf("Mosquitto is not reachable at %s (start it: deploy/local/services.sh up): %v", u, err)
	}
	c.Close()
	return u
}

// RandomID returns 12 random hex digits for names of the test's own
// (databases, topic roots, client ids).
func RandomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
