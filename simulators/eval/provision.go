package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/simulators"
)

// Provisioned says what Provision found and created.
type Provisioned struct {
	SiteID        string
	AssetIDs      map[string]string // asset code → id
	CreatedAssets int
	CreatedRules  int
	// UpdatedRules names the rules that existed with other settings and
	// were replaced by the scenario's.
	UpdatedRules []string
}

// Provision registers a scenario in the platform: its site (by code), its
// assets (by code, type from the scenario, criticality 3) and its rules
// (by name). Sites and assets that exist are kept; a rule of the same name
// whose settings differ from the scenario's is replaced (PUT) and named in
// UpdatedRules, so the platform evaluates what the scenario expects. It
// can run on every start.
func (c *Client) Provision(ctx context.Context, s *simulators.Scenario) (Provisioned, error) {
	out := Provisioned{AssetIDs: map[string]string{}}
	type site struct {
		ID   string `json:"id"`
		Code string `json:"code"`
	}
	sites, err := list[site](ctx, c, "/api/v1/sites", nil)
	if err != nil {
		return out, err
	}
	for _, st := range sites {
		if st.Code == s.Site {
			out.SiteID = st.ID
		}
	}
	if out.SiteID == "" {
		var st site
		if err := c.post(ctx, "/api/v1/sites", map[string]any{"code": s.Site, "name": "Simulated site " + s.Site}, &st); err != nil {
			return out, err
		}
		out.SiteID = st.ID
	}

	assets, err := list[Asset](ctx, c, "/api/v1/assets", url.Values{"site_id": {out.SiteID}})
	if err != nil {
		return out, err
	}
	for _, a := range assets {
		if a.SiteID == out.SiteID {
			out.AssetIDs[a.Code] = a.ID
		}
	}
	for _, m := range s.Assets {
		if _, ok := out.AssetIDs[m.Code()]; ok {
			continue
		}
		var a Asset
		body := map[string]any{"site_id": out.SiteID, "code": m.Code(), "type": m.Type().Name,
			"name": m.Type().Name + " " + m.Code(), "criticality": 3}
		if err := c.post(ctx, "/api/v1/assets", body, &a); err != nil {
			return out, err
		}
		out.AssetIDs[m.Code()] = a.ID
		out.CreatedAssets++
	}

	existing, err := list[rules.Rule](ctx, c, "/api/v1/rules", nil)
	if err != nil {
		return out, err
	}
	have := map[string]rules.Rule{}
	for _, r := range existing {
		if _, dup := have[r.Name]; !dup {
			have[r.Name] = r
		}
	}
	for _, r := range s.Rules {
		body, err := ruleBody(r)
		if err != nil {
			return out, err
		}
		old, ok := have[r.Name]
		if !ok {
			if err := c.send(ctx, http.MethodPost, "/api/v1/rules", body, nil); err != nil {
				return out, fmt.Errorf("rule %q: %w", r.Name, err)
			}
			out.CreatedRules++
			continue
		}
		if sameSettings(old, r) {
			continue
		}
		if err := c.send(ctx, http.MethodPut, "/api/v1/rules/"+url.PathEscape(old.ID), body, nil); err != nil {
			return out, fmt.Errorf("update rule %q: %w", r.Name, err)
		}
		out.UpdatedRules = append(out.UpdatedRules, r.Name)
	}
	return out, nil
}

// ruleBody is a rule as the API takes it: server-assigned fields left out.
func ruleBody(r rules.Rule) (map[string]any, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, err
	}
	for _, k := range []string{"id", "created_at", "updated_at"} {
		delete(body, k)
	}
	return body, nil
}

// sameSettings reports whether two rules evaluate and raise orders alike
// (ids and timestamps aside; an empty list equals none).
func sameSettings(a, b rules.Rule) bool {
	norm := func(r rules.Rule) string {
		r.ID, r.CreatedAt, r.UpdatedAt = "", time.Time{}, time.Time{}
		if len(r.Skills) == 0 {
			r.Skills = nil
		}
		if len(r.Parts) == 0 {
			r.Parts = nil
		}
		b, _ := json.Marshal(r)
		return string(b)
	}
	return norm(a) == norm(b)
}

func (c *Client) post(ctx context.Context, path string, body, into any) error {
	return c.send(ctx, http.MethodPost, path, body, into)
}

func (c *Client) send(ctx context.Context, method, path string, body, into any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, apiError(resp, rb))
	}
	if into != nil {
		if err := json.Unmarshal(rb, into); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}
