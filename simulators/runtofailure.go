package simulators

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// RunToFailureOptions shape a generated run-to-failure fleet; the zero
// value takes the defaults.
type RunToFailureOptions struct {
	// Units is how many units the fleet has (default 100).
	Units int
	// Sensors is how many sensors each unit has (default 10); about one
	// in five carries no degradation at all, as in CMAPSS.
	Sensors int
	// MinLife and MaxLife bound a unit's life in cycles (default 128 and
	// 360, the range of CMAPSS FD001's training engines).
	MinLife, MaxLife int
	// Noise scales every sensor's measurement noise (default 1).
	Noise float64
	// FirstUnit numbers the units from FirstUnit (default 0), so a test
	// fleet of other units of the same make is the same seed with
	// FirstUnit past the training units.
	FirstUnit int
	// Cut, when set, cuts every unit off at a random cycle before its
	// failure (the test units of a benchmark): the remaining life at the
	// cut is drawn uniformly from [5, 150], at most life − 31.
	Cut bool
	// CMAPSS gives the fleet the public benchmark's shape instead of
	// Sensors generic sensors: three operating settings (setting1-3)
	// then 21 sensors s1-s21 with CMAPSS FD001's levels, noise and
	// directions: s1, s5, s10, s16, s18 and s19 constant, s6 nearly so,
	// the 14 others moving with the wear by 3 to 5 of their noise's
	// standard deviations over a life.
	CMAPSS bool
	// Conditions is the number of operating conditions (CMAPSS only):
	// 0 or 1 is FD001's single one (settings jitter around 0, 0, 100);
	// 6 is FD002's six, each cycle in one drawn at random, each moving
	// every sensor's level, the constant ones included.
	Conditions int
}

func (o RunToFailureOptions) withDefaults() RunToFailureOptions {
	if o.Units <= 0 {
		o.Units = 100
	}
	if o.Sensors <= 0 {
		o.Sensors = 10
	}
	if o.MinLife <= 0 {
		o.MinLife = 128
	}
	if o.MaxLife <= o.MinLife {
		o.MaxLife = max(360, o.MinLife+1)
	}
	if o.Noise <= 0 {
		o.Noise = 1
	}
	return o
}

// RunToFailureUnit is one unit's observed history: Cycles[i][k] is sensor
// k's reading in cycle i (one reading per cycle, as CMAPSS has).
type RunToFailureUnit struct {
	ID string
	// Life is the number of cycles the unit runs; it fails at the end of
	// cycle Life−1.
	Life int
	// Cycles holds the observed cycles: all Life of them, or the first
	// ones up to the cut.
	Cycles [][]float64
}

// RUL is the unit's true remaining life, in cycles, after its last
// observed cycle (0 for a unit observed up to its failure).
func (u RunToFailureUnit) RUL() int { return u.Life - len(u.Cycles) }

// RunToFailureFleet is a generated fleet: column names and units.
type RunToFailureFleet struct {
	// Sensors name the columns of a unit's rows: the operating settings
	// first when the fleet has them (Settings), then the sensors.
	Sensors []string
	// Settings are the operating-setting columns among Sensors (CMAPSS
	// shape only).
	Settings []string
	Units    []RunToFailureUnit
}

// sensorShape is one sensor's response, shared by the fleet's units.
type sensorShape struct {
	base, gain, noise, opGain, curve float64
}

