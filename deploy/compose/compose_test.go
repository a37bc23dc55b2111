// Package compose holds pdm's Docker Compose deployment (compose.yaml,
// Grafana provisioning and dashboards, Prometheus scraping); its test checks
// that the files are well formed and consistent with each other.
package compose

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, s := range []string{"pdm-1", "pdm-2", "pdm-3", "emqx", "influxdb", "postgres", "prometheus", "grafana"} {
		if _, ok := f.Services[s]; !ok {
			t.Errorf("service %s missing", s)
		}
	}
	ids := map[string]bool{}
	for _, s := range []string{"pdm-1", "pdm-2", "pdm-3"} {
		env := f.Services[s].Environment
		for _, k := range []string{"PDM_MQTT_URL", "PDM_SHARE_GROUP", "PDM_INFLUX_URL", "PDM_INFLUX_TOKEN", "PDM_PG_URL", "PDM_CLIENT_ID"} {
			if env[k] == "" {
				t.Errorf("%s: %s not set", s, k)
			}
		}
		if ids[env["PDM_CLIENT_ID"]] {
			t.Errorf("%s: MQTT client id %q is not unique", s, env["PDM_CLIENT_ID"])
		}
		ids[env["PDM_CLIENT_ID"]] = true
		if env["PDM_INFLUX_TOKEN"] != f.Services["influxdb"].Environment["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] {
			t.Errorf("%s: InfluxDB token differs from the one InfluxDB is set up with", s)
		}
	}
	if f.Services["emqx"].Environment["EMQX_MQTT__SHARED_SUBSCRIPTION_STRATEGY"] == "" {
		t.Error("EMQX shared-subscription strategy not set")
	}
	// Every bind-mounted file or folder exists.
	for name, s := range f.Services {
		for _, v := range s.Volumes {
			src := strings.SplitN(v, ":", 2)[0]
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			}
		}
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	for _, p := range []string{"grafana/provisioning/datasources/datasources.yaml", "grafana/provisioning/dashboards/dashboards.yaml", "prometheus/prometheus.yml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	dashboards, _ := filepath.Glob("grafana/dashboards/*.json")
	if len(dashboards) < 2 {
		t.Fatalf("want the telemetry and the pdm dashboards, got %v", dashboards)
	}
	for _, p := range dashboards {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID    string `json:"uid"`
			Title  string `json:"title"`
			Panels []struct {
				Datasource struct{ UID string } `json:"datasource"`
				Targets    []map[string]any     `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if d.UID == "" || len(d.Panels) == 0 {
			t.Errorf("%s: no uid or no panels", p)
		}
		for _, pn := range d.Panels {
			if pn.Datasource.UID != "influxdb" && pn.Datasource.UID != "prometheus" {
				t.Errorf("%s: panel with unknown data source %q", p, pn.Datasource.UID)
			}
			if len(pn.Targets) == 0 {
				t.Errorf("%s: panel without queries", p)
			}
		}
	}
}
