package kubernetes

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// helmBin is Helm v3 built from the Go module proxy ($PDM_HELM_BIN;
// deploy/local/services.sh up builds it once).
func helmBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PDM_HELM_BIN")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "pdm", "helm-v3.22.0", "helm")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("helm not found at %s (set PDM_HELM_BIN; deploy/local/services.sh up builds it): %v", bin, err)
	}
	return bin
}

func helm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// No cluster, no repositories: keep helm's state out of $HOME.
	dir := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+dir, "HELM_CONFIG_HOME="+dir, "HELM_DATA_HOME="+dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// rendered are the chart's objects, decoded strictly.
type rendered struct {
	statefulSets []appsv1.StatefulSet
	services     []corev1.Service
	secrets      []corev1.Secret
	pdbs         []policyv1.PodDisruptionBudget
	hpas         []autoscalingv2.HorizontalPodAutoscaler
}

func render(t *testing.T, values string) rendered {
	t.Helper()
	out := helm(t, "template", "pdm", "pdm", "--namespace", "plant", "--kube-version", "1.33.0", "--values", values)
	var r rendered
	for _, doc := range strings.Split(out, "\n---") {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, doc)
		}
		if meta.Kind == "" {
			continue // comments only
		}
		// Strict: unknown or duplicate fields are errors.
		decode := func(v any) {
			if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
				t.Fatalf("%s %s does not decode strictly: %v\n%s", meta.APIVersion, meta.Kind, err, doc)
			}
		}
		switch meta.APIVersion + " " + meta.Kind {
		case "apps/v1 StatefulSet":
			var o appsv1.StatefulSet
			decode(&o)
			r.statefulSets = append(r.statefulSets, o)
		case "v1 Service":
			var o corev1.Service
			decode(&o)
			r.services = append(r.services, o)
		case "v1 Secret":
			var o corev1.Secret
			decode(&o)
			r.secrets = append(r.secrets, o)
		case "policy/v1 PodDisruptionBudget":
			var o policyv1.PodDisruptionBudget
			decode(&o)
			r.pdbs = append(r.pdbs, o)
		case "autoscaling/v2 HorizontalPodAutoscaler":
			var o autoscalingv2.HorizontalPodAutoscaler
			decode(&o)
			r.hpas = append(r.hpas, o)
		default:
			t.Fatalf("unexpected object %s %s", meta.APIVersion, meta.Kind)
		}
	}
	return r
}

func TestHelmLint(t *testing.T) {
	for _, v := range []string{"pdm/ci/test-values.yaml", "pdm/ci/roles-values.yaml"} {
		helm(t, "lint", "--strict", "pdm", "--values", v)
	}
}

func TestChartObjects(t *testing.T) {
	for _, tc := range []struct {
		values string
		roles  []string
		secret bool
	}{
		{"pdm/ci/test-values.yaml", []string{"all"}, true},
		{"pdm/ci/roles-values.yaml", []string{"api", "ingest", "predict"}, false},
	} {
		t.Run(filepath.Base(tc.values), func(t *testing.T) {
			r := render(t, tc.values)
			if len(r.statefulSets) != len(tc.roles) || len(r.pdbs) != len(tc.roles) {
				t.Fatalf("want a StatefulSet and a PDB per role %v, got %d and %d", tc.roles, len(r.statefulSets), len(r.pdbs))
			}
			if (len(r.secrets) == 1) != tc.secret {
				t.Fatalf("secrets: %d", len(r.secrets))
			}
			for i, ss := range r.statefulSets {
				checkStatefulSet(t, ss, r.pdbs[i])
			}
			for _, h := range r.hpas {
				found := false
				for _, ss := range r.statefulSets {
					found = found || (h.Spec.ScaleTargetRef.Kind == "StatefulSet" && h.Spec.ScaleTargetRef.Name == ss.Name)
				}
				if !found {
					t.Errorf("HPA %s scales %v, which is not rendered", h.Name, h.Spec.ScaleTargetRef)
				}
				if strings.HasSuffix(h.Name, "-all") || strings.HasSuffix(h.Name, "-ingest") {
					lag := false
					for _, m := range h.Spec.Metrics {
						lag = lag || (m.Type == autoscalingv2.PodsMetricSourceType && m.Pods.Metric.Name == "pdm_ingest_lag_seconds")
					}
					if !lag {
						t.Errorf("HPA %s does not scale on ingest lag", h.Name)
					}
				}
			}
			if len(r.hpas) == 0 {
				t.Error("no HorizontalPodAutoscaler rendered")
			}
		})
	}
}

func checkStatefulSet(t *testing.T, ss appsv1.StatefulSet, pdb policyv1.PodDisruptionBudget) {
	t.Helper()
	pod := ss.Spec.Template
	for k, v := range ss.Spec.Selector.MatchLabels {
		if pod.Labels[k] != v {
			t.Errorf("%s: selector %s=%s does not match the pod labels", ss.Name, k, v)
		}
	}
	for k, v := range pdb.Spec.Selector.MatchLabels {
		if pod.Labels[k] != v {
			t.Errorf("PDB %s: selector %s=%s does not match %s's pods", pdb.Name, k, v, ss.Name)
		}
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PDB %s: maxUnavailable %v", pdb.Name, pdb.Spec.MaxUnavailable)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%s: %d containers", ss.Name, len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: no HTTP %s probe", ss.Name, name)
		}
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("%s: readiness on %s", ss.Name, c.ReadinessProbe.HTTPGet.Path)
	}
	// Drain: preStop pause + ingest drain (15 s) + HTTP shutdown (10 s)
	// fit in the grace period.
	grace := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	var pause int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		pause = c.Lifecycle.PreStop.Sleep.Seconds
	}
	if pause+15+10 >= grace {
		t.Errorf("%s: preStop %ds + drain 25s does not fit in terminationGracePeriodSeconds %d", ss.Name, pause, grace)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	for _, k := range []string{"PDM_CLIENT_ID", "PDM_MQTT_URL", "PDM_SHARE_GROUP", "PDM_INFLUX_URL", "PDM_PG_URL", "PDM_INFLUX_TOKEN", "PDM_ADMIN_TOKEN"} {
		if _, ok := env[k]; !ok {
			t.Errorf("%s: %s not set", ss.Name, k)
		}
	}
	if env["PDM_CLIENT_ID"].Value != "$(POD_NAME)" {
		t.Errorf("%s: the MQTT client id must be the stable pod name, is %q", ss.Name, env["PDM_CLIENT_ID"].Value)
	}
	if ss.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("%s: pod management %q", ss.Name, ss.Spec.PodManagementPolicy)
	}
}
