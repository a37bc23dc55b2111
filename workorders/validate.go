package workorders

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/openpdm/pdm/rules"
)

// codeOK matches site, asset and gateway codes (the contract's topic IDs).
func codeOK(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func metricOK(s string) bool {
	ok, _ := regexp.MatchString(`^[a-z][a-z0-9_]{0,63}$`, s)
	return ok
}

func validateLocation(field string, l *Location) error {
	if l == nil {
		return nil
	}
	if math.IsNaN(l.Lat) || l.Lat < -90 || l.Lat > 90 {
		return Unprocessable(field+".lat", "must be between -90 and 90")
	}
	if math.IsNaN(l.Lon) || l.Lon < -180 || l.Lon > 180 {
		return Unprocessable(field+".lon", "must be between -180 and 180")
	}
	return nil
}

func validateName(field, v string, required bool) error {
	if required && strings.TrimSpace(v) == "" {
		return Invalid(field, "required")
	}
	if len(v) > 200 {
		return Invalid(field, "at most 200 characters")
	}
	return nil
}

// Bounds of part lists: quantities per line and lines per list.
const (
	MaxPartQty   = 10000
	MaxPartLines = 100
)

func validateParts(field string, ps []rules.PartQty) error {
	var p Problems
	if len(ps) > MaxPartLines {
		p.Add(field, "at most %d lines", MaxPartLines)
	}
	for i, pq := range ps {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !skuOK(pq.SKU) {
			p.Add(f+".sku", "must match [A-Za-z0-9._-]{1,64}")
		}
		if pq.Qty <= 0 || pq.Qty > MaxPartQty {
			p.Add(f+".qty", "must be from 1 to %d", MaxPartQty)
		}
	}
	return p.Err()
}

func validateSkills(skills []string) error {
	for _, s := range skills {
		if strings.TrimSpace(s) == "" || len(s) > 64 {
			return Invalid("skills", "each skill must have 1-64 characters")
		}
	}
	return nil
}

// ValidateSite checks a site's fields.
func ValidateSite(s Site) error {
	if !codeOK(s.Code) {
		return Invalid("code", "must match [A-Za-z0-9_-]{1,64}")
	}
	if err := validateName("name", s.Name, true); err != nil {
		return err
	}
	return validateLocation("location", s.Location)
}

// ValidateAsset checks an asset's fields.
func ValidateAsset(a Asset) error {
	if !codeOK(a.Code) {
		return Invalid("code", "must match [A-Za-z0-9_-]{1,64}")
	}
	if a.SiteID == "" {
		return Invalid("site_id", "required")
	}
	if err := validateName("name", a.Name, true); err != nil {
		return err
	}
	if strings.TrimSpace(a.Type) == "" || len(a.Type) > 64 {
		return Invalid("type", "required, at most 64 characters")
	}
	if a.Criticality < 1 || a.Criticality > 5 {
		return Unprocessable("criticality", "must be 1 to 5")
	}
	if a.ParentID != nil && *a.ParentID == a.ID && a.ID != "" {
		return Unprocessable("parent_id", "an asset cannot be its own parent")
	}
	if len(a.Area) > 100 {
		return Invalid("area", "at most 100 characters")
	}
	return validateLocation("location", a.Location)
}

// ValidateRule checks a rule's fields: exactly one of asset_type and
// asset_id, a metric name, a direction, at least one limit (warn before
// critical in the rule's direction), non-negative durations and hysteresis,
// a priority P1-P4 (empty means P3), sane prediction settings and parts.
func ValidateRule(r rules.Rule) error {
	if err := validateName("name", r.Name, true); err != nil {
		return err
	}
	if (r.AssetType == "") == (r.AssetID == "") {
		return Invalid("asset_type", "give exactly one of asset_type and asset_id")
	}
	if !metricOK(r.Metric) {
		return Invalid("metric", "must match [a-z][a-z0-9_]{0,63}")
	}
	if r.Direction != rules.Above && r.Direction != rules.Below {
		return Invalid("direction", "must be above or below")
	}
	if r.Warn == nil && r.Critical == nil {
		return Unprocessable("critical", "give warn, critical or both")
	}
	for _, v := range []*float64{r.Warn, r.Critical} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			return Invalid("critical", "limits must be finite numbers")
		}
	}
	if r.Warn != nil && r.Critical != nil {
		if r.Direction == rules.Above && *r.Warn > *r.Critical {
			return Unprocessable("warn", "must not be above critical for direction above")
		}
		if r.Direction == rules.Below && *r.Warn < *r.Critical {
			return Unprocessable("warn", "must not be below critical for direction below")
		}
	}
	if r.For < 0 {
		return Invalid("for", "must not be negative")
	}
	if r.Hysteresis < 0 || math.IsNaN(r.Hysteresis) {
		return Invalid("hysteresis", "must not be negative")
	}
	if r.VerifyFor != 0 && (r.VerifyFor < rules.Duration(time.Minute) || r.VerifyFor > rules.Duration(90*24*time.Hour)) {
		return Invalid("verify_for", "must be between 1m and 90d (empty: 24h)")
	}
	if r.Priority != "" && !Priority(r.Priority).Valid() {
		return Invalid("priority", "must be P1, P2, P3 or P4")
	}
	if p := r.Predict; p != nil {
		if r.Critical == nil {
			return Unprocessable("predict", "prediction needs a critical limit")
		}
		if p.Window <= 0 || p.Horizon <= 0 {
			return Unprocessable("predict", "window and horizon must be positive")
		}
		if p.MinR2 < 0 || p.MinR2 > 1 {
			return Unprocessable("predict.min_r2", "must be between 0 and 1")
		}
		if p.MinPoints < 2 {
			return Unprocessable("predict.min_points", "must be at least 2")
		}
	}
	if err := validateSkills(r.Skills); err != nil {
		return err
	}
	return validateParts("parts", r.Parts)
}

