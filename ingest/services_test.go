package ingest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/openpdm/pdm/deploy/local/servicetest"
)

// Helpers for tests against the real services (see HELPERS.md): a missing
// service fails the test with its name.

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func randID() string { return servicetest.RandomID() }

func mqttURL(t testing.TB) string { return servicetest.MQTTURL(t) }

func influxURL(t testing.TB) string { return servicetest.InfluxURL(t) }

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
func newInfluxDB(t testing.TB, base string) string { return servicetest.InfluxDatabase(t, base) }

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
