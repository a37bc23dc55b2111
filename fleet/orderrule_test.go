package fleet

import (
	"fmt"
	"math"
	"testing"

	"github.com/openpdm/pdm/simulators"
)

// orderRule is a candidate decision: an order when rul − margin·half ≤
// lead·leadFactor (margin 1, factor 1: the lower bound within the lead).
type orderRule struct {
	name               string
	margin, leadFactor float64
}

var orderRules = []orderRule{
	{"lower <= lead", 1, 1},
	{"lower <= lead/2", 1, 0.5},
	{"lower <= 0.75*lead", 1, 0.75},
	{"point <= lead", 0, 1},
	{"point <= 1.5*lead", 0, 1.5},
	{"point <= 1.75*lead", 0, 1.75},
	{"point - 0.25*half <= lead", 0.25, 1},
	{"point - 0.5*half <= lead", 0.5, 1},
	{"point - 0.6*half <= lead", 0.6, 1},
	{"point - 0.7*half <= lead", 0.7, 1},
	{"point - 0.75*half <= lead", 0.75, 1},
}

// ruleOutcome is a rule's outcome over the test units' whole lives,
// scored at every cycle from the first scorable one; a unit gets one
// order, at the first cycle the rule fires (the platform keeps one open
// order per asset and failure mode).
type ruleOutcome struct {
	units int
	// onTime: ordered with at least lead cycles of life left;
	// halfLead: with at least lead/2; ordered: before the failure.
	onTime, halfLead, ordered int
	// falseAlarms: ordered with more than 2·lead cycles left (not due).
	falseAlarms int
	// healthy is the scored cycles with more than 2·lead left.
	healthy int
}

func (o ruleOutcome) recall() float64     { return float64(o.onTime) / float64(o.units) }
func (o ruleOutcome) recallHalf() float64 { return float64(o.halfLead) / float64(o.units) }
func (o ruleOutcome) falseShare() float64 { return float64(o.falseAlarms) / float64(o.units) }

// per100Months is false alarms per 100 healthy asset-months, one cycle
// standing for an hour.
func (o ruleOutcome) per100Months() float64 {
	return float64(o.falseAlarms) / (float64(o.healthy) / 720) * 100
}

// evaluateRules trains on nTrain failed units of seed and scores nTest
// other units' whole lives at every cycle with each rule.
func evaluateRules(seed uint64, nTrain, nTest int, lead float64, rules []orderRule, opts Options) ([]ruleOutcome, error) {
	train := simulators.RunToFailure(seed, simulators.RunToFailureOptions{Units: nTrain})
	test := simulators.RunToFailure(seed, simulators.RunToFailureOptions{Units: nTest, FirstUnit: nTrain})
	m, _, err := Train(toUnits(train), Spec{Metrics: train.Sensors}, opts)
	if err != nil {
		return nil, err
	}
	out := make([]ruleOutcome, len(rules))
	for _, u := range test.Units {
		first := make([]float64, len(rules))
		for i := range first {
			first[i] = math.NaN()
		}
		healthy := 0
		for t := m.Spec.MinRows(); t <= len(u.Cycles); t++ {
			est, err := m.Predict(u.Cycles[max(0, t-400):t])
			if err != nil {
				return nil, err
			}
			rul := float64(u.Life - t)
			if rul > 2*lead {
				healthy++
			}
			for i, r := range rules {
				if math.IsNaN(first[i]) && orderDue(est.RUL, est.Upper-est.RUL, lead*r.leadFactor, r.margin) {
					first[i] = rul
				}
			}
		}
		for i := range rules {
			o := &out[i]
			o.units++
			o.healthy += healthy
			r := first[i]
			if math.IsNaN(r) {
				continue
			}
			o.ordered++
			if r >= lead {
				o.onTime++
			}
			if r >= lead/2 {
				o.halfLead++
			}
			if r > 2*lead {
				o.falseAlarms++
			}
		}
	}
	return out, nil
}

// TestOrderRule holds the default order rule's figures on one seed (60
// failed units to train, 100 others scored at every cycle of their lives,
// 48 cycles of lead, one cycle an hour): at least 99 of 100 units ordered
// half a lead or more before their failure (the lower-bound rule it
// replaced: all), at least 0.6 a whole lead before, at most 15 % ordered
// while more than 2·lead from failure and at most 0.7 times the
// lower-bound rule's such false alarms (bench/predict.md: 0.068 against
// 0.166 over five other seeds with the health index models and margin
// 0.7; seed 7: recall 0.70, 5 false alarms against 16).
func TestOrderRule(t *testing.T) {
	rules := []orderRule{{"default", DefaultOrderMargin, 1}, {"lower <= lead", 1, 1}}
	out, err := evaluateRules(7, 60, 100, 48, rules, Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	d, lower := out[0], out[1]
	t.Logf("default: recall %.2f (>= lead/2: %.2f), false alarms %d of %d; lower bound: recall %.2f (>= lead/2: %.2f), false alarms %d",
		d.recall(), d.recallHalf(), d.falseAlarms, d.units, lower.recall(), lower.recallHalf(), lower.falseAlarms)
	if d.recallHalf() < 0.99 {
		t.Errorf("%d of %d units ordered at least 24 cycles before failure, want >= 99 %%", d.halfLead, d.units)
	}
	if d.recall() < 0.6 {
		t.Errorf("recall at the lead %.2f, want >= 0.6", d.recall())
	}
	if d.falseShare() > 0.15 {
		t.Errorf("%d of %d units ordered more than 96 cycles before failure, want <= 15 %%", d.falseAlarms, d.units)
	}
	if float64(d.falseAlarms) > 0.7*float64(lower.falseAlarms) {
		t.Errorf("default rule: %d false alarms, lower-bound rule %d: want at most 0.7 times", d.falseAlarms, lower.falseAlarms)
	}
}

// BenchmarkOrderRules is the table of bench/predict.md "Which estimate
// raises the order": per seed, train on 100 failed units, score 100
// others at every cycle of their lives, one order per unit at the first
// cycle a rule fires, lead 48 cycles. Run with -benchtime 1x.
func BenchmarkOrderRules(b *testing.B) {
	const lead = 48
	total := make([]ruleOutcome, len(orderRules))
	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		b.Run(fmt.Sprintf("seed=%d", seed), func(b *testing.B) {
			var out []ruleOutcome
			for b.Loop() {
				var err error
				if out, err = evaluateRules(seed, 100, 100, lead, orderRules, Options{Seed: seed}); err != nil {
					b.Fatal(err)
				}
			}
			for i, r := range orderRules {
				o := out[i]
				b.Logf("seed %d | %s | %.2f | %.2f | %.2f | %.2f | %.0f", seed, r.name, o.recall(), o.recallHalf(),
					float64(o.ordered)/float64(o.units), o.falseShare(), o.per100Months())
				t := &total[i]
				t.units += o.units
				t.onTime += o.onTime
				t.halfLead += o.halfLead
				t.ordered += o.ordered
				t.falseAlarms += o.falseAlarms
				t.healthy += o.healthy
			}
		})
	}
	fmt.Println("| rule | recall (ordered >= 48 cycles before) | ordered >= 24 before | ordered before failure | false alarms (ordered > 96 before), share of units | false alarms per 100 healthy unit-months |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for i, r := range orderRules {
		o := total[i]
		fmt.Printf("| %s | %.3f | %.3f | %.3f | %.3f | %.0f |\n", r.name, o.recall(), o.recallHalf(),
			float64(o.ordered)/float64(o.units), o.falseShare(), o.per100Months())
	}
}
