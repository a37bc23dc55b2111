package simulators

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/rules"
)

//go:embed scenarios/*.yaml
var builtinScenarios embed.FS

// BuiltinScenario returns the YAML of a scenario shipped with the binary:
// "demo" (about 20 assets, two degrading fast enough for a live demo),
// "eval" (60 days, 50 assets: the evaluation scenario) or "load" (10,000
// assets × 5 metrics for one hour: throughput measurements).
func BuiltinScenario(name string) ([]byte, error) {
	b, err := builtinScenarios.ReadFile("scenarios/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no built-in scenario %q (have demo, eval, load, rig, stress)", name)
	}
	return b, nil
}

// LoadScenario reads a scenario from a file, or the built-in scenario of
// that name when no such regular file exists and nameOrPath has no slash and no
// ".yaml"/".yml" suffix.
func LoadScenario(nameOrPath string, now time.Time) (*Scenario, error) {
	var (
		b   []byte
		err error
	)
	if fi, serr := os.Stat(nameOrPath); (serr != nil || !fi.Mode().IsRegular()) && !strings.ContainsRune(nameOrPath, '/') &&
		!strings.HasSuffix(nameOrPath, ".yaml") && !strings.HasSuffix(nameOrPath, ".yml") {
		b, err = BuiltinScenario(nameOrPath)
	} else {
		b, err = os.ReadFile(nameOrPath)
	}
	if err != nil {
		return nil, err
	}
	s, err := ParseScenario(b, now)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", nameOrPath, err)
	}
	return s, nil
}

// Scenario is a parsed, validated fleet: where and when it runs, how fast,
// and the model of every asset.
type Scenario struct {
	Name string
	Seed uint64
	Site string
	// Start is the simulated time of the first reading.
	Start time.Time
	// Duration is the simulated length; 0 runs until stopped.
	Duration time.Duration
	// Interval is the sampling interval in simulated time.
	Interval time.Duration
	// Acceleration is simulated seconds per wall second; 0 is as fast as
	// possible. Simulated time never runs ahead of the wall clock.
	Acceleration float64
	// MaxRate caps readings per wall-clock second (0: no cap); see
	// FleetOptions.MaxRate.
	MaxRate float64
	// Batch is the most readings of one asset per message.
	Batch int
	// Gateways are assigned to assets round-robin; empty: no gateway.
	Gateways []string
	// Assets are the device models in scenario order.
	Assets []*Model
	// Rules are the rules (contract's rule resource) that the scenario
	// expects the platform to run; a demo or test posts them to
	// /api/v1/rules. Their JSON form is the contract's.
	Rules []rules.Rule
}

// End returns the end of simulated time (exclusive) and false when the
// scenario is open-ended.
func (s *Scenario) End() (time.Time, bool) {
	if s.Duration == 0 {
		return time.Time{}, false
	}
	return s.Start.Add(s.Duration), true
}

// Gateway returns the gateway of the i-th asset ("" when none).
func (s *Scenario) Gateway(i int) string {
	if len(s.Gateways) == 0 {
		return ""
	}
	return s.Gateways[i%len(s.Gateways)]
}

// scenarioFile is the YAML form.
type scenarioFile struct {
	Name         string           `yaml:"name"`
	Seed         *uint64          `yaml:"seed"`
	Site         string           `yaml:"site"`
	Start        string           `yaml:"start"`
	Duration     string           `yaml:"duration"`
	Interval     string           `yaml:"interval"`
	Acceleration string           `yaml:"acceleration"`
	Batch        int              `yaml:"batch"`
	MaxRate      float64          `yaml:"max_rate"`
	Gateways     []string         `yaml:"gateways"`
	Noise        *float64         `yaml:"noise"`
	Types        []Type           `yaml:"types"`
	Assets       []groupFile      `yaml:"assets"`
	Rules        []map[string]any `yaml:"rules"`
}

