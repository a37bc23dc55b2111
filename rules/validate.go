package rules

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// FieldError is one problem with one field of a rule.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists everything wrong with a rule. The API answers it
// with 422 and the list of field errors.
type ValidationError struct {
	Fields []FieldError `json:"fields"`
}

// Error joins the field errors into one line.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid rule: " + strings.Join(parts, "; ")
}

var (
	metricNameRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	failureModeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.:-]{0,127}$`)
)

// Limits on rule fields that keep evaluation cheap and predictions sane.
const (
	MaxWindow    = Duration(30 * 24 * 60 * 60 * 1e9)  // 30d
	MaxHorizon   = Duration(365 * 24 * 60 * 60 * 1e9) // 365d
	MaxMinPoints = 100000
)

// Validate reports everything wrong with r as a *ValidationError, or nil.
// It does not change r; call Normalize first to fill defaults.
func (r *Rule) Validate() error {
	var errs []FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(r.Name) == "" {
		add("name", "is required")
	} else if len(r.Name) > 200 {
		add("name", "is longer than 200 characters")
	}
	switch {
	case r.AssetType == "" && r.AssetID == "":
		add("asset_type", "either asset_type or asset_id is required")
	case r.AssetType != "" && r.AssetID != "":
		add("asset_id", "give asset_type or asset_id, not both")
	}
	if !metricNameRE.MatchString(r.Metric) {
		add("metric", "must match [a-z][a-z0-9_]{0,63}, got %q", r.Metric)
	}
	if r.Direction != Above && r.Direction != Below {
		add("direction", "must be %q or %q, got %q", Above, Below, r.Direction)
	}
	finite := func(field string, p *float64) bool {
		if p != nil && (math.IsNaN(*p) || math.IsInf(*p, 0)) {
			add(field, "must be a finite number")
			return false
		}
		return p != nil
	}
	hasWarn, hasCrit := finite("warn", r.Warn), finite("critical", r.Critical)
	if !hasWarn && !hasCrit && r.Stale == 0 {
		add("critical", "a rule needs warn, critical or stale")
	}
	if hasWarn && hasCrit {
		if r.Direction == Above && *r.Warn > *r.Critical {
			add("warn", "must not be above critical for direction above (%g > %g)", *r.Warn, *r.Critical)
		}
		if r.Direction == Below && *r.Warn < *r.Critical {
			add("warn", "must not be below critical for direction below (%g < %g)", *r.Warn, *r.Critical)
		}
	}
	if r.For < 0 {
		add("for", "must not be negative")
	}
	if math.IsNaN(r.Hysteresis) || math.IsInf(r.Hysteresis, 0) || r.Hysteresis < 0 {
		add("hysteresis", "must be a finite number >= 0")
	}
	if r.Stale < 0 {
		add("stale", "must not be negative")
	}
	if p := r.Predict; p != nil {
		if !hasCrit {
			add("predict", "prediction needs a critical limit to forecast")
		}
		if p.Window <= 0 || p.Window > MaxWindow {
			add("predict.window", "must be > 0 and at most %s", MaxWindow)
		}
		if p.Horizon <= 0 || p.Horizon > MaxHorizon {
			add("predict.horizon", "must be > 0 and at most %s", MaxHorizon)
		}
		if math.IsNaN(p.MinR2) || p.MinR2 < 0 || p.MinR2 > 1 {
			add("predict.min_r2", "must be between 0 and 1")
		}
		if p.MinPoints < 3 || p.MinPoints > MaxMinPoints {
			add("predict.min_points", "must be between 3 and %d", MaxMinPoints)
		}
	}
	if !failureModeRE.MatchString(r.FailureMode) {
		add("failure_mode", "is required and must match [a-z0-9][a-z0-9_.:-]*, got %q", r.FailureMode)
	}
	switch r.Priority {
	case "", "P1", "P2", "P3", "P4":
	default:
		add("priority", "must be one of P1, P2, P3, P4, got %q", r.Priority)
	}
	for i, s := range r.Skills {
		if strings.TrimSpace(s) == "" {
			add(fmt.Sprintf("skills[%d]", i), "must not be empty")
		}
	}
	for i, p := range r.Parts {
		if strings.TrimSpace(p.SKU) == "" {
			add(fmt.Sprintf("parts[%d].sku", i), "is required")
		}
		if p.Qty <= 0 {
			add(fmt.Sprintf("parts[%d].qty", i), "must be > 0")
		}
	}
	if r.EstimatedDuration < 0 {
		add("estimated_duration", "must not be negative")
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

// Normalize fills defaults: a missing failure mode becomes the metric name
// with a suffix, predict.min_points defaults to 10.
func (r *Rule) Normalize() {
	r.Name = strings.TrimSpace(r.Name)
	if r.FailureMode == "" && r.Metric != "" {
		r.FailureMode = r.Metric + "_limit"
	}
	if r.Predict != nil && r.Predict.MinPoints == 0 {
		r.Predict.MinPoints = 10
	}
}

// Bad reports whether v is on the bad side of (or at) limit.
func (d Direction) Bad(v, limit float64) bool {
	if d == Below {
		return v <= limit
	}
	return v >= limit
}

// Cleared reports whether v is back inside limit by at least hyst.
func (d Direction) Cleared(v, limit, hyst float64) bool {
	if d == Below {
		return v > limit+hyst
	}
	return v < limit-hyst
}

// Covers reports whether r applies to an asset with this id and type.
func (r *Rule) Covers(assetID, assetType string) bool {
	if r.AssetID != "" {
		return r.AssetID == assetID
	}
	return r.AssetType == assetType
}
