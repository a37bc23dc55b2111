package ingest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
)

// telegrafBin is Telegraf built with its MQTT output
// ($PDM_TELEGRAF_BIN; deploy/local/services.sh up builds it once).
func telegrafBin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("PDM_TELEGRAF_BIN")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "pdm", "telegraf-v1.37.2", "telegraf")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Telegraf binary not found at %s (set PDM_TELEGRAF_BIN; deploy/local/services.sh up builds it): %v", bin, err)
	}
	return bin
}

// TestTelegrafLineProtocol runs a real Telegraf whose MQTT output publishes
// per-CPU and total CPU series of one measurement (and memory) in line
// protocol into the pipeline: every series is stored under a metric of its
// own (tags folded into the name), nothing merges, nothing is rejected.
func TestTelegrafLineProtocol(t *testing.T) {
	t.Parallel()
	bin := telegrafBin(t)
	broker, iurl := mqttURL(t), influxURL(t)
	db := newInfluxDB(t, iurl)
	root := "test/" + randID() + "/pdm/v1"
	r := startRig(t, rigOpts{broker: broker, influxURL: iurl, db: db, root: root, clientID: "ingest-" + randID(),
		cfg: ingest.Config{IgnoreTags: []string{"host"}}})

	dir := t.TempDir()
	conf := filepath.Join(dir, "telegraf.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`
[agent]
  interval = "1s"
  flush_interval = "1s"
  hostname = "test-host"
[[inputs.cpu]]
  percpu = true
  totalcpu = true
[[inputs.mem]]
[[outputs.mqtt]]
  servers = [%q]
  topic = %q
  qos = 1
  layout = "batch"
  client_id = %q
  data_format = "influx"
`, strings.TrimPrefix(broker, "tcp://"), root+"/site-1/host-1/telemetry", "telegraf-"+randID())), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config", conf)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("telegraf output:\n%s", out.String())
		}
	}()

	// Telegraf's cpu input reports usage from its second gather on.
	want := []string{"cpu_cpu_total_usage_idle", "cpu_cpu0_usage_idle", "mem_used_percent"}
	var names []string
	waitFor(t, 60*time.Second, "Telegraf's series in InfluxDB", func() bool {
		select {
		case <-exited:
			t.Fatalf("telegraf exited")
		default:
		}
		names = fieldKeys(t, iurl, db)
		for _, w := range want {
			// The field key is indexed a moment before its point is readable.
			if !contains(names, w) || countPoints(t, iurl, db, w) == 0 {
				return false
			}
		}
		return true
	})
	require.Empty(t, r.p.Rejects(), "nothing rejected")
	// One series per CPU and one for the total, never one merged metric.
	var idle []string
	for _, n := range names {
		if strings.HasPrefix(n, "cpu_") && strings.HasSuffix(n, "_usage_idle") {
			idle = append(idle, n)
		}
	}
	require.GreaterOrEqual(t, len(idle), 2, "per-CPU and total series: %v", idle)
	require.NotContains(t, names, "cpu_usage_idle", "series merged under the measurement's name")
}

func fieldKeys(t testing.TB, base, db string) []string {
	out := influxQuery(t, base, db, `SHOW FIELD KEYS FROM telemetry`)
	res := out["results"].([]any)[0].(map[string]any)
	series, ok := res["series"].([]any)
	if !ok {
		return nil
	}
	var names []string
	for _, v := range series[0].(map[string]any)["values"].([]any) {
		names = append(names, v.([]any)[0].(string))
	}
	sort.Strings(names)
	return names
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
