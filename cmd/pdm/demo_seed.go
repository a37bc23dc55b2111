package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/openpdm/pdm/simulators"
	"github.com/openpdm/pdm/workorders"
)

// demoSeeded is what seeding the demo found and made.
type demoSeeded struct {
	// Continued is true when the site already existed: an earlier demo's
	// assets, orders and history are kept and the demo goes on with them.
	Continued bool
	SiteID    string
	// Engineer and EngineerToken sign in to the engineers' app (a fresh
	// token on every run: tokens are shown once).
	Engineer      string
	EngineerToken string
}

// demoPoint is a place in the demo region (around Suzhou, where the
// demo's plant halls stand some 10-60 km apart, so travel matters).
type demoPoint struct{ lat, lon float64 }

var demoAreas = []demoPoint{
	{31.318, 120.716}, // Suzhou Industrial Park (the site)
	{31.385, 120.980}, // Kunshan
	{31.490, 120.312}, // Wuxi
	{31.270, 120.580}, // Suzhou west
}

// demoCrew are the demo's engineers; the first one's token is printed.
var demoCrew = []struct {
	name string
	home demoPoint
	// from and to bound a daily shift; empty means around the clock.
	from, to string
}{
	{"Ada Demo", demoAreas[0], "", ""},
	{"Ben Demo", demoAreas[1], "", ""},
	{"Cleo Demo", demoAreas[2], "08:00", "18:00"},
}

