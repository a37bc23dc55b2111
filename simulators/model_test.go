package simulators

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func pumpSpec(code string, p Profile) AssetSpec {
	return AssetSpec{Code: code, Type: BuiltinTypes()["pump"], Start: t0, Profile: p}
}

func mustModel(t *testing.T, seed uint64, s AssetSpec) *Model {
	t.Helper()
	m, err := NewModel(seed, s)
	require.NoError(t, err)
	return m
}

func TestModelDeterministic(t *testing.T) {
	p := Profile{Name: "seasonal", DailyAmp: 0.05, SpikeProb: 0.01, SpikeScale: 0.5,
		Dropout: Dropout{Every: 24 * time.Hour, Length: 2 * time.Hour, Prob: 0.3}}
	a := mustModel(t, 7, pumpSpec("P-1", p))
	b := mustModel(t, 7, pumpSpec("P-1", p))
	c := mustModel(t, 8, pumpSpec("P-1", p))
	d := mustModel(t, 7, pumpSpec("P-2", p))
	diffSeed, diffAsset := 0, 0
	// Ask b in reverse order: the answer must not depend on call order.
	for i := 2000; i >= 0; i-- {
		ts := t0.Add(time.Duration(i) * 7 * time.Minute)
		ra, oka := a.Reading("S", ts)
		rb, okb := b.Reading("S", ts)
		require.Equal(t, oka, okb)
		require.Equal(t, ra, rb)
		va, _ := a.Value("vibration_rms", ts)
		vc, _ := c.Value("vibration_rms", ts)
		vd, _ := d.Value("vibration_rms", ts)
		if va != vc {
			diffSeed++
		}
		if va != vd {
			diffAsset++
		}
	}
	if diffSeed < 1900 || diffAsset < 1900 {
		t.Fatalf("other seed/asset differ in %d/%d of 2001 values, want nearly all", diffSeed, diffAsset)
	}
}

func TestDegradationShapes(t *testing.T) {
	onset, fail := t0.Add(10*time.Hour), t0.Add(50*time.Hour)
	mid := onset.Add(fail.Sub(onset) / 2)
	tests := []struct {
		name    string
		p       Profile
		atMid   float64 // fraction at the middle of the ramp
		atFail  float64
		before  float64 // just before onset (or step)
		longAft float64
	}{
		{"linear", Profile{Degradation: Linear}, 0.5, 1, 0, postFailureCap},
		{"exponential", Profile{Degradation: Exponential}, math.Expm1(2) / math.Expm1(4), 1, 0, postFailureCap},
		{"exponential tau", Profile{Degradation: Exponential, Tau: 20 * time.Hour}, math.Expm1(1) / math.Expm1(2), 1, 0, postFailureCap},
		{"step", Profile{Degradation: Step}, 0, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			p.Metric, p.FailureMode, p.Onset, p.FailAt, p.FailValue = "vibration_rms", "bearing_wear", onset, fail, 7.1
			m := mustModel(t, 1, pumpSpec("P-1", p))
			check := func(at time.Time, want float64) {
				t.Helper()
				if got := m.Fraction(at); math.Abs(got-want) > 1e-9 {
					t.Fatalf("fraction at %s: got %v, want %v", at, got, want)
				}
			}
			check(onset.Add(-time.Minute), tt.before)
			check(fail.Add(-time.Nanosecond), map[bool]float64{true: 0, false: m.Fraction(fail.Add(-time.Nanosecond))}[p.Degradation == Step])
			check(mid, tt.atMid)
			check(fail, tt.atFail)
			check(fail.Add(1000*time.Hour), tt.longAft)
			// Values: healthy around base before, around FailValue at failure.
			base := BuiltinTypes()["pump"].Metrics[0].Base
			v, ok := m.Value("vibration_rms", onset.Add(-time.Hour))
			require.True(t, ok)
			if math.Abs(v-base) > 0.6 {
				t.Fatalf("healthy value %v, want about %v", v, base)
			}
			v, _ = m.Value("vibration_rms", fail)
			if math.Abs(v-7.1) > 0.6 {
				t.Fatalf("value at failure %v, want about 7.1", v)
			}
			// Monotone in the noise-free part.
			prev := -1.0
			for ts := onset; ts.Before(fail); ts = ts.Add(time.Hour) {
				f := m.Fraction(ts)
				if f < prev {
					t.Fatalf("fraction decreases at %s", ts)
				}
				prev = f
			}
		})
	}
}

