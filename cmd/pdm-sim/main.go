// Command pdm-sim runs a simulated fleet against the platform and scores
// the platform's work orders against the fleet's ground truth.
//
//	pdm-sim fleet --scenario demo|FILE --truth truth.json [--mqtt-url URL] [--token TOKEN]
//	pdm-sim eval  --truth truth.json --api URL --token TOKEN [--lead 24h]
//	pdm-sim truth --scenario demo|FILE --truth truth.json
//	pdm-sim provision --scenario demo|FILE --api URL --token TOKEN
//	pdm-sim modbus --scenario demo|FILE --addr 127.0.0.1:5020 [--edge-config edge.yaml]
//
// Environment fallbacks (flags win): PDM_MQTT_URL, PDM_MQTT_TOPIC_ROOT,
// PDM_HTTP_ADDR, PDM_ADMIN_TOKEN.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/simulators"
	"github.com/openpdm/pdm/simulators/eval"
	"github.com/openpdm/pdm/simulators/mqttpub"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "pdm-sim: %v\n", err)
		os.Exit(1)
	}
}

const usage = `usage: pdm-sim <command> [flags]

commands:
  fleet   publish a scenario's simulated fleet over MQTT and write its ground truth
  eval    score the platform's work orders against a ground-truth file
  truth   write a scenario's ground truth without running it
  provision  register a scenario's site, assets and rules over the REST API
  modbus  serve a scenario's assets as a Modbus TCP device (for pdm-edge)

Scenarios: a YAML file, or a built-in name (demo, eval).
Run 'pdm-sim <command> -h' for the command's flags.
`

// errTargetsMissed is returned by eval --check when a target is missed.
var errTargetsMissed = errors.New("evaluation targets missed")