type groupFile struct {
	Type    string `yaml:"type"`
	Count   int    `yaml:"count"`
	Code    string `yaml:"code"`
	Prefix  string `yaml:"prefix"`
	Profile string `yaml:"profile"`

	Metric        string             `yaml:"metric"`
	FailureMode   string             `yaml:"failure_mode"`
	FailureAt     string             `yaml:"failure_at"`
	FailureSpread string             `yaml:"failure_spread"`
	Onset         string             `yaml:"onset"`
	Ramp          string             `yaml:"ramp"`
	FailValue     *float64           `yaml:"fail_value"`
	Tau           string             `yaml:"tau"`
	Affects       map[string]float64 `yaml:"affects"`
	EventCode     string             `yaml:"event_code"`

	Noise        *float64      `yaml:"noise"`
	DailyAmp     *float64      `yaml:"daily_amp"`
	SeasonAmp    *float64      `yaml:"season_amp"`
	SeasonPeriod string        `yaml:"season_period"`
	SpikeProb    *float64      `yaml:"spike_prob"`
	SpikeScale   *float64      `yaml:"spike_scale"`
	Dropout      *dropoutFile  `yaml:"dropout"`
	Disturb      []disturbFile `yaml:"disturb"`
	// ShakesWith puts the group's assets on one rig (a shaft, a frame,
	// a skid) with a degrading asset: its degrading metric moves theirs
	// by Share of its own degradation (see Model).
	ShakesWith *shakeFile `yaml:"shakes_with"`
}

type shakeFile struct {
	Asset string  `yaml:"asset"`
	Share float64 `yaml:"share"`
}

type disturbFile struct {
	Kind   string  `yaml:"kind"`
	Metric string  `yaml:"metric"`
	Amp    float64 `yaml:"amp"`
	Tau    string  `yaml:"tau"`
	At     string  `yaml:"at"`
	Every  string  `yaml:"every"`
	Length string  `yaml:"length"`
	Prob   float64 `yaml:"prob"`
}

type dropoutFile struct {
	Every   string   `yaml:"every"`
	Length  string   `yaml:"length"`
	Prob    float64  `yaml:"prob"`
	Metrics []string `yaml:"metrics"`
}

// Profiles a scenario may name, and what they default to.
var profileNames = []string{"healthy", "seasonal", "dropout", "linear", "exponential", "step"}