// RunToFailure generates a multivariate run-to-failure fleet in the
// manner of NASA's CMAPSS turbofan data: each unit has its own initial
// wear w0, life T and degradation rate r; its damage grows exponentially,
// D(t) = w0 + (1 − w0)·(e^{rt} − 1)/(e^{rT} − 1), and fails at 1. Each
// sensor reads a base level plus a unit-to-unit offset, a gain times
// D(t)^curve (some sensors rise, some fall, some carry nothing), an
// operating-condition effect that changes every cycle, and Gaussian
// noise. The seed fixes the sensors' make; a unit depends only on the
// seed and its number, not on how many units there are.
func RunToFailure(seed uint64, opts RunToFailureOptions) RunToFailureFleet {
	o := opts.withDefaults()
	if o.CMAPSS {
		return runToFailureCMAPSS(seed, o)
	}
	shapes := make([]sensorShape, o.Sensors)
	names := make([]string, o.Sensors)
	sr := rand.New(rand.NewPCG(seed, 0x5e45))
	for k := range shapes {
		names[k] = fmt.Sprintf("s%02d", k+1)
		s := sensorShape{
			base:  100 + 900*sr.Float64(),
			noise: (0.5 + sr.Float64()) * o.Noise,
			curve: 0.8 + 0.8*sr.Float64(),
		}
		s.opGain = s.noise * (0.3 + 0.7*sr.Float64())
		// Over a life the degradation moves a sensor by 3 to 7 of its
		// noise's standard deviations, as CMAPSS's informative sensors do.
		if k%5 != 4 {
			s.gain = s.noise / o.Noise * (3 + 4*sr.Float64())
			if sr.IntN(3) == 0 {
				s.gain = -s.gain
			}
		}
		shapes[k] = s
	}
	f := RunToFailureFleet{Sensors: names, Units: make([]RunToFailureUnit, o.Units)}
	for i := range f.Units {
		f.Units[i] = runToFailureUnit(seed, o.FirstUnit+i, shapes, o)
	}
	return f
}

func runToFailureUnit(seed uint64, i int, shapes []sensorShape, o RunToFailureOptions) RunToFailureUnit {
	r := rand.New(rand.NewPCG(seed, uint64(i)+1))
	life := o.MinLife + r.IntN(o.MaxLife-o.MinLife+1)
	w0 := 0.25 * r.Float64()
	rate := 0.008 + 0.022*r.Float64()
	offsets := make([]float64, len(shapes))
	for k, s := range shapes {
		offsets[k] = 0.5 * s.noise * r.NormFloat64()
	}
	n := cycles(r, life, o.Cut)
	u := RunToFailureUnit{ID: fmt.Sprintf("U%03d", i+1), Life: life, Cycles: make([][]float64, n)}
	for t := range n {
		d := wear(w0, rate, life, t)
		op := r.NormFloat64()
		row := make([]float64, len(shapes))
		for k, s := range shapes {
			row[k] = s.base + offsets[k] + s.gain*math.Pow(d, s.curve) + s.opGain*op + s.noise*r.NormFloat64()
		}
		u.Cycles[t] = row
	}
	return u
}

// cmapssSensor is one of CMAPSS FD001's 21 sensors: its healthy level,
// noise standard deviation, the change over a life in noise standard
// deviations (signed; 0: constant), and the unit-to-unit spread of its
// level in noise standard deviations. quantum > 0 rounds its readings
// (s6 reads 21.60 or 21.61).
type cmapssSensor struct {
	base, noise, drift, spread, quantum float64
}

var cmapssSensors = [21]cmapssSensor{
	{base: 518.67}, // s1 fan inlet temperature
	{base: 642.68, noise: 0.50, drift: 3.5, spread: 0.5}, // s2
	{base: 1590.5, noise: 6.1, drift: 3.3, spread: 0.5},  // s3
	{base: 1408.9, noise: 9.0, drift: 3.8, spread: 0.5},  // s4
	{base: 14.62}, // s5
	{base: 21.61, noise: 0.004, quantum: 0.01},            // s6
	{base: 553.37, noise: 0.89, drift: -4.2, spread: 0.5}, // s7
	{base: 2388.1, noise: 0.07, drift: 3.2, spread: 0.5},  // s8
	{base: 9065.2, noise: 22, drift: 2.5, spread: 2},      // s9
	{base: 1.3}, // s10
	{base: 47.54, noise: 0.27, drift: 5.0, spread: 0.5},   // s11
	{base: 521.41, noise: 0.74, drift: -4.3, spread: 0.5}, // s12
	{base: 2388.1, noise: 0.07, drift: 3.1, spread: 0.5},  // s13
	{base: 8143.8, noise: 19, drift: 2.2, spread: 2},      // s14
	{base: 8.442, noise: 0.037, drift: 4.2, spread: 0.5},  // s15
	{base: 0.03}, // s16
	{base: 393.2, noise: 1.5, drift: 3.4, spread: 0.5}, // s17
	{base: 2388}, // s18
	{base: 100},  // s19
	{base: 38.82, noise: 0.18, drift: -4.0, spread: 0.5},  // s20
	{base: 23.29, noise: 0.108, drift: -3.9, spread: 0.5}, // s21
}