// run is the whole program; tests call it with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "fleet":
		return runFleet(ctx, args[1:], getenv, stdout, stderr)
	case "eval":
		return runEval(ctx, args[1:], getenv, stdout, stderr)
	case "truth":
		return runTruth(args[1:], stdout, stderr)
	case "provision":
		return runProvision(ctx, args[1:], getenv, stdout, stderr)
	case "modbus":
		return runModbus(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// fleetConfig holds the fleet command's settings.
type fleetConfig struct {
	Scenario    string
	Truth       string
	MQTTURL     string
	TopicRoot   string
	ClientID    string
	MaxInFlight int
	MaxRate     float64
	Every       time.Duration
	LogLevel    string
	API         string
	Token       string
	Provision   bool
	// GatewayStatus is how often each gateway's status is published (0:
	// never).
	GatewayStatus time.Duration
}

func parseFleet(args []string, getenv func(string) string, stderr io.Writer) (fleetConfig, error) {
	var c fleetConfig
	fs := flag.NewFlagSet("pdm-sim fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Scenario, "scenario", "", "scenario YAML file, or a built-in name (demo, eval)")
	fs.StringVar(&c.Truth, "truth", "", "write the ground truth (JSON) here; rewritten with the actual end when the run stops")
	fs.StringVar(&c.MQTTURL, "mqtt-url", envOr(getenv, "PDM_MQTT_URL", "tcp://127.0.0.1:1883"), "MQTT broker URL (PDM_MQTT_URL)")
	fs.StringVar(&c.TopicRoot, "mqtt-topic-root", envOr(getenv, "PDM_MQTT_TOPIC_ROOT", "pdm/v1"), "MQTT topic root (PDM_MQTT_TOPIC_ROOT)")
	fs.StringVar(&c.ClientID, "client-id", "", "MQTT client id (default pdm-sim-<site>-<random>)")
	fs.IntVar(&c.MaxInFlight, "max-inflight", 64, "messages sent but not yet acknowledged by the broker, at most")
	fs.Float64Var(&c.MaxRate, "max-rate", 0, "readings per second at most (0: the scenario's max_rate, else no cap); keeps a replay from overflowing the broker's queue for the platform")
	fs.DurationVar(&c.Every, "progress", 2*time.Second, "progress line interval (0: none)")
	fs.StringVar(&c.LogLevel, "log-level", envOr(getenv, "PDM_LOG_LEVEL", "info"), "debug, info, warn or error (PDM_LOG_LEVEL)")
	fs.StringVar(&c.API, "api", envOr(getenv, "PDM_HTTP_ADDR", "127.0.0.1:8080"), "REST API URL or host:port for provisioning (PDM_HTTP_ADDR)")
	fs.StringVar(&c.Token, "token", getenv("PDM_ADMIN_TOKEN"), "admin or planner token (PDM_ADMIN_TOKEN); with it the scenario's site, assets and rules are registered before publishing")
	fs.BoolVar(&c.Provision, "provision", true, "register the scenario (as pdm-sim provision) before publishing when a token is given")
	fs.DurationVar(&c.GatewayStatus, "gateway-status", 30*time.Second,
		"publish each gateway's retained status (online, buffered, version; offline as its last will and on stop) this often, as the edge agent does (0: never)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.GatewayStatus < 0 {
		return c, errors.New("--gateway-status must not be negative")
	}
	if c.Scenario == "" {
		return c, errors.New("--scenario is required (a YAML file, or demo or eval)")
	}
	if c.MaxRate < 0 {
		return c, errors.New("--max-rate must not be negative")
	}
	if c.MaxInFlight < 1 {
		return c, errors.New("--max-inflight must be at least 1")
	}
	return c, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runFleet(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseFleet(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, c.LogLevel)
	if err != nil {
		return err
	}
	s, err := simulators.LoadScenario(c.Scenario, time.Now())
	if err != nil {
		return err
	}
	truth := s.Truth()
	if c.Truth != "" {
		if err := truth.WriteFile(c.Truth); err != nil {
			return err
		}
	}
	// Register first: readings of assets the platform does not know are
	// stored but raise nothing, so eval would find no orders.
	switch {
	case c.Provision && c.Token != "":
		client, err := eval.NewClient(c.API, c.Token, nil)
		if err != nil {
			return err
		}
		p, err := client.Provision(ctx, s)
		if err != nil {
			return fmt.Errorf("provision (--provision=false to skip): %w", err)
		}
		printProvisioned(stdout, s, p)
	case c.Provision:
		fmt.Fprintln(stdout, "pdm-sim: no --token (PDM_ADMIN_TOKEN): the scenario's site, assets and rules are not registered; "+
			"readings of unregistered assets raise no orders (run pdm-sim provision first, or give a token)")
	}
	if c.ClientID == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		c.ClientID = "pdm-sim-" + s.Site + "-" + hex.EncodeToString(b)
	}
	pub, err := mqttpub.Dial(ctx, mqttpub.Options{URL: c.MQTTURL, ClientID: c.ClientID, Logger: log})
	if err != nil {
		return err
	}
	defer pub.Close()

	f := simulators.NewFleet(s, pub, simulators.FleetOptions{TopicRoot: c.TopicRoot, MaxInFlight: c.MaxInFlight, MaxRate: c.MaxRate, Logger: log})
	end := "until stopped"
	if e, ok := s.End(); ok {
		end = "to " + e.Format(time.RFC3339)
	}
	accel := "as fast as possible"
	if s.Acceleration > 0 {
		accel = fmt.Sprintf("%gx", s.Acceleration)
	}
	fmt.Fprintf(stdout, "pdm-sim: scenario %s, site %s, %d assets, every %s, from %s %s, %s, to %s under %s\n",
		s.Name, s.Site, len(s.Assets), s.Interval, s.Start.Format(time.RFC3339), end, accel, c.MQTTURL, c.TopicRoot)

	// The gateways' statuses, online before the first reading, so the
	// console's Gateways screen shows them live; offline when the fleet
	// stops (or, as their last will, when pdm-sim dies).
	gwCtx, stopGateways := context.WithCancel(ctx)
	defer stopGateways()
	gwDone := make(chan struct{})
	if c.GatewayStatus > 0 && len(s.Gateways) > 0 {
		g, err := mqttpub.DialGateways(ctx, mqttpub.GatewayOptions{URL: c.MQTTURL, ClientIDPrefix: c.ClientID + "-", TopicRoot: c.TopicRoot,
			Site: s.Site, Gateways: s.Gateways, Version: "pdm-sim", Every: c.GatewayStatus, Buffered: f.Buffered, Logger: log})
		if err != nil {
			return err
		}
		go func() { g.Run(gwCtx); close(gwDone) }()
	} else {
		close(gwDone)
	}

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var tick <-chan time.Time
	if c.Every > 0 {
		t := time.NewTicker(c.Every)
		defer t.Stop()
		tick = t.C
	}
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-tick:
			fmt.Fprintln(stdout, progressLine(f.Progress()))
		}
	}
	stopGateways()
	<-gwDone
	p := f.Progress()
	fmt.Fprintln(stdout, progressLine(p))
	if c.Truth != "" {
		end := p.SimTime
		truth.End = &end
		if werr := truth.WriteFile(c.Truth); werr != nil && err == nil {
			err = werr
		}
		fmt.Fprintf(stdout, "pdm-sim: ground truth in %s\n", c.Truth)
	}
	return err
}

func printProvisioned(w io.Writer, s *simulators.Scenario, p eval.Provisioned) {
	fmt.Fprintf(w, "pdm-sim: site %s (%s): %d assets (%d new), %d new rules, %d updated\n",
		s.Site, p.SiteID, len(p.AssetIDs), p.CreatedAssets, p.CreatedRules, len(p.UpdatedRules))
	for _, name := range p.UpdatedRules {
		fmt.Fprintf(w, "pdm-sim: rule %q had other settings: replaced with the scenario's\n", name)
	}
}