// ParseScenario parses and validates a scenario. Times may be RFC 3339 or,
// for start, a duration relative to now ("-48h", "-61d", "now"); failure
// and onset times may be RFC 3339 or a duration after start ("40h", "20d").
// Unknown keys are errors, so a typo never silently changes a run.
func ParseScenario(b []byte, now time.Time) (*Scenario, error) {
	var f scenarioFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("empty scenario")
		}
		return nil, fmt.Errorf("parse: %w", err)
	}
	s := &Scenario{Name: f.Name, Site: f.Site, Batch: f.Batch, Gateways: f.Gateways}
	if f.Seed == nil {
		return nil, fmt.Errorf("seed: required (a fixed seed makes runs reproducible)")
	}
	s.Seed = *f.Seed
	if !ingest.ValidCode(s.Site) {
		return nil, fmt.Errorf("site %q: want a code matching [A-Za-z0-9_-]{1,64}", f.Site)
	}
	var err error
	if s.Start, err = parseStart(f.Start, now); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	if f.Duration != "" {
		if s.Duration, err = parseDur(f.Duration); err != nil {
			return nil, fmt.Errorf("duration: %w", err)
		}
	}
	if f.Interval == "" {
		return nil, fmt.Errorf("interval: required (sampling interval, e.g. 1m)")
	}
	if s.Interval, err = parseDur(f.Interval); err != nil {
		return nil, fmt.Errorf("interval: %w", err)
	}
	if s.Interval < time.Millisecond || s.Interval%time.Millisecond != 0 {
		return nil, fmt.Errorf("interval: must be a whole number of milliseconds ≥ 1ms")
	}
	switch a := strings.TrimSpace(f.Acceleration); a {
	case "", "max":
	default:
		x, err := strconv.ParseFloat(strings.TrimSuffix(a, "x"), 64)
		if err != nil || !bounded(x) || x <= 0 {
			return nil, fmt.Errorf("acceleration %q: want a positive number (e.g. 3600) or \"max\"", a)
		}
		s.Acceleration = x
	}
	if f.MaxRate < 0 || !bounded(f.MaxRate) {
		return nil, fmt.Errorf("max_rate: want readings per second ≥ 0 (0: no cap)")
	}
	s.MaxRate = f.MaxRate
	if s.Batch == 0 {
		s.Batch = 1
	}
	if s.Batch < 0 || s.Batch > 1000 {
		return nil, fmt.Errorf("batch %d: want 1..1000 readings per message", f.Batch)
	}
	for _, g := range s.Gateways {
		if !ingest.ValidCode(g) {
			return nil, fmt.Errorf("gateway %q: want a code matching [A-Za-z0-9_-]{1,64}", g)
		}
	}
	noise := 1.0
	if f.Noise != nil {
		noise = *f.Noise
		if noise < 0 || !bounded(noise) {
			return nil, fmt.Errorf("noise: want a number ≥ 0")
		}
	}
	types := BuiltinTypes()
	for _, t := range f.Types {
		if err := t.validate(); err != nil {
			return nil, fmt.Errorf("types: %w", err)
		}
		types[t.Name] = t
	}
	if len(f.Assets) == 0 {
		return nil, fmt.Errorf("assets: none")
	}
	codes := map[string]*Model{}
	groups := make([][]*Model, len(f.Assets))
	for gi, g := range f.Assets {
		ms, err := g.models(s, types, noise, now)
		if err != nil {
			return nil, fmt.Errorf("assets[%d]: %w", gi, err)
		}
		for _, m := range ms {
			if codes[m.Code()] != nil {
				return nil, fmt.Errorf("assets[%d]: asset code %q used twice", gi, m.Code())
			}
			codes[m.Code()] = m
			s.Assets = append(s.Assets, m)
		}
		groups[gi] = ms
	}
	for gi, g := range f.Assets {
		if g.ShakesWith == nil {
			continue
		}
		src := codes[g.ShakesWith.Asset]
		for _, m := range groups[gi] {
			if err := m.shakeWith(src, g.ShakesWith.Share); err != nil {
				return nil, fmt.Errorf("assets[%d].shakes_with: %w", gi, err)
			}
		}
	}
	for i, r := range f.Rules {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("rules[%d]: %w", i, err)
		}
		var rule rules.Rule
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rule); err != nil {
			return nil, fmt.Errorf("rules[%d]: %w", i, err)
		}
		if rule.Name == "" || rule.Metric == "" || (rule.AssetType == "" && rule.AssetID == "") {
			return nil, fmt.Errorf("rules[%d]: needs name, metric and asset_type (or asset_id)", i)
		}
		s.Rules = append(s.Rules, rule)
	}
	return s, nil
}