// seedDemoSite makes the scenario's site usable end to end through the
// API, idempotently: the site, assets and rules (Provision), locations
// for the map, SLA policies, engineers with user accounts, a warehouse
// with the rules' spare parts, and knowledge articles in Chinese and
// English.
func seedDemoSite(ctx context.Context, api *apiClient, addr, token string, scen *simulators.Scenario) (demoSeeded, error) {
	var out demoSeeded
	sites, err := listAll[idCode](ctx, api, "/sites", nil)
	if err != nil {
		return out, fmt.Errorf("list sites: %w", err)
	}
	for _, s := range sites {
		if s.Code == scen.Site {
			out.Continued = true
		}
	}
	if err := seedDemo(ctx, addr, token, scen); err != nil {
		return out, err
	}
	steps := []struct {
		name string
		fn   func() error
	}{
		{"locations", func() error { return seedDemoLocations(ctx, api, scen, &out) }},
		{"SLA policies", func() error { return seedDemoSLA(ctx, api) }},
		{"engineers", func() error { return seedDemoEngineers(ctx, api, scen, &out) }},
		{"parts", func() error { return seedDemoParts(ctx, api, scen) }},
		{"knowledge", func() error { return seedDemoKnowledge(ctx, api) }},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return out, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return out, nil
}

type demoLocated struct {
	ID          string               `json:"id"`
	Code        string               `json:"code"`
	Name        string               `json:"name"`
	SiteID      string               `json:"site_id"`
	Type        string               `json:"type"`
	Criticality int                  `json:"criticality"`
	ParentID    *string              `json:"parent_id"`
	Location    *workorders.Location `json:"location"`
}

// seedDemoLocations places the site and each asset without a location in
// one of the demo's plant halls (asset i in hall i mod 4, a few hundred
// metres apart), so the dispatch map shows them and travel differs.
func seedDemoLocations(ctx context.Context, api *apiClient, scen *simulators.Scenario, out *demoSeeded) error {
	sites, err := listAll[demoLocated](ctx, api, "/sites", nil)
	if err != nil {
		return err
	}
	for _, s := range sites {
		if s.Code != scen.Site {
			continue
		}
		out.SiteID = s.ID
		if s.Location == nil {
			loc := workorders.Location{Lat: demoAreas[0].lat, Lon: demoAreas[0].lon}
			if err := api.do(ctx, "PUT", "/sites/"+s.ID, map[string]any{"code": s.Code, "name": s.Name, "location": loc}, nil); err != nil {
				return fmt.Errorf("site %s: %w", s.Code, err)
			}
		}
	}
	if out.SiteID == "" {
		return fmt.Errorf("site %s not found after provisioning", scen.Site)
	}
	assets, err := listAll[demoLocated](ctx, api, "/assets", url.Values{"site_id": {out.SiteID}})
	if err != nil {
		return err
	}
	for i, a := range assets {
		if a.Location != nil {
			continue
		}
		area := demoAreas[i%len(demoAreas)]
		k := float64(i / len(demoAreas))
		loc := workorders.Location{Lat: area.lat + 0.002*k, Lon: area.lon + 0.003*float64(int(k)%3)}
		crit := a.Criticality
		if crit == 0 {
			crit = 3
		}
		body := map[string]any{"site_id": a.SiteID, "code": a.Code, "type": a.Type, "name": a.Name,
			"criticality": crit, "location": loc, "parent_id": a.ParentID}
		if err := api.do(ctx, "PUT", "/assets/"+a.ID, body, nil); err != nil {
			return fmt.Errorf("asset %s: %w", a.Code, err)
		}
	}
	return nil
}

// demoSLA are the demo's SLA policies (response = until accepted,
// resolution = until completed).
var demoSLA = []struct{ prio, response, resolution string }{
	{"P1", "1h", "8h"}, {"P2", "4h", "24h"}, {"P3", "24h", "72h"}, {"P4", "72h", "7d"},
}

func seedDemoSLA(ctx context.Context, api *apiClient) error {
	for _, p := range demoSLA {
		if err := api.do(ctx, "PUT", "/sla-policies/"+p.prio, map[string]any{"response": p.response,
			"resolution": p.resolution, "pause_on_hold": true, "at_risk": 0.8}, nil); err != nil {
			return fmt.Errorf("%s: %w", p.prio, err)
		}
	}
	return nil
}

type demoEngineer struct {
	ID     string               `json:"id"`
	Name   string               `json:"name"`
	UserID *string              `json:"user_id"`
	Home   *workorders.Location `json:"home"`
}

// seedDemoEngineers makes the crew, each with an engineer user account
// (dispatch assigns only engineers with one), with the skills the
// scenario's rules ask for, and mints a token for the first.
func seedDemoEngineers(ctx context.Context, api *apiClient, scen *simulators.Scenario, out *demoSeeded) error {
	skills := map[string]int{}
	for _, r := range scen.Rules {
		for _, s := range r.Skills {
			skills[s] = 3
		}
	}
	have, err := listAll[demoEngineer](ctx, api, "/engineers", nil)
	if err != nil {
		return err
	}
	byName := map[string]demoEngineer{}
	for _, e := range have {
		byName[e.Name] = e
	}
	for i, c := range demoCrew {
		e, exists := byName[c.name]
		home := workorders.Location{Lat: c.home.lat, Lon: c.home.lon}
		var token string
		if !exists || e.UserID == nil {
			var u struct {
				ID    string `json:"id"`
				Token string `json:"token"`
			}
			if err := api.do(ctx, "POST", "/users", map[string]any{"name": c.name, "role": "engineer"}, &u); err != nil {
				return fmt.Errorf("user %s: %w", c.name, err)
			}
			e.UserID, token = &u.ID, u.Token
		}
		if !exists || token != "" || e.Home == nil || *e.Home != home {
			var shifts []map[string]string
			for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
				if c.from == "" {
					shifts = append(shifts, map[string]string{"day": d, "start": "00:00", "end": "23:59"})
				} else if d != "sun" {
					shifts = append(shifts, map[string]string{"day": d, "start": c.from, "end": c.to})
				}
			}
			body := map[string]any{"name": c.name, "user_id": e.UserID, "skills": skills, "home": home,
				"time_zone": "Asia/Shanghai", "shifts": shifts, "max_open_jobs": 4, "site_id": out.SiteID}
			method, path := "POST", "/engineers"
			if exists {
				method, path = "PUT", "/engineers/"+e.ID
			}
			if err := api.do(ctx, method, path, body, nil); err != nil {
				return fmt.Errorf("engineer %s: %w", c.name, err)
			}
		}
		if i == 0 {
			if token == "" {
				var t struct {
					Token string `json:"token"`
				}
				if err := api.do(ctx, "POST", "/users/"+*e.UserID+"/tokens", nil, &t); err != nil {
					return fmt.Errorf("token for %s: %w", c.name, err)
				}
				token = t.Token
			}
			out.Engineer, out.EngineerToken = c.name, token
		}
	}
	return nil
}