// progressLine is one line of progress for a terminal or a log.
func progressLine(p simulators.Progress) string {
	state := "running"
	if p.Done {
		state = "done"
	}
	return fmt.Sprintf("%s: assets %d, readings %d, messages %d, events %d, retries %d, simulated time %s, %.0f readings/s",
		state, p.Assets, p.Readings, p.Messages, p.Events, p.Retries, p.SimTime.Format("2006-01-02 15:04"), p.Rate())
}

func runTruth(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pdm-sim truth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "", "scenario YAML file, or a built-in name (demo, eval)")
	out := fs.String("truth", "", "write the ground truth (JSON) here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *scenario == "" || *out == "" {
		return errors.New("--scenario and --truth are required")
	}
	s, err := simulators.LoadScenario(*scenario, time.Now())
	if err != nil {
		return err
	}
	if err := s.Truth().WriteFile(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pdm-sim: ground truth of %s (%d assets) in %s\n", s.Name, len(s.Assets), *out)
	return nil
}

// evalConfig holds the eval command's settings.
type evalConfig struct {
	Truth string
	API   string
	Token string
	Lead  time.Duration
	Grace time.Duration
	Check bool
}

func parseEval(args []string, getenv func(string) string, stderr io.Writer) (evalConfig, error) {
	var c evalConfig
	var lead, grace string
	fs := flag.NewFlagSet("pdm-sim eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Truth, "truth", "", "ground-truth file written by pdm-sim fleet")
	fs.StringVar(&c.API, "api", envOr(getenv, "PDM_HTTP_ADDR", "127.0.0.1:8080"), "REST API URL or host:port (PDM_HTTP_ADDR)")
	fs.StringVar(&c.Token, "token", getenv("PDM_ADMIN_TOKEN"), "bearer token (PDM_ADMIN_TOKEN)")
	fs.StringVar(&lead, "lead", "24h", "lead time an order needs to count as catching a failure")
	fs.StringVar(&grace, "grace", "24h", "how long after a failure an order still belongs to it")
	fs.BoolVar(&c.Check, "check", false, "exit non-zero when a target is missed")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Truth == "" {
		return c, errors.New("--truth is required")
	}
	if c.Token == "" {
		return c, errors.New("--token (or PDM_ADMIN_TOKEN) is required")
	}
	for _, d := range []struct {
		name string
		s    string
		dst  *time.Duration
	}{{"lead", lead, &c.Lead}, {"grace", grace, &c.Grace}} {
		v, err := rules.ParseDuration(d.s)
		if err != nil {
			return c, fmt.Errorf("--%s: %w", d.name, err)
		}
		*d.dst = v.D()
	}
	return c, nil
}

func runEval(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseEval(args, getenv, stderr)
	if err != nil {
		return err
	}
	truth, err := simulators.ReadTruth(c.Truth)
	if err != nil {
		return err
	}
	client, err := eval.NewClient(c.API, c.Token, nil)
	if err != nil {
		return err
	}
	orders, err := client.SiteOrders(ctx, truth.Site)
	if err != nil {
		return err
	}
	r := eval.Evaluate(truth, orders, eval.Options{Lead: c.Lead, Grace: c.Grace, End: time.Now()})
	targets := eval.DefaultTargets()
	fmt.Fprintf(stdout, "## Evaluation of scenario %s (site %s)\n\n", truth.Scenario, truth.Site)
	fmt.Fprint(stdout, r.Markdown(targets))
	if pass, miss := r.Pass(targets); !pass && c.Check {
		return fmt.Errorf("%w: %s", errTargetsMissed, strings.Join(miss, "; "))
	}
	return nil
}

func runProvision(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pdm-sim provision", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "", "scenario YAML file, or a built-in name (demo, eval)")
	api := fs.String("api", envOr(getenv, "PDM_HTTP_ADDR", "127.0.0.1:8080"), "REST API URL or host:port (PDM_HTTP_ADDR)")
	token := fs.String("token", getenv("PDM_ADMIN_TOKEN"), "bearer token of an admin or planner (PDM_ADMIN_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *scenario == "" || *token == "" {
		return errors.New("--scenario and --token (or PDM_ADMIN_TOKEN) are required")
	}
	s, err := simulators.LoadScenario(*scenario, time.Now())
	if err != nil {
		return err
	}
	client, err := eval.NewClient(*api, *token, nil)
	if err != nil {
		return err
	}
	p, err := client.Provision(ctx, s)
	if err != nil {
		return err
	}
	printProvisioned(stdout, s, p)
	return nil
}
