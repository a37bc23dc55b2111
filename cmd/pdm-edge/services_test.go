package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/ingest/influx"
	ingestmqtt "github.com/openpdm/pdm/ingest/mqtt"
	"github.com/stretchr/testify/require"
)

// Helpers for tests against real services (see HELPERS.md): a missing
// service fails the test with its name; the broker these tests stop is a
// private Mosquitto of their own.

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func randID() string { return servicetest.RandomID() }

func sharedMQTT(t testing.TB) string { return servicetest.MQTTURL(t) }

func waitFor(t testing.TB, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func influxURL(t testing.TB) string { return servicetest.InfluxURL(t) }

func influxQuery(base, db, q string) (map[string]any, error) {
	v := url.Values{"q": {q}}
	if db != "" {
		v.Set("db", db)
	}
	resp, err := http.PostForm(base+"/query", v)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	var out map[string]any
	return out, json.Unmarshal(body, &out)
}

func newInfluxDB(t testing.TB, base string) string { return servicetest.InfluxDatabase(t, base) }

// influxTimes returns, per asset, the timestamps (ms) stored for field.
func influxTimes(t testing.TB, base, db, field string) map[string][]int64 {
	t.Helper()
	out, err := influxQuery(base, db, fmt.Sprintf(`SELECT %q FROM telemetry GROUP BY asset`, field))
	require.NoError(t, err, "InfluxDB query")
	res := out["results"].([]any)[0].(map[string]any)
	if e, ok := res["error"]; ok {
		t.Fatalf("InfluxDB query: %v", e)
	}
	got := map[string][]int64{}
	series, _ := res["series"].([]any)
	for _, s := range series {
		sm := s.(map[string]any)
		asset := sm["tags"].(map[string]any)["asset"].(string)
		for _, row := range sm["values"].([]any) {
			ts, err := time.Parse(time.RFC3339Nano, row.([]any)[0].(string))
			require.NoError(t, err)
			got[asset] = append(got[asset], ts.UnixMilli())
		}
	}
	return got
}

func countInflux(base, db, field string) (int, error) {
	out, err := influxQuery(base, db, fmt.Sprintf(`SELECT count(%q) FROM telemetry`, field))
	if err != nil {
		return 0, err
	}
	res := out["results"].([]any)[0].(map[string]any)
	if e, ok := res["error"]; ok {
		return 0, fmt.Errorf("%v", e)
	}
	series, ok := res["series"].([]any)
	if !ok {
		return 0, nil
	}
	vals := series[0].(map[string]any)["values"].([]any)[0].([]any)
	return int(vals[1].(float64)), nil
}

// startIngest runs the platform's ingest pipeline (ingest/mqtt source,
// ingest/influx writer) against broker, writing to db.
func startIngest(t testing.TB, brokerURL, influxBase, db, root string) {
	t.Helper()
	w, err := influx.New(influx.Config{URL: influxBase, Bucket: db, Timeout: 5 * time.Second})
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	src, err := ingestmqtt.New(ingestmqtt.Config{URL: brokerURL, ClientID: "ingest-" + randID(),
		Topics: ingest.Subscriptions(root, ""), KeepAlive: 5 * time.Second, MaxReconnectInterval: 300 * time.Millisecond}, log)
	require.NoError(t, err)
	p, err := ingest.NewPipeline(ingest.Config{TopicRoot: root, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond},
		ingest.Deps{Source: src, Writer: w, Logger: log})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, 15*time.Second, "ingest pipeline to connect", func() bool { return p.Ready(context.Background()) == nil })
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("ingest pipeline did not stop")
		}
		w.Close()
	})
}

// agentBuild builds cmd/pdm-edge once for all tests of the package (they
// run in parallel; one compile instead of one each).
var agentBuild struct {
	once sync.Once
	dir  string
	bin  string
	out  []byte
	err  error
}

// TestMain removes the shared build after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if agentBuild.dir != "" {
		os.RemoveAll(agentBuild.dir)
	}
	os.Exit(code)
}

// buildAgent returns the path of a freshly built pdm-edge binary.
func buildAgent(t testing.TB) string {
	t.Helper()
	agentBuild.once.Do(func() {
		agentBuild.dir, agentBuild.err = os.MkdirTemp("", "pdm-edge-test-")
		if agentBuild.err != nil {
			return
		}
		agentBuild.bin = filepath.Join(agentBuild.dir, "pdm-edge")
		cmd := exec.Command("go", "build", "-o", agentBuild.bin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		agentBuild.out, agentBuild.err = cmd.CombinedOutput()
	})
	require.NoError(t, agentBuild.err, "go build ./cmd/pdm-edge: %s", agentBuild.out)
	return agentBuild.bin
}

// agentProc is a pdm-edge process.
type agentProc struct {
	cmd     *exec.Cmd
	metrics string // http://host:port/metrics
	logs    *os.File
}

func startAgentProc(t testing.TB, bin, config string, metricsPort int) *agentProc {
	t.Helper()
	logs, err := os.CreateTemp(t.TempDir(), "agent-*.log")
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", metricsPort)
	cmd := exec.Command(bin, "-config", config, "-metrics-addr", addr, "-log-level", "debug")
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	p := &agentProc{cmd: cmd, metrics: "http://" + addr + "/metrics", logs: logs}
	t.Cleanup(func() {
		if p.cmd != nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("agent log:\n%s", b)
		}
	})
	waitFor(t, 10*time.Second, "pdm-edge metrics endpoint", func() bool {
		_, err := p.metric("pdm_edge_queue_items")
		return err == nil
	})
	return p
}

// metric reads one unlabelled metric from the agent's /metrics.
func (p *agentProc) metric(name string) (float64, error) {
	resp, err := http.Get(p.metrics)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == name {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

func (p *agentProc) kill(t testing.TB) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
	p.cmd = nil
}

func (p *agentProc) term(t testing.TB) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "pdm-edge exits 0 on SIGTERM")
	case <-time.After(15 * time.Second):
		t.Fatal("pdm-edge did not stop within 15s of SIGTERM")
	}
	p.cmd = nil
}