// cmapssConditions are FD002's six operating conditions (altitude in
// thousands of feet, Mach number, throttle resolver angle).
var cmapssConditions = [6][3]float64{{0, 0, 100}, {10, 0.25, 100}, {20, 0.7, 100}, {25, 0.62, 60}, {35, 0.84, 100}, {42, 0.84, 100}}

// runToFailureCMAPSS generates a fleet of the public benchmark's shape:
// the damage model of RunToFailure, three settings and 21 sensors.
func runToFailureCMAPSS(seed uint64, o RunToFailureOptions) RunToFailureFleet {
	nc := max(1, o.Conditions)
	if nc > len(cmapssConditions) {
		nc = len(cmapssConditions)
	}
	// Per condition, each sensor's level is its base times a factor
	// drawn once from the seed (altitude and throttle change every
	// temperature, pressure and speed); condition 0 is FD001's.
	sr := rand.New(rand.NewPCG(seed, 0xc4a55))
	factor := make([][]float64, nc)
	for c := range factor {
		factor[c] = make([]float64, len(cmapssSensors))
		for k := range factor[c] {
			factor[c][k] = 1
			if c > 0 {
				factor[c][k] = 0.6 + 0.5*sr.Float64()
			}
		}
	}
	names := []string{"setting1", "setting2", "setting3"}
	for k := range cmapssSensors {
		names = append(names, fmt.Sprintf("s%d", k+1))
	}
	f := RunToFailureFleet{Sensors: names, Settings: names[:3], Units: make([]RunToFailureUnit, o.Units)}
	for i := range f.Units {
		f.Units[i] = cmapssUnit(seed, o.FirstUnit+i, factor, o)
	}
	return f
}

func cmapssUnit(seed uint64, i int, factor [][]float64, o RunToFailureOptions) RunToFailureUnit {
	r := rand.New(rand.NewPCG(seed, uint64(i)+1))
	life := o.MinLife + r.IntN(o.MaxLife-o.MinLife+1)
	w0 := 0.25 * r.Float64()
	rate := 0.008 + 0.022*r.Float64()
	offsets := make([]float64, len(cmapssSensors))
	for k, s := range cmapssSensors {
		offsets[k] = s.spread * s.noise * o.Noise * r.NormFloat64()
	}
	n := cycles(r, life, o.Cut)
	u := RunToFailureUnit{ID: fmt.Sprintf("U%03d", i+1), Life: life, Cycles: make([][]float64, n)}
	for t := range n {
		d := wear(w0, rate, life, t)
		c := r.IntN(len(factor))
		row := make([]float64, 3+len(cmapssSensors))
		set := cmapssConditions[c]
		// Settings read their condition with a little jitter, as
		// CMAPSS's do (setting3 exactly).
		row[0] = set[0] + 0.002*r.NormFloat64()
		row[1] = set[1] + 0.0003*r.NormFloat64()
		row[2] = set[2]
		for k, s := range cmapssSensors {
			v := s.base * factor[c][k]
			if s.noise > 0 {
				v += offsets[k] + s.drift*s.noise*o.Noise*d*factor[c][k] + s.noise*o.Noise*r.NormFloat64()
			}
			if s.quantum > 0 {
				v = math.Round(v/s.quantum) * s.quantum
			}
			row[3+k] = v
		}
		u.Cycles[t] = row
	}
	return u
}

// cycles is how many cycles of a unit of the given life the fleet holds:
// all of them, or, cut, all but a remaining life of 5-150 cycles (at
// least 31 cycles kept).
func cycles(r *rand.Rand, life int, cut bool) int {
	if !cut {
		return life
	}
	rul := min(5+r.IntN(146), life-31)
	return life - rul
}

// wear is a unit's damage D after cycle t: from its initial wear w0 up
// exponentially at rate, reaching 1 at the end of cycle life−1, when the
// unit fails.
func wear(w0, rate float64, life, t int) float64 {
	return w0 + (1-w0)*math.Expm1(rate*float64(t+1))/math.Expm1(rate*float64(life))
}