// ValidateWebhook checks a webhook subscription.
func ValidateWebhook(w Webhook) error {
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Invalid("url", "must be an absolute http or https URL")
	}
	if len(w.Secret) < 8 {
		return Invalid("secret", "must have at least 8 characters")
	}
	known := map[string]bool{"*": true}
	for _, t := range WebhookEventTypes() {
		known[t] = true
	}
	for _, t := range w.EventTypes {
		if !known[t] {
			return Unprocessable("event_types", "unknown event type %q", t)
		}
	}
	return nil
}

// ValidateSLAPolicy checks an SLA policy.
func ValidateSLAPolicy(p SLAPolicy) error {
	if !p.Priority.Valid() {
		return Invalid("priority", "must be P1, P2, P3 or P4")
	}
	if p.Response <= 0 || p.Resolve <= 0 {
		return Unprocessable("response", "response and resolution must be positive durations")
	}
	if p.Response > p.Resolve {
		return Unprocessable("response", "must not exceed resolution")
	}
	if p.AtRisk < 0 || p.AtRisk >= 1 {
		return Unprocessable("at_risk", "must be in [0,1); 0 means the default 0.8")
	}
	return nil
}

func validateAction(req ActionRequest) error {
	var p Problems
	switch req.Action {
	case ActReject, ActClose:
		switch req.Reason {
		case "":
			p.Add("reason", "required for %s: one of %s", req.Action, strings.Join(Reasons(), ", "))
		case ReasonNoFaultFound, ReasonDuplicate, ReasonNotActionable:
		case ReasonOther:
			if strings.TrimSpace(req.Note) == "" {
				p.Add("note", "required when reason is other")
			}
		default:
			p.Add("reason", "must be one of %s", strings.Join(Reasons(), ", "))
		}
	case ActDecline, ActHold:
		if strings.TrimSpace(req.Reason) == "" {
			p.Add("reason", "required for %s", req.Action)
		}
	case ActAssign:
		if req.AssigneeID == "" {
			p.Add("assignee_id", "required for assign")
		}
	case ActMerge:
		if req.MergeInto == "" {
			p.Add("into", "required for merge")
		}
	case ActComplete:
		if req.LabourTime < 0 {
			p.Add("labour_time", "must not be negative")
		}
		p.AddErr(validateParts("parts_used", req.PartsUsed))
	case ActApprove:
		if req.Priority != nil && !req.Priority.Valid() {
			p.Add("priority", "must be P1, P2, P3 or P4")
		}
		p.AddErr(validateSkills(req.Skills))
		p.AddErr(validateParts("parts", req.Parts))
	}
	if len(req.Reason) > 200 {
		p.Add("reason", "at most 200 characters")
	}
	if len(req.Note) > 4000 {
		p.Add("note", "at most 4000 characters")
	}
	return p.Err()
}

