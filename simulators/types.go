package simulators

import "fmt"

// MetricSpec describes one metric a device type reports and its healthy
// behaviour.
type MetricSpec struct {
	// Name is the metric name in payloads (ingest.ValidMetricName).
	Name string `yaml:"name" json:"name"`
	// Base is the healthy mean value. For a counter it is the largest
	// initial count an asset starts with (each asset draws its own).
	Base float64 `yaml:"base" json:"base"`
	// Noise is the standard deviation of white noise per reading.
	Noise float64 `yaml:"noise" json:"noise"`
	// Wander is the amplitude of slow, smooth noise (knots every 6 h) on
	// top of the white noise: healthy machines drift a little.
	Wander float64 `yaml:"wander" json:"wander"`
	// Min clamps values from below (physical quantities are not negative).
	Min float64 `yaml:"min" json:"min"`
	// Cyclic says the metric follows the daily and seasonal cycles of a
	// profile (load, ambient temperature). Vibration usually does not.
	Cyclic bool `yaml:"cyclic" json:"cyclic"`
	// Counter marks a monotonically increasing counter (running_hours):
	// initial count plus hours since the scenario start; no noise.
	Counter bool `yaml:"counter" json:"counter"`
}

// Type is an asset type and the metrics its devices report.
type Type struct {
	Name    string       `yaml:"name" json:"name"`
	Metrics []MetricSpec `yaml:"metrics" json:"metrics"`
}

// Metric returns the spec of the named metric and whether the type has it.
func (t Type) Metric(name string) (MetricSpec, bool) {
	for _, m := range t.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return MetricSpec{}, false
}

// BuiltinTypes returns the built-in asset types pump, motor and fan with
// typical healthy values (vibration in mm/s RMS, temperatures in °C,
// current in A, pressure in bar, flows in m³/h). A fresh map each call.
func BuiltinTypes() map[string]Type {
	hours := MetricSpec{Name: "running_hours", Base: 40000, Counter: true}
	return map[string]Type{
		"pump": {Name: "pump", Metrics: []MetricSpec{
			{Name: "vibration_rms", Base: 2.2, Noise: 0.08, Wander: 0.08},
			{Name: "bearing_temp_c", Base: 58, Noise: 0.4, Wander: 0.8, Cyclic: true},
			{Name: "motor_current_a", Base: 32, Noise: 0.4, Wander: 0.4, Cyclic: true},
			{Name: "pressure_bar", Base: 6.2, Noise: 0.04, Wander: 0.05, Cyclic: true},
			{Name: "flow_m3h", Base: 118, Noise: 1.2, Wander: 1.5, Cyclic: true},
			hours,
		}},
		"motor": {Name: "motor", Metrics: []MetricSpec{
			{Name: "vibration_rms", Base: 1.6, Noise: 0.06, Wander: 0.06},
			{Name: "bearing_temp_c", Base: 62, Noise: 0.4, Wander: 0.8, Cyclic: true},
			{Name: "winding_temp_c", Base: 78, Noise: 0.5, Wander: 1.0, Cyclic: true},
			{Name: "motor_current_a", Base: 46, Noise: 0.5, Wander: 0.5, Cyclic: true},
			hours,
		}},
		"fan": {Name: "fan", Metrics: []MetricSpec{
			{Name: "vibration_rms", Base: 2.8, Noise: 0.1, Wander: 0.1},
			{Name: "bearing_temp_c", Base: 46, Noise: 0.4, Wander: 0.8, Cyclic: true},
			{Name: "motor_current_a", Base: 11, Noise: 0.15, Wander: 0.15, Cyclic: true},
			{Name: "airflow_m3h", Base: 8200, Noise: 50, Wander: 80, Cyclic: true},
			hours,
		}},
	}
}

func (t Type) validate() error {
	if t.Name == "" {
		return fmt.Errorf("type without a name")
	}
	if len(t.Metrics) == 0 {
		return fmt.Errorf("type %q: no metrics", t.Name)
	}
	seen := map[string]bool{}
	for _, m := range t.Metrics {
		if !validMetricName(m.Name) {
			return fmt.Errorf("type %q: invalid metric name %q (want [a-z][a-z0-9_]{0,63})", t.Name, m.Name)
		}
		if seen[m.Name] {
			return fmt.Errorf("type %q: metric %q listed twice", t.Name, m.Name)
		}
		seen[m.Name] = true
		if m.Noise < 0 || m.Wander < 0 {
			return fmt.Errorf("type %q metric %q: noise and wander must not be negative", t.Name, m.Name)
		}
		if !bounded(m.Base) || !bounded(m.Noise) || !bounded(m.Wander) || !bounded(m.Min) {
			return fmt.Errorf("type %q metric %q: values must be finite (|v| ≤ 1e12)", t.Name, m.Name)
		}
	}
	return nil
}