func (g groupFile) models(s *Scenario, types map[string]Type, noise float64, now time.Time) ([]*Model, error) {
	typ, ok := types[g.Type]
	if !ok {
		names := make([]string, 0, len(types))
		for n := range types {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("type %q: unknown (have %s)", g.Type, strings.Join(names, ", "))
	}
	count := g.Count
	switch {
	case count < 0 || count > 100000:
		return nil, fmt.Errorf("count %d: want 1..100000", count)
	case count == 0:
		count = 1
	}
	if (g.Code == "") == (g.Prefix == "") {
		return nil, fmt.Errorf("give either code (one asset) or prefix (codes prefix001, prefix002, ...)")
	}
	if g.Code != "" && count != 1 {
		return nil, fmt.Errorf("code %q names one asset; use prefix for count %d", g.Code, count)
	}
	p := Profile{Name: g.Profile, Degradation: None}
	switch g.Profile {
	case "healthy":
	case "seasonal":
		p.DailyAmp, p.SeasonAmp, p.SpikeProb, p.SpikeScale = 0.05, 0.03, 0.002, 0.6
	case "dropout":
		p.Dropout = Dropout{Every: 24 * time.Hour, Length: 4 * time.Hour, Prob: 0.3}
	case "linear":
		p.Degradation = Linear
	case "exponential":
		p.Degradation = Exponential
	case "step":
		p.Degradation = Step
	default:
		return nil, fmt.Errorf("profile %q: unknown (want one of %s)", g.Profile, strings.Join(profileNames, ", "))
	}
	p.NoiseScale = noise
	if g.Noise != nil {
		p.NoiseScale = noise * *g.Noise
	}
	setF := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	setF(&p.DailyAmp, g.DailyAmp)
	setF(&p.SeasonAmp, g.SeasonAmp)
	setF(&p.SpikeProb, g.SpikeProb)
	setF(&p.SpikeScale, g.SpikeScale)
	var err error
	if g.SeasonPeriod != "" {
		if p.SeasonPeriod, err = parseDur(g.SeasonPeriod); err != nil || p.SeasonPeriod == 0 {
			return nil, fmt.Errorf("season_period %q: want a positive duration", g.SeasonPeriod)
		}
	}
	if d := g.Dropout; d != nil {
		p.Dropout = Dropout{Prob: d.Prob, Metrics: d.Metrics}
		if p.Dropout.Every, err = parseDur(d.Every); err != nil {
			return nil, fmt.Errorf("dropout.every: %w", err)
		}
		if p.Dropout.Length, err = parseDur(d.Length); err != nil {
			return nil, fmt.Errorf("dropout.length: %w", err)
		}
	}
	for i, d := range g.Disturb {
		x := Disturbance{Kind: DisturbanceKind(d.Kind), Metric: d.Metric, Amp: d.Amp, Prob: d.Prob}
		for _, f := range []struct {
			name, v string
			dst     *time.Duration
		}{{"tau", d.Tau, &x.Tau}, {"every", d.Every, &x.Every}, {"length", d.Length, &x.Length}} {
			if f.v == "" {
				continue
			}
			if *f.dst, err = parseDur(f.v); err != nil {
				return nil, fmt.Errorf("disturb[%d].%s: %w", i, f.name, err)
			}
		}
		if d.At != "" {
			if x.At, err = parseAt(d.At, s.Start); err != nil {
				return nil, fmt.Errorf("disturb[%d].at: %w", i, err)
			}
		}
		p.Disturbances = append(p.Disturbances, x)
	}
	p.Metric, p.FailureMode, p.Affects, p.EventCode = g.Metric, g.FailureMode, g.Affects, g.EventCode
	if g.Tau != "" {
		if p.Tau, err = parseDur(g.Tau); err != nil {
			return nil, fmt.Errorf("tau: %w", err)
		}
	}
	var failAt, onset time.Time
	var spread, ramp time.Duration
	if p.Degradation == None {
		for k, v := range map[string]bool{"metric": g.Metric != "", "failure_mode": g.FailureMode != "",
			"failure_at": g.FailureAt != "", "onset": g.Onset != "", "ramp": g.Ramp != "",
			"fail_value": g.FailValue != nil, "tau": g.Tau != "", "affects": g.Affects != nil,
			"failure_spread": g.FailureSpread != "", "event_code": g.EventCode != ""} {
			if v {
				return nil, fmt.Errorf("%s: only for degrading profiles (linear, exponential, step), not %s", k, g.Profile)
			}
		}
	} else {
		if g.Metric == "" || g.FailureMode == "" || g.FailureAt == "" || g.FailValue == nil {
			return nil, fmt.Errorf("profile %s needs metric, failure_mode, failure_at and fail_value", g.Profile)
		}
		p.FailValue = *g.FailValue
		if failAt, err = parseAt(g.FailureAt, s.Start); err != nil {
			return nil, fmt.Errorf("failure_at: %w", err)
		}
		if g.FailureSpread != "" {
			if spread, err = parseDur(g.FailureSpread); err != nil {
				return nil, fmt.Errorf("failure_spread: %w", err)
			}
		}
		if p.Degradation == Step {
			if g.Onset != "" || g.Ramp != "" || g.Tau != "" {
				return nil, fmt.Errorf("a step fault has no onset, ramp or tau: it happens at failure_at")
			}
		} else {
			switch {
			case g.Onset != "" && g.Ramp != "":
				return nil, fmt.Errorf("give onset or ramp, not both")
			case g.Onset != "":
				if onset, err = parseAt(g.Onset, s.Start); err != nil {
					return nil, fmt.Errorf("onset: %w", err)
				}
				if count > 1 && spread > 0 {
					return nil, fmt.Errorf("with failure_spread give ramp (time from onset to failure), not onset")
				}
			case g.Ramp != "":
				if ramp, err = parseDur(g.Ramp); err != nil || ramp == 0 {
					return nil, fmt.Errorf("ramp %q: want a positive duration", g.Ramp)
				}
			default:
				return nil, fmt.Errorf("profile %s needs onset or ramp", g.Profile)
			}
		}
	}
	out := make([]*Model, 0, count)
	for i := 0; i < count; i++ {
		code := g.Code
		if code == "" {
			code = fmt.Sprintf("%s%03d", g.Prefix, i+1)
		}
		pi := p
		if p.Degradation != None {
			pi.FailAt = failAt
			if spread > 0 {
				// Evenly spaced over the spread, jittered within each slot.
				slot := spread / time.Duration(count)
				j := unit(hash(s.Seed, hashString(code), 9))
				pi.FailAt = failAt.Add(time.Duration(i)*slot + time.Duration(j*float64(slot))).Truncate(time.Second)
			}
			pi.Onset = onset
			if ramp > 0 {
				pi.Onset = pi.FailAt.Add(-ramp)
			}
		}
		m, err := NewModel(s.Seed, AssetSpec{Code: code, Type: typ, Start: s.Start, Profile: pi})
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func parseDur(s string) (time.Duration, error) {
	d, err := rules.ParseDuration(s)
	return d.D(), err
}

// parseStart reads RFC 3339, "now", or a signed duration relative to now.
// A relative start is truncated to the minute so logs read well.
func parseStart(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return time.Time{}, fmt.Errorf("required (RFC 3339, or relative to now such as -48h)")
	case s == "now":
		return now.UTC().Truncate(time.Minute), nil
	case s[0] == '-' || s[0] == '+':
		d, err := parseDur(s[1:])
		if err != nil {
			return time.Time{}, err
		}
		if s[0] == '-' {
			d = -d
		}
		return now.UTC().Add(d).Truncate(time.Minute), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 or a duration relative to now such as -48h", s)
	}
	return t.UTC(), nil
}

// parseAt reads RFC 3339 or a duration after start.
func parseAt(s string, start time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := parseDur(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 or a duration after start such as 40h", s)
	}
	return start.Add(d), nil
}

// ExpectedReadings counts the readings (and messages) the fleet publishes
// for the whole scenario: every tick of every asset that is not silent.
// It returns an error for an open-ended scenario.
func (s *Scenario) ExpectedReadings() (readings, messages int, err error) {
	end, ok := s.End()
	if !ok {
		return 0, 0, fmt.Errorf("open-ended scenario")
	}
	ticks := int(math.Ceil(float64(s.Duration) / float64(s.Interval)))
	for _, m := range s.Assets {
		inBatch := 0
		for i := 0; i < ticks; i++ {
			t := s.Start.Add(time.Duration(i) * s.Interval)
			if !t.Before(end) {
				break
			}
			if _, ok := m.Reading(s.Site, t); ok {
				readings++
				inBatch++
			}
			if (i+1)%s.Batch == 0 || i == ticks-1 {
				if inBatch > 0 {
					messages++
				}
				inBatch = 0
			}
		}
	}
	return readings, messages, nil
}
