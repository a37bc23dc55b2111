package ingest_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Helpers for tests against the real services (see HELPERS.md): a missing
// service fails the test with its name.

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func randID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mqttURL(t testing.TB) string {
	t.Helper()
	u := envOr("PDM_MQTT_URL", "tcp://127.0.0.1:1883")
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

func influxURL(t testing.TB) string {
	t.Helper()
	u := envOr("PDM_INFLUX_URL", "http://127.0.0.1:8086")
	resp, err := http.Get(u + "/ping")
	if err != nil {
		t.Fatalf("InfluxDB is not reachable at %s (start it: deploy/local/services.sh up): %v", u, err)
	}
	resp.Body.Close()
	return u
}

// influxQuery runs an InfluxQL statement and returns the decoded response.
func influxQuery(t testing.TB, base, db, q string) map[string]any {
	t.Helper()
	v := url.Values{"q": {q}}
	if db != "" {
		v.Set("db", db)
	}
	resp, err := http.PostForm(base+"/query", v)
	if err != nil {
		t.Fatalf("InfluxDB query %q: %v", q, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("InfluxDB query %q: HTTP %d: %s", q, resp.StatusCode, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("InfluxDB query %q: %v", q, err)
	}
	return out
}

// newInfluxDB creates a database of its own for the test and drops it after.
func newInfluxDB(t testing.TB, base string) string {
	t.Helper()
	db := "pdm_t_" + randID()
	// CREATE DATABASE on the shared server has been seen not to stick while
	// many tests create and drop theirs: create until a probe write works.
	waitFor(t, 10*time.Second, "InfluxDB database "+db, func() bool {
		influxQuery(t, base, "", "CREATE DATABASE "+db)
		resp, err := http.Post(base+"/write?db="+db, "text/plain", strings.NewReader("probe v=1 1\n"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	})
	t.Cleanup(func() {
		v := url.Values{"q": {"DROP DATABASE " + db}}
		if resp, err := http.PostForm(base+"/query", v); err == nil {
			resp.Body.Close()
		}
	})
	return db
}

// countPoints returns the number of points (readings) of field in db.
func countPoints(t testing.TB, base, db, field string) int {
	t.Helper()
	out := influxQuery(t, base, db, fmt.Sprintf(`SELECT count(%q) FROM telemetry`, field))
	res := out["results"].([]any)[0].(map[string]any)
	if e, ok := res["error"]; ok {
		t.Fatalf("InfluxDB count: %v", e)
	}
	series, ok := res["series"].([]any)
	if !ok {
		return 0
	}
	vals := series[0].(map[string]any)["values"].([]any)[0].([]any)
	return int(vals[1].(float64))
}

// countPointsErr is countPoints for polling while InfluxDB may be down.
func countPointsErr(base, db, field string) (int, error) {
	v := url.Values{"q": {fmt.Sprintf(`SELECT count(%q) FROM telemetry`, field)}, "db": {db}}
	resp, err := http.PostForm(base+"/query", v)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Error  string
			Series []struct{ Values [][]any }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	if len(out.Results) == 0 || out.Results[0].Error != "" {
		return 0, fmt.Errorf("count: %+v", out)
	}
	if len(out.Results[0].Series) == 0 {
		return 0, nil
	}
	return int(out.Results[0].Series[0].Values[0][1].(float64)), nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// publisher connects a QoS 1 publisher.
func publisher(t testing.TB, broker string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(broker).SetClientID("pub-" + randID()).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetMaxReconnectInterval(time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("Mosquitto: publisher connect to %s: %v", broker, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t testing.TB, c paho.Client, topic string, payload []byte) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		tok := c.Publish(topic, 1, false, payload)
		if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
			return
		}
		if attempt > 100 {
			t.Fatalf("Mosquitto: publish %s: %v", topic, tok.Error())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// privateMosquitto runs a broker of the test's own on a free port, with
// persistence, for tests that stop and restart it.
type privateMosquitto struct {
	t    testing.TB
	conf string
	URL  string
	cmd  *exec.Cmd
	port int
}

func startPrivateMosquitto(t testing.TB) *privateMosquitto {
	t.Helper()
	bin := envOr("PDM_MOSQUITTO_BIN", "/usr/sbin/mosquitto")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Mosquitto binary not found at %s (PDM_MOSQUITTO_BIN): %v", bin, err)
	}
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	cfg := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nautosave_interval 1\nmax_queued_messages 0\nmax_inflight_messages 5000\n", port, dir)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &privateMosquitto{t: t, conf: conf, URL: fmt.Sprintf("tcp://127.0.0.1:%d", port), port: port}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

func (m *privateMosquitto) Start() {
	m.t.Helper()
	m.cmd = exec.Command(envOr("PDM_MOSQUITTO_BIN", "/usr/sbin/mosquitto"), "-c", m.conf)
	m.cmd.Stdout, m.cmd.Stderr = io.Discard, io.Discard
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("Mosquitto (private): start: %v", err)
	}
	waitFor(m.t, 10*time.Second, "private Mosquitto to listen", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", m.port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// Stop stops the broker gracefully (it saves its persistent state).
func (m *privateMosquitto) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-done
	}
	m.cmd = nil
}

// privateInflux runs an influxd of the test's own on a free port.
type privateInflux struct {
	t    testing.TB
	conf string
	URL  string
	cmd  *exec.Cmd
}

func startPrivateInflux(t testing.TB) *privateInflux {
	t.Helper()
	bin := os.Getenv("PDM_INFLUXD_BIN")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache/pdm/influxdb-1.8.10/bin/influxd")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("InfluxDB binary not found at %s (PDM_INFLUXD_BIN): %v", bin, err)
	}
	dir := t.TempDir()
	port, rpc := freePort(t), freePort(t)
	conf := filepath.Join(dir, "influxdb.conf")
	cfg := fmt.Sprintf(`reporting-disabled = true
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
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &privateInflux{t: t, conf: conf, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

func (p *privateInflux) Start() {
	p.t.Helper()
	bin := os.Getenv("PDM_INFLUXD_BIN")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache/pdm/influxdb-1.8.10/bin/influxd")
	}
	p.cmd = exec.Command(bin, "run", "-config", p.conf)
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, io.Discard
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("InfluxDB (private): start: %v", err)
	}
	waitFor(p.t, 30*time.Second, "private InfluxDB to answer", func() bool {
		resp, err := http.Get(p.URL + "/ping")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

func (p *privateInflux) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}
