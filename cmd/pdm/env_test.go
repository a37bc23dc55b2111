package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/deploy/local/servicetest"
)

// testEnv is one test's private slice of the real services: its own
// PostgreSQL database, InfluxDB database and MQTT topic root.
type testEnv struct {
	PGURL     string
	InfluxURL string
	Bucket    string
	MQTTURL   string
	TopicRoot string
	ID        string
	DataDir   string // the signal spool's directory
}

func getenvDefault(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func randomID(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newTestEnv creates the private databases and fails the test, naming the
// service, when one of PostgreSQL, Mosquitto or InfluxDB cannot be reached.
func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := randomID(t)
	e := &testEnv{
		InfluxURL: getenvDefault("PDM_INFLUX_URL", "http://127.0.0.1:8086"),
		MQTTURL:   getenvDefault("PDM_MQTT_URL", "tcp://127.0.0.1:1883"),
		TopicRoot: "test/" + id + "/pdm/v1",
		ID:        id,
		DataDir:   t.TempDir(),
	}

	// PostgreSQL: a fresh database, dropped afterwards.
	base := getenvDefault("PDM_PG_URL", "postgres://postgres@127.0.0.1:5432/pdm?sslmode=disable")
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL not reachable at %s (run deploy/local/services.sh up): %v", base, err)
	}
	dbName := "pdm_t_" + id
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+dbName); err != nil {
		t.Fatalf("PostgreSQL: create database: %v", err)
	}
	admin.Close(ctx)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("PDM_PG_URL: %v", err)
	}
	u.Path = "/" + dbName
	e.PGURL = u.String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)"); err != nil {
			t.Logf("cleanup: drop %s: %v", dbName, err)
		}
	})

	// Mosquitto.
	mu, err := url.Parse(e.MQTTURL)
	if err != nil {
		t.Fatalf("PDM_MQTT_URL: %v", err)
	}
	conn, err := net.DialTimeout("tcp", mu.Host, 3*time.Second)
	if err != nil {
		t.Fatalf("Mosquitto not reachable at %s (run deploy/local/services.sh up): %v", e.MQTTURL, err)
	}
	conn.Close()

	// InfluxDB: a fresh database, dropped afterwards.
	e.Bucket = servicetest.InfluxDatabase(t, servicetest.InfluxURL(t))
	return e
}

// getenv returns a getenv func that answers from m first, then the real
// environment, so run() sees the test's private services.
func (e *testEnv) getenv(m map[string]string) func(string) string {
	base := map[string]string{
		"PDM_PG_URL":          e.PGURL,
		"PDM_INFLUX_URL":      e.InfluxURL,
		"PDM_INFLUX_BUCKET":   e.Bucket,
		"PDM_MQTT_URL":        e.MQTTURL,
		"PDM_MQTT_TOPIC_ROOT": e.TopicRoot,
		"PDM_CLIENT_ID":       "pdm-test-" + e.ID,
		"PDM_SHARE_GROUP":     "pdm-test-" + e.ID,
		"PDM_DATA_DIR":        e.DataDir,
	}
	for k, v := range m {
		base[k] = v
	}
	return func(k string) string {
		if v, ok := base[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
}