// seedDemoParts keeps a warehouse with ten of each spare part the
// scenario's rules use (stocked once, when the part is first created).
func seedDemoParts(ctx context.Context, api *apiClient, scen *simulators.Scenario) error {
	locs, err := listAll[idCode](ctx, api, "/stock-locations", nil)
	if err != nil {
		return err
	}
	var whID string
	for _, l := range locs {
		if l.Code == "DEMO-WH" {
			whID = l.ID
		}
	}
	if whID == "" {
		var wh idCode
		if err := api.do(ctx, "POST", "/stock-locations", map[string]any{"code": "DEMO-WH", "name": "Demo warehouse",
			"location": workorders.Location{Lat: demoAreas[0].lat + 0.01, Lon: demoAreas[0].lon}}, &wh); err != nil {
			return fmt.Errorf("create warehouse: %w", err)
		}
		whID = wh.ID
	}
	for _, r := range scen.Rules {
		for _, p := range r.Parts {
			err := api.do(ctx, "POST", "/parts", map[string]any{"sku": p.SKU, "name": "Spare " + p.SKU, "unit": "pcs"}, nil)
			var aerr *apiError
			switch {
			case errors.As(err, &aerr) && aerr.Status == 409:
				continue // stocked when it was created
			case err != nil:
				return fmt.Errorf("create part %s: %w", p.SKU, err)
			}
			if err := api.do(ctx, "POST", "/stock/movements", map[string]any{"kind": "receipt", "location_id": whID,
				"sku": p.SKU, "qty": 10, "note": "demo opening stock"}, nil); err != nil {
				return fmt.Errorf("stock %s: %w", p.SKU, err)
			}
		}
	}
	return nil
}

// demoArticles are the demo's knowledge articles, in English and Chinese,
// for the failure modes of the demo's rules.
var demoArticles = []struct {
	title, body  string
	modes, types []string
}{
	{"Replacing a worn pump bearing (6205)",
		"Symptoms: rising vibration RMS, bearing temperature 10-15 °C above normal, noise at the drive end.\n" +
			"1. Lock out and tag out the pump; close suction and discharge valves.\n2. Remove the coupling guard and the coupling.\n" +
			"3. Pull the bearing with a puller; never hammer it.\n4. Heat the new 6205 bearing to 110 °C on an induction heater and fit it.\n" +
			"5. Align the shaft (laser, within 0.05 mm) and run for 30 minutes; vibration must fall below 2.8 mm/s.",
		[]string{"bearing_wear"}, []string{"pump"}},
	{"更换磨损的泵轴承（6205）",
		"症状：振动有效值持续上升，轴承温度比正常高 10-15 °C，驱动端有异响。\n" +
			"1. 对泵执行上锁挂牌，关闭进出口阀门。\n2. 拆下联轴器护罩和联轴器。\n3. 用拉马拆下轴承，切勿敲击。\n" +
			"4. 用感应加热器将新 6205 轴承加热到 110 °C 后装配。\n5. 激光对中（误差 0.05 mm 以内），试运行 30 分钟，振动应低于 2.8 mm/s。",
		[]string{"bearing_wear"}, []string{"pump"}},
	{"Motor winding overheating: checks before rewinding",
		"Symptoms: winding temperature climbing steadily under constant load.\n" +
			"1. Check the cooling fan and clean the fins and air path.\n2. Measure the phase currents: imbalance above 10 % points to supply or winding faults.\n" +
			"3. Measure insulation resistance (megger, 500 V): below 1 MΩ means the winding must be dried or rewound.\n" +
			"4. Check the load: a seized bearing or a misaligned coupling overloads the motor.",
		[]string{"winding_overheat"}, []string{"motor"}},
	{"电机绕组过热：重绕前的检查",
		"症状：负载不变时绕组温度持续上升。\n1. 检查冷却风扇，清洁散热片和风道。\n" +
			"2. 测量三相电流：不平衡超过 10% 说明电源或绕组有故障。\n3. 用 500 V 兆欧表测绝缘电阻：低于 1 MΩ 需烘干或重绕。\n" +
			"4. 检查负载：轴承卡滞或联轴器不对中都会使电机过载。",
		[]string{"winding_overheat"}, []string{"motor"}},
}

func seedDemoKnowledge(ctx context.Context, api *apiClient) error {
	have, err := listAll[struct {
		Title string `json:"title"`
	}](ctx, api, "/knowledge", nil)
	if err != nil {
		return err
	}
	titles := map[string]bool{}
	for _, a := range have {
		titles[a.Title] = true
	}
	for _, a := range demoArticles {
		if titles[a.title] {
			continue
		}
		if err := api.do(ctx, "POST", "/knowledge", map[string]any{"title": a.title, "body": a.body,
			"failure_modes": a.modes, "asset_types": a.types, "tags": []string{"demo"}}, nil); err != nil {
			return fmt.Errorf("article %q: %w", a.title, err)
		}
	}
	return nil
}
