package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/openpdm/pdm/simulators"
	"github.com/openpdm/pdm/simulators/eval"
	"github.com/openpdm/pdm/simulators/mqttpub"
	"github.com/openpdm/pdm/workorders"
)

// demo runs the whole platform with a seeded demo site and a simulated
// fleet: serve in-process, the scenario's site, assets and rules posted
// through the API, the fleet publishing over MQTT, and a live line every
// few seconds until ctx ends (Ctrl-C).
func demo(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	name := cfg.Scenario
	if name == "" {
		name = "demo"
	}
	scen, err := simulators.LoadScenario(name, time.Now())
	if err != nil {
		return fmt.Errorf("scenario: %w", err)
	}

	if host, ok := brokerAnswers(ctx, cfg.MQTTURL); !ok {
		if host == "" {
			return fmt.Errorf("bad MQTT URL %q", cfg.MQTTURL)
		}
		stop, err := startEmbeddedBroker(host, log)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(stdout, "no broker answered at %s: running an embedded MQTT broker there\n", cfg.MQTTURL)
	}
	if cfg.AdminToken == "" {
		t, err := workorders.NewToken()
		if err != nil {
			return err
		}
		cfg.AdminToken = t
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- serve(ctx, cfg, stdout, stderr, &serveHooks{Ready: func(addr, _ string) { ready <- addr }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-served:
		if err == nil {
			err = errors.New("serve stopped before it was ready")
		}
		return err
	}

	api := newAPIClient(addr, cfg.AdminToken)
	err = seedDemo(ctx, addr, cfg.AdminToken, scen)
	if err == nil {
		err = seedDemoCrew(ctx, api, scen)
	}
	if err != nil {
		cancel()
		<-served
		return fmt.Errorf("seed the demo site: %w", err)
	}
	pub, err := mqttpub.Dial(ctx, mqttpub.Options{URL: cfg.MQTTURL, ClientID: "pdm-demo-fleet", Logger: log.With("component", "fleet")})
	if err != nil {
		cancel()
		<-served
		return fmt.Errorf("fleet: %w", err)
	}
	defer pub.Close()
	fleet := simulators.NewFleet(scen, pub, simulators.FleetOptions{TopicRoot: cfg.TopicRoot, Logger: log.With("component", "fleet")})
	fleetDone := make(chan error, 1)
	go func() { fleetDone <- fleet.Run(ctx) }()

	fmt.Fprintf(stdout, "\npdm demo is running\n  API:         http://%s/api/v1\n  admin token: %s\n  try:         curl -s -H 'Authorization: Bearer %s' http://%s/api/v1/work-orders\n  site %s: %d simulated assets; Ctrl-C stops\n\n",
		addr, cfg.AdminToken, cfg.AdminToken, addr, scen.Site, len(scen.Assets))

	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var lastReadings uint64
	lastAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			<-fleetDone
			return <-served
		case err := <-served:
			cancel()
			<-fleetDone
			return err
		case err := <-fleetDone:
			if err != nil && ctx.Err() == nil {
				log.Warn("fleet stopped", "err", err)
			}
			fleetDone = nil
		case now := <-tick.C:
			p := fleet.Progress()
			rate := float64(p.Readings-lastReadings) / now.Sub(lastAt).Seconds()
			lastReadings, lastAt = p.Readings, now
			signals, open := demoCounts(ctx, api)
			fmt.Fprintf(stdout, "%s  sim %s  readings %d (%.0f/s)  signals %s  open work orders %s\n",
				now.Format("15:04:05"), p.SimTime.UTC().Format("2006-01-02 15:04"), p.Readings, rate, signals, open)
		}
	}
}

// demoCounts counts signals and open work orders through the API (one
// page each: "500+" when there are more); "?" when the API does not answer.
func demoCounts(ctx context.Context, api *apiClient) (signals, open string) {
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	count := func(path string, q url.Values) string {
		q.Set("limit", "500")
		var page listOf[json.RawMessage]
		if err := api.do(ctx, "GET", path+"?"+q.Encode(), nil, &page); err != nil {
			return "?"
		}
		if page.NextCursor != "" {
			return fmt.Sprintf("%d+", len(page.Items))
		}
		return fmt.Sprint(len(page.Items))
	}
	signals = count("/signals", url.Values{})
	open = count("/work-orders", url.Values{"status": {"proposed,approved,assigned,accepted,in_progress,on_hold"}})
	return signals, open
}

// seedDemo registers the scenario's site, assets and rules through the API
// (idempotent: what exists is kept).
func seedDemo(ctx context.Context, addr, token string, scen *simulators.Scenario) error {
	c, err := eval.NewClient(addr, token, nil)
	if err != nil {
		return err
	}
	_, err = c.Provision(ctx, scen)
	return err
}

// seedDemoCrew gives the demo site people and parts so dispatch and the
// inventory have something to work with: three engineers on shift around
// the clock with the skills the scenario's rules ask for, a warehouse, and
// the rules' spare parts in stock. Idempotent like Provision.
func seedDemoCrew(ctx context.Context, api *apiClient, scen *simulators.Scenario) error {
	skills := map[string]bool{}
	parts := map[string]bool{}
	for _, r := range scen.Rules {
		for _, s := range r.Skills {
			skills[s] = true
		}
		for _, p := range r.Parts {
			parts[p.SKU] = true
		}
	}
	all := map[string]int{}
	for s := range skills {
		all[s] = 3
	}
	var shifts []map[string]string
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		shifts = append(shifts, map[string]string{"day": d, "start": "00:00", "end": "23:59"})
	}
	have, err := listAll[idCode](ctx, api, "/engineers", nil)
	if err != nil {
		return fmt.Errorf("list engineers: %w", err)
	}
	named := map[string]bool{}
	for _, e := range have {
		named[e.Name] = true
	}
	crew := []struct {
		name     string
		lat, lon float64
	}{{"Ada Demo", 52.52, 13.40}, {"Ben Demo", 52.50, 13.45}, {"Cleo Demo", 52.55, 13.35}}
	for _, e := range crew {
		if named[e.name] {
			continue
		}
		err := api.do(ctx, "POST", "/engineers", map[string]any{"name": e.name, "skills": all,
			"home": map[string]float64{"lat": e.lat, "lon": e.lon}, "shifts": shifts, "max_open_jobs": 4}, nil)
		if err != nil {
			return fmt.Errorf("create engineer %s: %w", e.name, err)
		}
	}
	locs, err := listAll[idCode](ctx, api, "/stock-locations", nil)
	if err != nil {
		return fmt.Errorf("list stock locations: %w", err)
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
			"location": map[string]float64{"lat": 52.52, "lon": 13.405}}, &wh); err != nil {
			return fmt.Errorf("create warehouse: %w", err)
		}
		whID = wh.ID
		for sku := range parts {
			if err := api.do(ctx, "POST", "/parts", map[string]any{"sku": sku, "name": "Spare " + sku, "unit": "pcs"}, nil); err != nil {
				var aerr *apiError
				if !errors.As(err, &aerr) || aerr.Status != 409 {
					return fmt.Errorf("create part %s: %w", sku, err)
				}
			}
			if err := api.do(ctx, "POST", "/stock/movements", map[string]any{"kind": "receipt", "location_id": whID,
				"sku": sku, "qty": 10, "note": "demo opening stock"}, nil); err != nil {
				return fmt.Errorf("stock %s: %w", sku, err)
			}
		}
	}
	return nil
}
