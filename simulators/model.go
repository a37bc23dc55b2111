package simulators

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/openpdm/pdm/ingest"
)

// Degradation is the shape of the way a profile's metric moves from its
// healthy value towards its failure value.
type Degradation string

// Degradations a profile may have.
const (
	// None: the asset stays healthy.
	None Degradation = "none"
	// Linear wear: the metric moves at a constant rate from Onset and
	// reaches FailValue at FailAt.
	Linear Degradation = "linear"
	// Exponential (bearing) wear: the excess over the healthy value grows
	// as exp((t-Onset)/Tau) - 1, scaled so FailValue is reached at FailAt.
	Exponential Degradation = "exponential"
	// Step fault: the metric jumps to FailValue at FailAt without warning,
	// and the device sends a critical event.
	Step Degradation = "step"
)

// postFailureCap bounds how far past the failure value a broken machine's
// metric goes: the degradation fraction is capped at this value.
const postFailureCap = 1.25

// Profile is what happens to one asset over time: its degradation (if any),
// the failure it ends in, and the healthy behaviour around it (noise,
// cycles, spikes, sensor dropout). The zero values of the optional fields
// mean "off" (NoiseScale 0 means 1).
type Profile struct {
	// Name is the profile's name in the scenario (healthy, seasonal,
	// dropout, linear, exponential, step); it is copied to the truth.
	Name        string
	Degradation Degradation
	// Metric degrades; FailureMode names the failure in the ground truth
	// (it should match the failure_mode of the rule meant to catch it).
	Metric      string
	FailureMode string
	// Onset is when degradation starts; FailAt when the noise-free metric
	// reaches FailValue (the failure). For Step, Onset equals FailAt.
	Onset     time.Time
	FailAt    time.Time
	FailValue float64
	// Tau is the e-folding time of exponential wear (default: a quarter
	// of FailAt-Onset).
	Tau time.Duration
	// Affects moves other metrics along with the degradation: the value
	// is the extra amount they carry at failure (e.g. bearing_temp_c: 15).
	Affects map[string]float64
	// EventCode, when set, makes the device send a critical event with
	// this code at FailAt. Step faults always send one (default "E_TRIP").
	EventCode string

	// NoiseScale multiplies the type's white noise and wander (0 means 1).
	NoiseScale float64
	// DailyAmp and SeasonAmp are relative amplitudes (0.05 = ±5% of the
	// healthy value) of a daily cycle and a slower seasonal cycle of
	// period SeasonPeriod (default 30 days) on cyclic metrics.
	DailyAmp     float64
	SeasonAmp    float64
	SeasonPeriod time.Duration
	// SpikeProb is the chance per reading and metric of a single spike of
	// SpikeScale (relative, 0.5 = +50% of the healthy value, ±50%).
	SpikeProb  float64
	SpikeScale float64
	// Dropout silences sensors now and then.
	Dropout Dropout
	// Disturbances are healthy movements (warm-ups, run-ins, operating
	// point shifts, sensor drift) on top of everything else.
	Disturbances []Disturbance
}

// Dropout describes sensor dropout: time is cut into periods of length
// Every; in each period, with probability Prob, the sensors are silent for
// Length starting at a random offset. Metrics lists the silent metrics
// (empty: the whole device is silent).
type Dropout struct {
	Every   time.Duration
	Length  time.Duration
	Prob    float64
	Metrics []string
}

// AssetSpec is everything a Model needs about one asset.
type AssetSpec struct {
	Code string
	Type Type
	// Start is the scenario start: counters count from it and seasonal
	// cycles are phased on it.
	Start   time.Time
	Profile Profile
}

// Event is a device event (contract: event topic).
type Event struct {
	TS       time.Time
	Code     string
	Severity string // info, warning or critical
	Message  string
}

// Model is the deterministic device model of one asset: every value is a
// pure function of the seed, the asset's spec and the time asked about.
// A Model is immutable and safe for concurrent use.
type Model struct {
	spec    AssetSpec
	key     uint64
	metrics []modelMetric
	phase   float64 // daily phase offset in hours
	sphase  float64 // seasonal phase in radians
	degIdx  int     // index of the degrading metric, -1 when none
	tauSec  float64
	rampSec float64
	expDen  float64
	dropAll bool
	dropSet map[string]bool
	shake   *shake
}

// shake is a rig shared with a degrading asset: metric idx of this asset
// moves by share of src's degradation of the same metric.
type shake struct {
	src   *Model
	idx   int
	delta float64 // share × src's delta at failure
}