func TestStepFaultSendsCriticalEvent(t *testing.T) {
	fail := t0.Add(30 * time.Hour)
	m := mustModel(t, 1, pumpSpec("P-9", Profile{Degradation: Step, Metric: "motor_current_a",
		FailureMode: "winding_short", FailAt: fail, FailValue: 60}))
	require.Empty(t, m.Events(t0, fail.Add(-time.Millisecond)))
	require.Empty(t, m.Events(fail, fail.Add(time.Hour)))
	ev := m.Events(fail.Add(-time.Minute), fail)
	require.Len(t, ev, 1)
	require.Equal(t, "critical", ev[0].Severity)
	require.Equal(t, "E_TRIP", ev[0].Code)
	require.Equal(t, fail, ev[0].TS)
	before, _ := m.Value("motor_current_a", fail.Add(-time.Minute))
	after, _ := m.Value("motor_current_a", fail)
	if before > 40 || after < 55 {
		t.Fatalf("current before/after step %v/%v, want ~32/~60", before, after)
	}
	healthy := mustModel(t, 1, pumpSpec("P-8", Profile{}))
	require.Empty(t, healthy.Events(t0, t0.Add(1000*time.Hour)))
}

func TestSeasonalSpikesAndDropout(t *testing.T) {
	p := Profile{Name: "seasonal", DailyAmp: 0.1, SpikeProb: 0.02, SpikeScale: 0.6,
		Dropout: Dropout{Every: 24 * time.Hour, Length: 6 * time.Hour, Prob: 0.5, Metrics: []string{"flow_m3h"}}}
	m := mustModel(t, 3, pumpSpec("P-3", p))
	base, _ := BuiltinTypes()["pump"].Metric("bearing_temp_c")
	var afternoon, night float64
	var n, spikes, flowMissing, total int
	for ts := t0; ts.Before(t0.Add(60 * 24 * time.Hour)); ts = ts.Add(5 * time.Minute) {
		total++
		r, ok := m.Reading("S", ts)
		require.True(t, ok, "only flow drops out, the device must keep reporting")
		if _, ok := r.Value("flow_m3h"); !ok {
			flowMissing++
		}
		if v, _ := r.Value("vibration_rms"); v > 2.2*1.2 {
			spikes++
		}
		temp, _ := r.Value("bearing_temp_c")
		switch ts.Hour() {
		case 15:
			afternoon += temp
			n++
		case 3:
			night += temp
		}
	}
	afternoon, night = afternoon/float64(n), night/float64(n)
	if afternoon-night < base.Base*0.1 {
		t.Fatalf("daily cycle: afternoon %v, night %v, want a difference of about %v", afternoon, night, 2*base.Base*0.1)
	}
	if f := float64(spikes) / float64(total); f < 0.01 || f > 0.03 {
		t.Fatalf("spike rate %v, want about 0.02", f)
	}
	if f := float64(flowMissing) / float64(total); f < 0.06 || f > 0.2 {
		t.Fatalf("dropout share %v, want about 0.125", f)
	}

	whole := mustModel(t, 3, pumpSpec("P-4", Profile{Dropout: Dropout{Every: 12 * time.Hour, Length: 12 * time.Hour, Prob: 1}}))
	if _, ok := whole.Reading("S", t0.Add(5*time.Hour)); ok {
		t.Fatal("device with permanent dropout reported a reading")
	}
}

func TestCounterIncreases(t *testing.T) {
	m := mustModel(t, 1, pumpSpec("P-1", Profile{}))
	a, _ := m.Value("running_hours", t0.Add(time.Hour))
	b, _ := m.Value("running_hours", t0.Add(25*time.Hour))
	if b-a != 24 {
		t.Fatalf("running_hours advanced %v in 24h, want 24", b-a)
	}
}

func TestNewModelRejectsBadSpecs(t *testing.T) {
	ok := Profile{Degradation: Linear, Metric: "vibration_rms", FailureMode: "wear", Onset: t0, FailAt: t0.Add(time.Hour), FailValue: 7}
	tests := []struct {
		name string
		mod  func(*AssetSpec)
		want string
	}{
		{"bad code", func(s *AssetSpec) { s.Code = "P 1" }, "asset code"},
		{"unknown metric", func(s *AssetSpec) { s.Profile.Metric = "nope" }, "not a metric"},
		{"counter", func(s *AssetSpec) { s.Profile.Metric = "running_hours" }, "counter"},
		{"onset after failure", func(s *AssetSpec) { s.Profile.Onset = t0.Add(2 * time.Hour) }, "onset"},
		{"no failure", func(s *AssetSpec) { s.Profile.FailAt = time.Time{} }, "failure time"},
		{"nan", func(s *AssetSpec) { s.Profile.FailValue = math.NaN() }, "fail_value"},
		{"bad mode", func(s *AssetSpec) { s.Profile.FailureMode = "Bearing Wear" }, "failure_mode"},
		{"spike prob", func(s *AssetSpec) { s.Profile.SpikeProb = 2 }, "spike_prob"},
		{"dropout", func(s *AssetSpec) { s.Profile.Dropout = Dropout{Prob: 0.1, Every: time.Hour, Length: 2 * time.Hour} }, "dropout"},
		{"kind", func(s *AssetSpec) { s.Profile.Degradation = "wobbly" }, "unknown degradation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := pumpSpec("P-1", ok)
			tt.mod(&s)
			_, err := NewModel(1, s)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}
