package simulators

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Truth is the ground truth of a scenario run: which asset fails when, how
// and on which metric. Its JSON form is the truth file pdm-sim writes and
// pdm-sim eval reads.
type Truth struct {
	Scenario string    `json:"scenario"`
	Seed     uint64    `json:"seed"`
	Site     string    `json:"site"`
	Start    time.Time `json:"start"`
	// End is the end of the simulated time that was published (exclusive):
	// the planned end before and during a run, the actual end after it.
	// Nil while an open-ended run has not stopped.
	End      *time.Time   `json:"end,omitempty"`
	Interval string       `json:"interval"`
	Assets   []AssetTruth `json:"assets"`
}

// AssetTruth is one asset's truth. Failure fields are empty for healthy
// assets.
type AssetTruth struct {
	Code    string `json:"code"`
	Type    string `json:"type"`
	Profile string `json:"profile"`
	// Degradation is none, linear, exponential or step.
	Degradation Degradation `json:"degradation"`
	// Gradual is true for linear and exponential wear: failures that a
	// platform can see coming.
	Gradual     bool       `json:"gradual"`
	FailureMode string     `json:"failure_mode,omitempty"`
	Metric      string     `json:"metric,omitempty"`
	FailValue   *float64   `json:"fail_value,omitempty"`
	Onset       *time.Time `json:"onset,omitempty"`
	FailureAt   *time.Time `json:"failure_at,omitempty"`
}

// Fails reports whether the asset has a failure.
func (a AssetTruth) Fails() bool { return a.FailureAt != nil }

// Truth returns the scenario's ground truth, with End the planned end.
func (s *Scenario) Truth() Truth {
	t := Truth{Scenario: s.Name, Seed: s.Seed, Site: s.Site, Start: s.Start, Interval: s.Interval.String()}
	if end, ok := s.End(); ok {
		t.End = &end
	}
	for _, m := range s.Assets {
		p := m.Profile()
		a := AssetTruth{Code: m.Code(), Type: m.Type().Name, Profile: p.Name, Degradation: p.Degradation}
		if p.Degradation != None {
			onset, fail, v := p.Onset, p.FailAt, p.FailValue
			a.Gradual = p.Degradation == Linear || p.Degradation == Exponential
			a.FailureMode, a.Metric, a.FailValue, a.Onset, a.FailureAt = p.FailureMode, p.Metric, &v, &onset, &fail
		}
		t.Assets = append(t.Assets, a)
	}
	return t
}

// WriteFile writes the truth as indented JSON, atomically (temporary file
// and rename), so a reader never sees half a file.
func (t Truth) WriteFile(path string) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".truth-*")
	if err != nil {
		return fmt.Errorf("write truth: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write truth: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write truth: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write truth: %w", err)
	}
	return nil
}

// ReadTruth reads a truth file.
func ReadTruth(path string) (Truth, error) {
	var t Truth
	b, err := os.ReadFile(path)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("truth %s: %w", path, err)
	}
	if t.Site == "" || t.Start.IsZero() {
		return t, fmt.Errorf("truth %s: missing site or start", path)
	}
	return t, nil
}
