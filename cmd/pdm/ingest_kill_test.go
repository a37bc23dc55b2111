package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/ingest"
)

// TestIngestSurvivesSIGKILL kills `pdm serve --only ingest` with SIGKILL
// mid-stream, starts it again under the same client id and then counts the
// readings in InfluxDB: every published reading is there exactly once.
// It subscribes as deployed, through a shared subscription.
// The broker is a private Mosquitto with persistence and an unbounded
// session queue, so what is published while pdm is down waits for it.
func TestIngestSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	broker := servicetest.StartMosquitto(t, "max_inflight_messages 1000").URL
	bin := filepath.Join(t.TempDir(), "pdm")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/pdm: %v\n%s", err, out)
	}
	env := append(os.Environ(),
		"PDM_PG_URL="+e.PGURL, "PDM_INFLUX_URL="+e.InfluxURL, "PDM_INFLUX_BUCKET="+e.Bucket,
		"PDM_MQTT_URL="+broker, "PDM_MQTT_TOPIC_ROOT="+e.TopicRoot, "PDM_HTTP_ADDR=127.0.0.1:0",
		"PDM_CLIENT_ID=kill-"+e.ID, "PDM_SHARE_GROUP=kill-"+e.ID, "PDM_ADMIN_TOKEN=kill-test-token-"+e.ID, "PDM_LOG_LEVEL=info")

	start := func() (*exec.Cmd, *syncBuffer) {
		var logs syncBuffer
		cmd := exec.Command(bin, "serve", "--only", "ingest")
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start pdm: %v", err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
		})
		eventually(t, 60*time.Second, "pdm to subscribe", func() bool {
			if cmd.ProcessState != nil {
				t.Fatalf("pdm exited: %s", logs.String())
			}
			return strings.Contains(logs.String(), "mqtt connected and subscribed")
		})
		return cmd, &logs
	}
	cmd, _ := start()

	pub := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("pub-" + e.ID).
		SetAutoReconnect(true).SetConnectRetry(true))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("Mosquitto (private): connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)

	const n = 4000
	var published atomic.Int64
	done := make(chan struct{})
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			r := ingest.Reading{TS: base.Add(time.Duration(i) * time.Millisecond)}
			for m := 0; m < 10; m++ {
				r.Metrics = append(r.Metrics, ingest.Metric{Name: fmt.Sprintf("m%d", m), Value: float64(i)})
			}
			tok := pub.Publish(ingest.TelemetryTopic(e.TopicRoot, "s1", fmt.Sprintf("a%d", i%5)), 1, false,
				ingest.AppendJSON(nil, "", 0, []ingest.Reading{r}))
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Errorf("Mosquitto (private): publish: %v", tok.Error())
				return
			}
			published.Add(1)
			if i%20 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()

	eventually(t, 60*time.Second, "readings stored before the kill", func() bool {
		c, _ := influxCount(e.InfluxURL, e.Bucket)
		return c > 0 && published.Load() >= n/3
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	before, _ := influxCount(e.InfluxURL, e.Bucket)
	start()
	<-done
	var got int
	eventually(t, 90*time.Second, fmt.Sprintf("all %d readings in InfluxDB", n), func() bool {
		got, _ = influxCount(e.InfluxURL, e.Bucket)
		if got > n {
			t.Fatalf("InfluxDB has %d readings, more than the %d published", got, n)
		}
		return got == n
	})
	t.Logf("killed with %d of %d stored; after restart %d", before, n, got)
}

// influxCount counts the stored readings (points of metric m0).
func influxCount(base, db string) (int, error) {
	v := url.Values{"q": {`SELECT count("m0") FROM telemetry`}, "db": {db}}
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
