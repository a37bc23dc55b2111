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

// RunToFailureFleet is a generated fleet: sensor names and units.
type RunToFailureFleet struct {
	Sensors []string
	Units   []RunToFailureUnit
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
	n := life
	if o.Cut {
		rul := 5 + r.IntN(146)
		rul = min(rul, life-31)
		n = life - rul
	}
	den := math.Expm1(rate * float64(life))
	u := RunToFailureUnit{ID: fmt.Sprintf("U%03d", i+1), Life: life, Cycles: make([][]float64, n)}
	for t := range n {
		// The unit fails at the end of cycle life−1, when D reaches 1.
		d := w0 + (1-w0)*math.Expm1(rate*float64(t+1))/den
		op := r.NormFloat64()
		row := make([]float64, len(shapes))
		for k, s := range shapes {
			row[k] = s.base + offsets[k] + s.gain*math.Pow(d, s.curve) + s.opGain*op + s.noise*r.NormFloat64()
		}
		u.Cycles[t] = row
	}
	return u
}
