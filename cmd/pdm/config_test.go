package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{
		"PDM_HTTP_ADDR":     "0.0.0.0:9000",
		"PDM_MQTT_URL":      "tcp://broker:1883",
		"PDM_INFLUX_BUCKET": "plant/autogen",
		"PDM_ONLY":          "ingest",
	}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "contract defaults", args: nil, env: func(string) string { return "" }, check: func(t *testing.T, c Config) {
			if c.HTTPAddr != "127.0.0.1:8080" || c.MQTTURL != "tcp://127.0.0.1:1883" || c.TopicRoot != "pdm/v1" ||
				c.InfluxURL != "http://127.0.0.1:8086" || c.InfluxBucket != "pdm" || c.InfluxToken != "" ||
				c.PGURL != "postgres:///pdm?host=/var/run/postgresql" || c.AdminToken != "" || c.Only != "" {
				t.Errorf("got %+v, want the contract's defaults", c)
			}
		}},
		{name: "env is read", args: nil, env: getenv, check: func(t *testing.T, c Config) {
			if c.HTTPAddr != "0.0.0.0:9000" || c.MQTTURL != "tcp://broker:1883" || c.InfluxBucket != "plant/autogen" || c.Only != "ingest" {
				t.Errorf("got %+v, want the environment's values", c)
			}
		}},
		{name: "flag wins over env", args: []string{"--http-addr", "127.0.0.1:0", "--only", "api", "--batch-interval", "1s"}, env: getenv,
			check: func(t *testing.T, c Config) {
				if c.HTTPAddr != "127.0.0.1:0" || c.Only != "api" || c.BatchInterval != time.Second {
					t.Errorf("got %+v, want the flags' values", c)
				}
			}},
		{name: "bad role", args: []string{"--only", "everything"}, env: getenv, wantErr: "--only must be"},
		{name: "stray argument", args: []string{"extra"}, env: getenv, wantErr: "unexpected arguments"},
		{name: "bad batch size", args: []string{"--batch-size", "0"}, env: getenv, wantErr: "must be positive"},
		{name: "bad dispatch env", args: nil, env: func(k string) string {
			if k == "PDM_DISPATCH_SPEED_KMH" {
				return "fast"
			}
			return ""
		}, wantErr: "dispatch-speed-kmh"},
		{name: "job intervals: defaults, env and flag", args: []string{"--reorder-every", "2m"}, env: func(k string) string {
			return map[string]string{"PDM_SLA_EVERY": "30s", "PDM_REORDER_EVERY": "1h", "PDM_MAP_TILES_URL": "http://tiles/{z}/{x}/{y}.png"}[k]
		}, check: func(t *testing.T, c Config) {
			got := []time.Duration{c.SLAEvery, c.ReorderEvery, c.SchedulesEvery, c.DispatchEvery}
			want := []time.Duration{30 * time.Second, 2 * time.Minute, 5 * time.Minute, time.Minute}
			if fmt.Sprint(got) != fmt.Sprint(want) || c.MapTilesURL != "http://tiles/{z}/{x}/{y}.png" {
				t.Errorf("got %v and tiles %q, want %v and the env's tiles", got, c.MapTilesURL, want)
			}
		}},
		{name: "bad job interval env", args: nil, env: func(k string) string {
			if k == "PDM_SCHEDULES_EVERY" {
				return "often"
			}
			return ""
		}, wantErr: "schedules-every"},
		{name: "job interval too short", args: []string{"--sla-every", "10ms"}, env: getenv, wantErr: "sla-every"},
		{name: "api read concurrency: default, env", args: nil, env: func(k string) string {
			return map[string]string{"PDM_API_READ_CONCURRENCY": "6"}[k]
		}, check: func(t *testing.T, c Config) {
			if c.APIReadConcurrency != 6 {
				t.Errorf("got %d, want the env's 6", c.APIReadConcurrency)
			}
		}},
		{name: "api read concurrency default", args: nil, env: func(string) string { return "" }, check: func(t *testing.T, c Config) {
			if c.APIReadConcurrency != 0 {
				t.Errorf("got %d, want 0 (twice the CPUs, decided by httpapi)", c.APIReadConcurrency)
			}
		}},
		{name: "bad api read concurrency env", args: nil, env: func(k string) string {
			return map[string]string{"PDM_API_READ_CONCURRENCY": "many"}[k]
		}, wantErr: "api-read-concurrency"},
		{name: "api order cache from env", args: nil, env: func(k string) string {
			return map[string]string{"PDM_API_ORDER_CACHE_MB": "256"}[k]
		}, check: func(t *testing.T, c Config) {
			if c.APIOrderCacheMB != 256 {
				t.Errorf("got %d, want the env's 256", c.APIOrderCacheMB)
			}
		}},
		{name: "api order cache off by flag", args: []string{"--api-order-cache-mb", "0"}, env: getenv, check: func(t *testing.T, c Config) {
			if c.APIOrderCacheMB != 0 || orderCacheBytes(c.APIOrderCacheMB) >= 0 {
				t.Errorf("got %d MiB (%d bytes), want 0, off", c.APIOrderCacheMB, orderCacheBytes(c.APIOrderCacheMB))
			}
		}},
		{name: "api order cache default", args: nil, env: func(string) string { return "" }, check: func(t *testing.T, c Config) {
			if got := orderCacheBytes(c.APIOrderCacheMB); got != 64<<20 {
				t.Errorf("got %d bytes, want 64 MiB", got)
			}
		}},
		{name: "negative api order cache", args: []string{"--api-order-cache-mb", "-5"}, env: getenv, wantErr: "api-order-cache-mb"},
		{name: "bad api order cache env", args: nil, env: func(k string) string {
			return map[string]string{"PDM_API_ORDER_CACHE_MB": "lots"}[k]
		}, wantErr: "api-order-cache-mb"},
		{name: "gc percent default", args: nil, env: func(string) string { return "" }, check: func(t *testing.T, c Config) {
			if c.GCPercent != 400 {
				t.Errorf("got %d, want 400", c.GCPercent)
			}
		}},
		{name: "bad gc percent env", args: nil, env: func(k string) string {
			return map[string]string{"PDM_GC_PERCENT": "high"}[k]
		}, wantErr: "gc-percent"},
		{name: "fleet score batch too big", args: []string{"--fleet-score-batch", "5000"}, env: getenv, wantErr: "fleet-score-batch"},
		{name: "fleet score batch env zero", args: nil, env: func(k string) string {
			if k == "PDM_FLEET_SCORE_BATCH" {
				return "0"
			}
			return getenv(k)
		}, wantErr: "fleet-score-batch"},
		{name: "fleet score concurrency zero", args: []string{"--fleet-score-concurrency", "0"}, env: getenv, wantErr: "fleet-score-concurrency"},
		{name: "unknown flag", args: []string{"--nope"}, env: getenv, wantErr: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig("serve", tt.args, tt.env, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			tt.check(t, c)
		})
	}
}

