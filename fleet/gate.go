package fleet

import (
	"fmt"
	"time"
)

// Gate statuses: whether a version's orders are raised.
const (
	// GateValidated: the version passed the rule; it raises orders.
	GateValidated = "validated"
	// GateNotValidated: it failed the rule; it gives estimates but
	// raises no orders.
	GateNotValidated = "not_validated"
	// GateOverridden: it failed the rule, and an operator let it raise
	// orders all the same (Gate.Override).
	GateOverridden = "overridden"
)

// Gate reason codes (GateReason.Code).
const (
	ReasonFewHeldOut  = "few_held_out_failures"
	ReasonLowCoverage = "low_validation_coverage"
	ReasonHighRMSE    = "rmse_above_lead"
)

// The gate's rule, chosen on the generated fleets (docs/design.md,
// "Validation gate"): six held-out failures (20 failed units at the
// default 30 % held out) measure the interval's coverage three units a
// side; a coverage 0.10 below the target (0.80 for 90 %) is one the
// interval does not keep; an RMSE above the order lead cannot time an
// order within that lead.
const (
	GateMinHeldOut        = 6
	GateCoverageTolerance = 0.10
)

// DefaultGateLead is the lead the gate compares the RMSE with when the
// training knows none (the scorer's default lead).
const DefaultGateLead = 48 * time.Hour

// GateRule is the rule a version was judged by.
type GateRule struct {
	MinHeldOutUnits       int     `json:"min_held_out_units"`
	MinValidationCoverage float64 `json:"min_validation_coverage"`
	// MaxRMSESeconds is the order lead the training knew.
	MaxRMSESeconds float64 `json:"max_validation_rmse_seconds"`
}

// GateReason is one way a version failed the rule: its figure (Value)
// against the rule's (Limit), in words in Message.
type GateReason struct {
	Code    string  `json:"code"`
	Value   float64 `json:"value"`
	Limit   float64 `json:"limit"`
	Message string  `json:"message"`
}

// GateOverride is an operator's leave for a type's versions that fail
// the rule to raise orders: kept per type, so it holds for the versions
// retraining stores until it is taken back.
type GateOverride struct {
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Note string    `json:"note"`
}

// Gate is a version's validation gate: whether it passed the rule, why
// not, and the type's override.
type Gate struct {
	Passed   bool          `json:"passed"`
	Reasons  []GateReason  `json:"reasons"`
	Rule     GateRule      `json:"rule"`
	Override *GateOverride `json:"override"`
}

// Status is validated, not_validated or overridden.
func (g Gate) Status() string {
	switch {
	case g.Passed:
		return GateValidated
	case g.Override != nil:
		return GateOverridden
	}
	return GateNotValidated
}

// OrdersAllowed tells whether a version with this gate raises orders.
func (g Gate) OrdersAllowed() bool { return g.Passed || g.Override != nil }

// OrdersAllowed tells whether the version raises orders: its gate
// passed or is overridden (a version without a gate, from before there
// was one and not read from a store, raises them as it did).
func (v Version) OrdersAllowed() bool { return v.Gate == nil || v.Gate.OrdersAllowed() }

// JudgeGate judges a trained model by the rule: at least GateMinHeldOut
// held-out failed units, a validation coverage no more than
// GateCoverageTolerance below the interval's nominal coverage, and a
// validation RMSE no larger than lead (DefaultGateLead when 0).
func JudgeGate(m Model, rep Report, lead time.Duration) Gate {
	if lead <= 0 {
		lead = DefaultGateLead
	}
	step := m.Spec.StepSeconds
	if step <= 0 {
		step = 1
	}
	nominal := m.Coverage
	if nominal <= 0 || nominal >= 1 {
		nominal = 0.9
	}
	g := Gate{Rule: GateRule{MinHeldOutUnits: GateMinHeldOut, MinValidationCoverage: round2(nominal - GateCoverageTolerance),
		MaxRMSESeconds: lead.Seconds()}, Reasons: []GateReason{}}
	if rep.CalUnits < g.Rule.MinHeldOutUnits {
		g.Reasons = append(g.Reasons, GateReason{Code: ReasonFewHeldOut, Value: float64(rep.CalUnits),
			Limit: float64(g.Rule.MinHeldOutUnits), Message: fmt.Sprintf("%d failed units held out to validate, "+
				"need %d: record more failures", rep.CalUnits, g.Rule.MinHeldOutUnits)})
	}
	if !(rep.ValidationCoverage >= g.Rule.MinValidationCoverage) {
		g.Reasons = append(g.Reasons, GateReason{Code: ReasonLowCoverage, Value: rep.ValidationCoverage,
			Limit: g.Rule.MinValidationCoverage, Message: fmt.Sprintf("the %.0f %% interval covered %.0f %% of the held-out "+
				"remaining lives, below %.0f %%", 100*nominal, 100*rep.ValidationCoverage, 100*g.Rule.MinValidationCoverage)})
	}
	if rmse := rep.ValidationRMSE * step; !(rmse <= g.Rule.MaxRMSESeconds) {
		g.Reasons = append(g.Reasons, GateReason{Code: ReasonHighRMSE, Value: rmse, Limit: g.Rule.MaxRMSESeconds,
			Message: fmt.Sprintf("validation RMSE %.1f h is above the order lead %.1f h", rmse/3600, lead.Hours())})
	}
	g.Passed = len(g.Reasons) == 0
	return g
}

// GateByLead is the gate of a version whose orders use the type's own lead
// (Model.LeadSeconds) or, without one, defaultLead (PDM_FLEET_LEAD;
// DefaultGateLead when 0): the stored gate when it was judged by that
// lead, else the version judged again by it (a version stored before
// there was a gate, or the default lead changed since it was trained).
// The type's override, kept apart, is the caller's to attach.
func GateByLead(stored *Gate, m Model, rep Report, defaultLead time.Duration) Gate {
	lead := time.Duration(m.LeadSeconds * float64(time.Second))
	if lead <= 0 {
		lead = defaultLead
	}
	if lead <= 0 {
		lead = DefaultGateLead
	}
	if stored != nil && stored.Rule.MaxRMSESeconds == lead.Seconds() {
		return *stored
	}
	return JudgeGate(m, rep, lead)
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
