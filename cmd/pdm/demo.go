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
	seeded, err := seedDemoSite(ctx, api, addr, cfg.AdminToken, scen)
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
	// The scenario's gateways publish their status as edge agents do, so
	// the console's Gateways screen shows them live (offline on Ctrl-C).
	gwDone := make(chan struct{})
	if len(scen.Gateways) > 0 {
		gws, err := mqttpub.DialGateways(ctx, mqttpub.GatewayOptions{URL: cfg.MQTTURL, ClientIDPrefix: "pdm-demo-", TopicRoot: cfg.TopicRoot,
			Site: scen.Site, Gateways: scen.Gateways, Version: "pdm-sim (demo)", Buffered: fleet.Buffered, Logger: log.With("component", "gateways")})
		if err != nil {
			cancel()
			<-served
			return fmt.Errorf("gateways: %w", err)
		}
		go func() { gws.Run(ctx); close(gwDone) }()
	} else {
		close(gwDone)
	}
	defer func() {
		cancel()
		<-gwDone
	}()
	fleetDone := make(chan error, 1)
	go func() { fleetDone <- fleet.Run(ctx) }()

	if seeded.Continued {
		_, open := demoCounts(ctx, api)
		fmt.Fprintf(stdout, "\ncontinuing the demo: site %s exists from an earlier run; its assets, history and %s open work orders are kept (drop the database to start afresh)\n", scen.Site, open)
	} else {
		fmt.Fprintf(stdout, "\nfresh demo: seeded site %s with assets, rules, SLA policies, engineers, parts and knowledge articles\n", scen.Site)
	}
	fmt.Fprintf(stdout, "\npdm demo is running\n  console:     http://%s/  (sign in with the admin token)\n  API:         http://%s/api/v1\n  admin token: %s\n"+
		"  engineer:    %s, token %s  (engineers' app: http://%s/app/)\n"+
		"  try:         curl -s -H 'Authorization: Bearer %s' http://%s/api/v1/work-orders\n  site %s: %d simulated assets; Ctrl-C stops\n\n",
		addr, addr, cfg.AdminToken, seeded.Engineer, seeded.EngineerToken, addr, cfg.AdminToken, addr, scen.Site, len(scen.Assets))

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
	open = count("/work-orders", url.Values{"status": {"proposed,approved,assigned,accepted,en_route,on_site,in_progress,on_hold"}})
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