func TestRunCommands(t *testing.T) {
	noenv := func(string) string { return "" }
	ctx := context.Background()
	if err := run(ctx, nil, noenv, io.Discard, io.Discard); err == nil {
		t.Error("no command: got nil error, want one")
	}
	if err := run(ctx, []string{"frobnicate"}, noenv, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: got %v", err)
	}
	var out strings.Builder
	if err := run(ctx, []string{"version"}, noenv, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "pdm ") {
		t.Errorf("version: got %q, %v", out.String(), err)
	}
}

// A dependency that cannot be reached at start is an error naming it.
func TestServeFailsNamingAnUnreachableDependency(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"influxdb", map[string]string{"PDM_INFLUX_URL": "http://127.0.0.1:1"}, "influxdb unreachable"},
		{"postgresql", map[string]string{"PDM_PG_URL": "postgres://postgres@127.0.0.1:1/pdm?sslmode=disable&connect_timeout=1"}, "postgresql unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			cfg, err := parseConfig("serve", []string{"--http-addr", "127.0.0.1:0", "--start-timeout", "1s"}, getenv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = serve(ctx, cfg, io.Discard, io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// An ingest-only replica needs no PostgreSQL and serves health, readiness
// and metrics but not the API.
func TestServeIngestOnlyNeedsNoPostgres(t *testing.T) {
	env := newTestEnv(t)
	env.PGURL = "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"
	api, _ := startServe(t, env, "unused-token-0123456789abcdef", "--only", "ingest", "--start-timeout", "1s")
	base := strings.TrimSuffix(api.base, "/api/v1")
	get := func(path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz: got %d, want 200", got)
	}
	eventually(t, 10*time.Second, "/readyz to answer 200 (broker and InfluxDB up)", func() bool { return get("/readyz") == http.StatusOK })
	if got := get("/metrics"); got != http.StatusOK {
		t.Errorf("/metrics: got %d, want 200", got)
	}
	if got := get("/api/v1/work-orders"); got != http.StatusNotFound {
		t.Errorf("/api/v1/work-orders on an ingest-only replica: got %d, want 404", got)
	}
}