// CreateSite validates and stores a site.
func (s *Service) CreateSite(ctx context.Context, v Site) (Site, error) {
	if err := ValidateSite(v); err != nil {
		return Site{}, err
	}
	return s.Store.CreateSite(ctx, v)
}

// UpdateSite validates and stores a site.
func (s *Service) UpdateSite(ctx context.Context, v Site) (Site, error) {
	if err := ValidateSite(v); err != nil {
		return Site{}, err
	}
	return s.Store.UpdateSite(ctx, v)
}

// CreateAsset validates and stores an asset.
func (s *Service) CreateAsset(ctx context.Context, a Asset) (Asset, error) {
	if err := ValidateAsset(a); err != nil {
		return Asset{}, err
	}
	return s.Store.CreateAsset(ctx, a)
}

// UpdateAsset validates and stores an asset.
func (s *Service) UpdateAsset(ctx context.Context, a Asset) (Asset, error) {
	if err := ValidateAsset(a); err != nil {
		return Asset{}, err
	}
	return s.Store.UpdateAsset(ctx, a)
}

// CreateRule validates and stores a rule.
func (s *Service) CreateRule(ctx context.Context, r rules.Rule) (rules.Rule, error) {
	if r.Priority == "" {
		r.Priority = string(P3)
	}
	if err := ValidateRule(r); err != nil {
		return rules.Rule{}, err
	}
	return s.Store.CreateRule(ctx, r)
}

// UpdateRule validates and stores a rule.
func (s *Service) UpdateRule(ctx context.Context, r rules.Rule) (rules.Rule, error) {
	if r.Priority == "" {
		r.Priority = string(P3)
	}
	if err := ValidateRule(r); err != nil {
		return rules.Rule{}, err
	}
	return s.Store.UpdateRule(ctx, r)
}

// CreateWebhook validates and stores a webhook.
func (s *Service) CreateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	if err := ValidateWebhook(w); err != nil {
		return Webhook{}, err
	}
	if !s.AllowPrivateWebhooks {
		if err := CheckTarget(w.URL); err != nil {
			return Webhook{}, err
		}
	}
	return s.Store.CreateWebhook(ctx, w)
}

// UpdateWebhook validates and stores a webhook.
func (s *Service) UpdateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	if err := ValidateWebhook(w); err != nil {
		return Webhook{}, err
	}
	if !s.AllowPrivateWebhooks {
		if err := CheckTarget(w.URL); err != nil {
			return Webhook{}, err
		}
	}
	return s.Store.UpdateWebhook(ctx, w)
}

// PutSLAPolicy validates and stores a policy (one per priority).
func (s *Service) PutSLAPolicy(ctx context.Context, p SLAPolicy) (SLAPolicy, error) {
	if p.AtRisk == 0 {
		p.AtRisk = 0.8
	}
	if err := ValidateSLAPolicy(p); err != nil {
		return SLAPolicy{}, err
	}
	return s.Store.PutSLAPolicy(ctx, p)
}