// shakeWith puts m on one rig with src (set while the scenario is built,
// before the model is used): src's degrading metric moves m's metric of
// the same name by share (0 < share ≤ 1) of src's degradation, so m rises
// and falls with it without failing.
func (m *Model) shakeWith(src *Model, share float64) error {
	if src == nil {
		return fmt.Errorf("asset: not in the scenario")
	}
	if src == m {
		return fmt.Errorf("asset %s: an asset cannot shake with itself", m.Code())
	}
	p := src.spec.Profile
	if (p.Degradation != Linear && p.Degradation != Exponential) || src.degIdx < 0 {
		return fmt.Errorf("asset %s: not a gradually degrading asset (linear or exponential)", src.Code())
	}
	if !(share > 0 && share <= 1) {
		return fmt.Errorf("share: want 0 < share ≤ 1")
	}
	for i, mm := range m.metrics {
		if mm.spec.Name == p.Metric && !mm.spec.Counter {
			m.shake = &shake{src: src, idx: i, delta: share * src.metrics[src.degIdx].extra}
			return nil
		}
	}
	return fmt.Errorf("asset %s: type %s has no metric %q", m.Code(), m.spec.Type.Name, p.Metric)
}

type modelMetric struct {
	spec   MetricSpec
	key    uint64
	base   float64 // this asset's healthy value
	extra  float64 // delta at failure from Profile.Affects or FailValue
	cyclic bool
}

// NewModel validates spec and returns its model. The seed is the
// scenario's; each asset derives its own stream from it and its code.
func NewModel(seed uint64, spec AssetSpec) (*Model, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	p := &spec.Profile
	// The model keeps its own copies: a caller changing its spec later
	// must not change values already handed out.
	p.Affects = maps.Clone(p.Affects)
	p.Dropout.Metrics = slices.Clone(p.Dropout.Metrics)
	p.Disturbances = slices.Clone(p.Disturbances)
	spec.Type.Metrics = slices.Clone(spec.Type.Metrics)
	if p.NoiseScale == 0 {
		p.NoiseScale = 1
	}
	if p.SeasonPeriod == 0 {
		p.SeasonPeriod = 30 * 24 * time.Hour
	}
	if p.Degradation == "" {
		p.Degradation = None
	}
	if p.Degradation == Step {
		p.Onset = p.FailAt
		if p.EventCode == "" {
			p.EventCode = "E_TRIP"
		}
	}
	m := &Model{spec: spec, key: hash(seed, hashString(spec.Code)), degIdx: -1}
	m.phase = 2*unit(hash(m.key, 1)) - 1
	m.sphase = 2 * math.Pi * unit(hash(m.key, 2))
	for i, ms := range spec.Type.Metrics {
		mk := hash(m.key, hashString(ms.Name))
		mm := modelMetric{spec: ms, key: mk, cyclic: ms.Cyclic}
		if ms.Counter {
			mm.base = math.Round(ms.Base * unit(hash(mk, 3)))
		} else {
			// Machines of a type differ a little: ±3% around the base.
			mm.base = ms.Base * (1 + 0.06*(unit(hash(mk, 3))-0.5))
		}
		if p.Degradation != None {
			if ms.Name == p.Metric {
				m.degIdx = i
				mm.extra = p.FailValue - mm.base
			} else if a, ok := p.Affects[ms.Name]; ok {
				mm.extra = a
			}
		}
		m.metrics = append(m.metrics, mm)
	}
	if p.Degradation == Linear || p.Degradation == Exponential {
		m.rampSec = p.FailAt.Sub(p.Onset).Seconds()
		m.tauSec = p.Tau.Seconds()
		if m.tauSec == 0 {
			m.tauSec = m.rampSec / 4
		}
		m.expDen = math.Expm1(m.rampSec / m.tauSec)
	}
	if p.Dropout.Prob > 0 {
		if len(p.Dropout.Metrics) == 0 {
			m.dropAll = true
		} else {
			m.dropSet = map[string]bool{}
			for _, n := range p.Dropout.Metrics {
				m.dropSet[n] = true
			}
		}
	}
	return m, nil
}

// Code returns the asset's code.
func (m *Model) Code() string { return m.spec.Code }

// Type returns the asset's type.
func (m *Model) Type() Type { return m.spec.Type }

// Profile returns the asset's profile with defaults filled in.
func (m *Model) Profile() Profile { return m.spec.Profile }

// Value returns the metric's value at t (rounded to the millisecond, the
// resolution of payload timestamps) and false when the asset has no such
// metric or its sensor is silent at t (dropout).
func (m *Model) Value(metric string, t time.Time) (float64, bool) {
	for i := range m.metrics {
		if m.metrics[i].spec.Name == metric {
			t = t.Truncate(time.Millisecond)
			if m.dropped(metric, t) {
				return 0, false
			}
			return m.value(i, t), true
		}
	}
	return 0, false
}

