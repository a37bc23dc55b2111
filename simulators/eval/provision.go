package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/openpdm/pdm/simulators"
)

// Provisioned says what Provision found and created.
type Provisioned struct {
	SiteID        string
	AssetIDs      map[string]string // asset code → id
	CreatedAssets int
	CreatedRules  int
}

// Provision registers a scenario in the platform: its site (by code), its
// assets (by code, type from the scenario, criticality 3) and its rules
// (by name). What exists already is kept, so it can run on every start.
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

	type rule struct {
		Name string `json:"name"`
	}
	existing, err := list[rule](ctx, c, "/api/v1/rules", nil)
	if err != nil {
		return out, err
	}
	have := map[string]bool{}
	for _, r := range existing {
		have[r.Name] = true
	}
	for _, r := range s.Rules {
		if have[r.Name] {
			continue
		}
		b, err := json.Marshal(r)
		if err != nil {
			return out, err
		}
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			return out, err
		}
		// Server-assigned fields stay out of the request.
		for _, k := range []string{"id", "created_at", "updated_at"} {
			delete(body, k)
		}
		if err := c.post(ctx, "/api/v1/rules", body, nil); err != nil {
			return out, fmt.Errorf("rule %q: %w", r.Name, err)
		}
		out.CreatedRules++
	}
	return out, nil
}

func (c *Client) post(ctx context.Context, path string, body, into any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %w", path, apiError(resp, rb))
	}
	if into != nil {
		if err := json.Unmarshal(rb, into); err != nil {
			return fmt.Errorf("POST %s: %w", path, err)
		}
	}
	return nil
}