// Reading returns the asset's reading at t (all metrics not silent at t)
// and false when every sensor is silent.
func (m *Model) Reading(site string, t time.Time) (ingest.Reading, bool) {
	t = t.Truncate(time.Millisecond).UTC()
	r := ingest.Reading{Site: site, Asset: m.spec.Code, TS: t}
	if m.dropAll && m.dropped("", t) {
		return r, false
	}
	r.Metrics = make([]ingest.Metric, 0, len(m.metrics))
	for i, mm := range m.metrics {
		if m.dropSet != nil && m.dropSet[mm.spec.Name] && m.dropped(mm.spec.Name, t) {
			continue
		}
		r.Metrics = append(r.Metrics, ingest.Metric{Name: mm.spec.Name, Value: m.value(i, t)})
	}
	return r, len(r.Metrics) > 0
}

// Events returns the device events with from < TS <= to, in time order.
func (m *Model) Events(from, to time.Time) []Event {
	p := m.spec.Profile
	if p.EventCode == "" || p.Degradation == None {
		return nil
	}
	if p.FailAt.After(from) && !p.FailAt.After(to) {
		return []Event{{
			TS: p.FailAt, Code: p.EventCode, Severity: "critical",
			Message: fmt.Sprintf("%s: %s tripped (%s)", m.spec.Code, p.Metric, p.FailureMode),
		}}
	}
	return nil
}

// Fraction returns how far the degradation has gone at t: 0 healthy, 1 at
// the failure, up to 1.25 for a broken machine.
func (m *Model) Fraction(t time.Time) float64 {
	p := &m.spec.Profile
	switch p.Degradation {
	case Step:
		if t.Before(p.FailAt) {
			return 0
		}
		return 1
	case Linear, Exponential:
		dt := t.Sub(p.Onset).Seconds()
		if dt <= 0 {
			return 0
		}
		var s float64
		if p.Degradation == Linear {
			s = dt / m.rampSec
		} else {
			s = math.Expm1(dt/m.tauSec) / m.expDen
		}
		return math.Min(s, postFailureCap)
	}
	return 0
}

func (m *Model) value(i int, t time.Time) float64 {
	mm := &m.metrics[i]
	p := &m.spec.Profile
	if mm.spec.Counter {
		h := t.Sub(m.spec.Start).Hours()
		if h < 0 {
			h = 0
		}
		return mm.base + math.Floor(h*100)/100
	}
	ms := uint64(t.UnixMilli())
	v := mm.base
	if mm.cyclic && (p.DailyAmp != 0 || p.SeasonAmp != 0) {
		hod := float64(t.UTC().Hour()) + float64(t.UTC().Minute())/60 + float64(t.UTC().Second())/3600
		c := p.DailyAmp * math.Sin(2*math.Pi*(hod-9+m.phase)/24)
		c += p.SeasonAmp * math.Sin(2*math.Pi*t.Sub(m.spec.Start).Seconds()/p.SeasonPeriod.Seconds()+m.sphase)
		v *= 1 + c
	}
	v += p.NoiseScale * mm.spec.Noise * gauss(hash(mm.key, ms))
	if mm.spec.Wander != 0 {
		x := float64(t.UnixMilli()) / float64(6*time.Hour/time.Millisecond)
		v += p.NoiseScale * mm.spec.Wander * valueNoise(hash(mm.key, 4), x)
	}
	if mm.extra != 0 {
		v += m.Fraction(t) * mm.extra
	}
	if m.shake != nil && m.shake.idx == i {
		v += m.shake.src.Fraction(t) * m.shake.delta
	}
	for j, d := range p.Disturbances {
		if d.Metric == mm.spec.Name {
			v += d.offset(hash(m.key, uint64(j), 11), t)
		}
	}
	if p.SpikeProb > 0 && unit(hash(mm.key, ms, 5)) < p.SpikeProb {
		v += mm.base * p.SpikeScale * (0.5 + unit(hash(mm.key, ms, 6)))
	}
	if v < mm.spec.Min {
		v = mm.spec.Min
	}
	return v
}

// dropped reports whether the sensor of metric (or the device, for "") is
// silent at t.
func (m *Model) dropped(metric string, t time.Time) bool {
	d := &m.spec.Profile.Dropout
	if d.Prob <= 0 || (!m.dropAll && !m.dropSet[metric]) {
		return false
	}
	every := d.Every.Milliseconds()
	ms := t.UnixMilli()
	w := ms / every
	if ms < 0 && ms%every != 0 {
		w--
	}
	if unit(hash(m.key, uint64(w), 7)) >= d.Prob {
		return false
	}
	off := int64(unit(hash(m.key, uint64(w), 8)) * float64(every-d.Length.Milliseconds()))
	start := w*every + off
	return ms >= start && ms < start+d.Length.Milliseconds()
}

var failureModeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func validMetricName(s string) bool { return ingest.ValidMetricName(s) }

// maxMagnitude bounds every number a scenario gives, so sums of noise,
// spikes and degradation stay finite.
const maxMagnitude = 1e12

// bounded reports whether f is a number no larger than maxMagnitude.
func bounded(f float64) bool { return !math.IsNaN(f) && math.Abs(f) <= maxMagnitude }

func (s AssetSpec) validate() error {
	if !ingest.ValidCode(s.Code) {
		return fmt.Errorf("asset code %q: want [A-Za-z0-9_-]{1,64}", s.Code)
	}
	if err := s.Type.validate(); err != nil {
		return fmt.Errorf("asset %s: %w", s.Code, err)
	}
	p := s.Profile
	bad := func(format string, args ...any) error {
		return fmt.Errorf("asset %s: "+format, append([]any{s.Code}, args...)...)
	}
	if p.NoiseScale < 0 || !bounded(p.NoiseScale) {
		return bad("noise must be a number from 0 to 1e12")
	}
	if !bounded(p.DailyAmp) || !bounded(p.SeasonAmp) || math.Abs(p.DailyAmp) > 1 || math.Abs(p.SeasonAmp) > 1 {
		return bad("daily_amp and season_amp must be within [-1, 1]")
	}
	if p.SeasonPeriod < 0 {
		return bad("season_period must be positive")
	}
	if p.SpikeProb < 0 || p.SpikeProb > 1 || !bounded(p.SpikeProb) {
		return bad("spike_prob must be within [0, 1]")
	}
	if !bounded(p.SpikeScale) {
		return bad("spike_scale must be finite (|v| ≤ 1e12)")
	}
	if d := p.Dropout; d.Prob != 0 {
		if d.Prob < 0 || d.Prob > 1 || !bounded(d.Prob) {
			return bad("dropout prob must be within [0, 1]")
		}
		if d.Every < time.Millisecond || d.Length <= 0 || d.Length > d.Every {
			return bad("dropout needs every > 0 and 0 < length ≤ every")
		}
		for _, n := range d.Metrics {
			if _, ok := s.Type.Metric(n); !ok {
				return bad("dropout metric %q is not a metric of type %s", n, s.Type.Name)
			}
		}
	}
	for _, d := range p.Disturbances {
		if err := d.validate(s.Type); err != nil {
			return bad("%v", err)
		}
	}
	switch p.Degradation {
	case "", None:
		return nil
	case Linear, Exponential, Step:
	default:
		return bad("unknown degradation %q (want none, linear, exponential or step)", p.Degradation)
	}
	ms, ok := s.Type.Metric(p.Metric)
	if !ok {
		return bad("degrading metric %q is not a metric of type %s", p.Metric, s.Type.Name)
	}
	if ms.Counter {
		return bad("metric %q is a counter and cannot degrade", p.Metric)
	}
	if !failureModeRE.MatchString(p.FailureMode) {
		return bad("failure_mode %q: want [a-z][a-z0-9_]{0,63}", p.FailureMode)
	}
	if p.FailAt.IsZero() {
		return bad("a %s profile needs a failure time", p.Degradation)
	}
	if !bounded(p.FailValue) || p.FailValue == ms.Base {
		return bad("fail_value must be finite (|v| ≤ 1e12) and differ from the healthy value %g", ms.Base)
	}
	for n, a := range p.Affects {
		mm, ok := s.Type.Metric(n)
		if !ok || mm.Counter || n == p.Metric {
			return bad("affects: %q is not another non-counter metric of type %s", n, s.Type.Name)
		}
		if !bounded(a) {
			return bad("affects: %q must be finite (|v| ≤ 1e12)", n)
		}
	}
	if p.Degradation != Step {
		if p.Onset.IsZero() || !p.Onset.Before(p.FailAt) {
			return bad("onset must be before the failure time")
		}
		if p.Tau < 0 || (p.Tau > 0 && p.Tau < time.Second) {
			return bad("tau must be at least 1s")
		}
		if p.Degradation == Exponential && p.Tau > 0 && p.FailAt.Sub(p.Onset)/p.Tau > 600 {
			return bad("tau is too short for the ramp (exp overflows)")
		}
	}
	return nil
}
