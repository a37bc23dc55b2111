package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/simulators"
	"github.com/openpdm/pdm/simulators/eval"
	"github.com/openpdm/pdm/simulators/mqttpub"
)

// replicaScenario is a fleet with sudden faults (fans whose current steps
// over the limit, with a critical device event) and gradual wear (pumps
// whose vibration grows exponentially), replayed from history at a rate
// that spreads it over about half a minute.
const replicaScenario = `
name: replicas
seed: 1307
site: REP
start: -31d
duration: 30d
interval: 15m
acceleration: max
max_rate: 1500
batch: 24
gateways: [gw-a, gw-b]
assets:
  - {type: pump, prefix: PH-, count: 5, profile: healthy}
  - {type: fan, prefix: FH-, count: 3, profile: healthy, noise: 1.5}
  - type: pump
    prefix: PB-
    count: 6
    profile: exponential
    metric: vibration_rms
    failure_mode: bearing_wear
    fail_value: 7.1
    ramp: 8d
    failure_at: 10d
    failure_spread: 16d
  - type: fan
    prefix: FE-
    count: 6
    profile: step
    metric: motor_current_a
    failure_mode: electrical_fault
    fail_value: 20
    failure_at: 4d
    failure_spread: 24d
rules:
  - name: pump bearing wear
    asset_type: pump
    metric: vibration_rms
    direction: above
    warn: 4.5
    critical: 7.1
    for: 30m
    hysteresis: 0.3
    predict: {window: 2d, horizon: 7d, min_r2: 0.6, min_points: 30}
    failure_mode: bearing_wear
    priority: P2
    enabled: true
  - name: fan motor overcurrent
    asset_type: fan
    metric: motor_current_a
    direction: above
    warn: 15
    critical: 18
    for: 30m
    hysteresis: 0.5
    failure_mode: electrical_fault
    priority: P1
    enabled: true
`

var (
	pdmBinOnce sync.Once
	pdmBin     string
	pdmBinErr  error
)

// buildPDM builds the pdm binary once per test run.
func buildPDM(t *testing.T) string {
	t.Helper()
	pdmBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pdm-bin-")
		if err != nil {
			pdmBinErr = err
			return
		}
		pdmBin = filepath.Join(dir, "pdm")
		if out, err := exec.Command("go", "build", "-o", pdmBin, ".").CombinedOutput(); err != nil {
			pdmBinErr = fmt.Errorf("go build ./cmd/pdm: %v\n%s", err, out)
		}
	})
	if pdmBinErr != nil {
		t.Fatal(pdmBinErr)
	}
	return pdmBin
}

// replica is one `pdm serve` process.
type replica struct {
	name string
	cmd  *exec.Cmd
	logs *syncBuffer
	base string // http://host:port
}

var servingAddr = regexp.MustCompile(`msg="pdm serving" http=(\S+)`)

// startReplica starts `pdm serve` with env plus its own client id and
// waits until it serves.
func startReplica(t *testing.T, bin string, env []string, name string) *replica {
	t.Helper()
	r := &replica{name: name, logs: &syncBuffer{}}
	r.cmd = exec.Command(bin, "serve")
	r.cmd.Env = append(slices.Clone(env), "PDM_CLIENT_ID="+name)
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	require.NoError(t, r.cmd.Start())
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = r.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = r.cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() || os.Getenv("PDM_TEST_REPLICA_LOGS") != "" {
			t.Logf("%s log:\n%s", name, r.logs.String())
		}
	})
	eventually(t, 90*time.Second, name+" to serve", func() bool {
		if r.cmd.ProcessState != nil {
			t.Fatalf("%s exited:\n%s", name, r.logs.String())
		}
		m := servingAddr.FindStringSubmatch(r.logs.String())
		if m == nil {
			return false
		}
		r.base = "http://" + m[1]
		return true
	})
	return r
}

func (r *replica) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGKILL))
	_ = r.cmd.Wait()
}

func (r *replica) metric(t *testing.T, name string) float64 {
	return metricValue(t, context.Background(), r.base, name)
}

// orderKey is what must match between runs: which asset got an order for
// which failure mode.
func orderKeys(orders []eval.Order) []string {
	var out []string
	for _, o := range orders {
		out = append(out, o.AssetCode+" "+o.FailureMode)
	}
	sort.Strings(out)
	return out
}

// runFleet provisions the scenario through api and replays it into the
// broker; during calls at each tenth of the readings published.
func runFleet(t *testing.T, ctx context.Context, s *simulators.Scenario, apiRoot, token, brokerURL, topicRoot, id string, during func(p simulators.Progress)) (*eval.Client, simulators.Progress) {
	t.Helper()
	client, err := eval.NewClient(apiRoot, token, nil)
	require.NoError(t, err)
	_, err = client.Provision(ctx, s)
	require.NoError(t, err)
	pub, err := mqttpub.Dial(ctx, mqttpub.Options{URL: brokerURL, ClientID: "rep-sim-" + id})
	require.NoError(t, err)
	defer pub.Close()
	fleet := simulators.NewFleet(s, pub, simulators.FleetOptions{TopicRoot: topicRoot})
	done := make(chan error, 1)
	go func() { done <- fleet.Run(ctx) }()
	want, _, err := s.ExpectedReadings()
	require.NoError(t, err)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			require.NoError(t, err)
			p := fleet.Progress()
			require.EqualValues(t, want, p.Readings, "the fleet published the whole scenario")
			return client, p
		case <-tick.C:
			if during != nil {
				during(fleet.Progress())
			}
		}
	}
}

// settle waits until the platform's orders for site stop changing.
func settle(t *testing.T, ctx context.Context, client *eval.Client, site string, quiet func() bool) []eval.Order {
	t.Helper()
	var orders []eval.Order
	stable, last := 0, -1
	eventually(t, 2*time.Minute, "the orders to settle", func() bool {
		time.Sleep(500 * time.Millisecond)
		got, err := client.SiteOrders(ctx, site)
		if err != nil || !quiet() {
			stable = 0
			return false
		}
		orders = got
		if len(got) == last {
			stable++
		} else {
			stable, last = 0, len(got)
		}
		return stable >= 10
	})
	return orders
}

// TestThreeReplicasKillOne is the proof of partitioned detection: three
// `pdm serve` processes share one broker (a private Mosquitto), one
// PostgreSQL and one InfluxDB; a fleet with sudden faults and gradual wear
// is replayed; a third of the way through one replica is killed with
// SIGKILL, its partitions move to the other two (measured: the hand-over
// time), and two thirds of the way through it starts again and takes its
// share back; meanwhile a survivor adopts its ingest session. Every fault
// yields exactly one order, the orders are the ones a single replica
// raises from the same fleet, and every wear fault one replica caught from
// the trend gets its order from the trend about as early.
func TestThreeReplicasKillOne(t *testing.T) {
	t.Parallel()
	s, err := simulators.ParseScenario([]byte(replicaScenario), time.Now())
	require.NoError(t, err)
	wantN, _, err := s.ExpectedReadings()
	require.NoError(t, err)
	want := uint64(wantN)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	bin := buildPDM(t)
	procEnv := func(e *testEnv, broker, token string) []string {
		return append(os.Environ(),
			"PDM_PG_URL="+e.PGURL, "PDM_INFLUX_URL="+e.InfluxURL, "PDM_INFLUX_BUCKET="+e.Bucket,
			"PDM_MQTT_URL="+broker, "PDM_MQTT_TOPIC_ROOT="+e.TopicRoot, "PDM_HTTP_ADDR=127.0.0.1:0",
			"PDM_SHARE_GROUP=rep-"+e.ID, "PDM_ADMIN_TOKEN="+token, "PDM_LOG_LEVEL="+getenvDefault("PDM_TEST_REPLICA_LOG_LEVEL", "info"), "PDM_LEASE_TTL=6s",
			"PDM_DATA_DIR="+e.DataDir,
			// The fleet replays a 15-minute interval ~70,000 times
			// faster than real time (a wall-clock second is about 19
			// simulated hours): late readings are re-evaluated at the
			// same pace.
			"PDM_LATE_SETTLE=100ms", "PDM_LATE_MIN_INTERVAL=300ms")
	}

	// One replica: the reference.
	ref := newTestEnv(t)
	refToken := "rep-ref-" + ref.ID + "-0123456789abcdef"
	one := startReplica(t, bin, procEnv(ref, ref.MQTTURL, refToken), "ref-"+ref.ID)
	refClient, refP := runFleet(t, ctx, s, one.base, refToken, ref.MQTTURL, ref.TopicRoot, ref.ID+"-ref", nil)
	eventually(t, 2*time.Minute, "the reference replica to ingest every reading", func() bool {
		return one.metric(t, "pdm_ingest_readings_total") >= float64(want)
	})
	refOrders := settle(t, ctx, refClient, s.Site, func() bool {
		return one.metric(t, "pdm_partition_reorder_readings") == 0
	})
	var refReport eval.Report
	{
		truth := s.Truth()
		end := refP.SimTime
		truth.End = &end
		refReport = eval.Evaluate(truth, refOrders, eval.Options{})
		t.Logf("one replica (the reference):\n%s", refReport.Markdown(eval.DefaultTargets()))
	}

	// Three replicas.
	e := newTestEnv(t)
	broker := servicetest.StartMosquitto(t, "max_inflight_messages 1000").URL
	token := "rep-admin-" + e.ID + "-0123456789abcdef"
	env := procEnv(e, broker, token)
	reps := []*replica{startReplica(t, bin, env, "r1-"+e.ID)}
	reps = append(reps, startReplica(t, bin, env, "r2-"+e.ID), startReplica(t, bin, env, "r3-"+e.ID))
	owned := func(rs ...*replica) int {
		n := 0
		for _, r := range rs {
			n += int(r.metric(t, "pdm_partitions_owned"))
		}
		return n
	}
	eventually(t, 60*time.Second, "the three replicas to share the 32 partitions", func() bool {
		for _, r := range reps {
			if r.metric(t, "pdm_partitions_owned") < 1 {
				return false
			}
		}
		return owned(reps...) == 32
	})

	var killedAt time.Time
	var killedSim, restartedSim time.Time // simulated time at the kill and the restart
	var handover time.Duration
	restarted := false
	// handedOver measures the hand-over: the two survivors hold and have
	// rebuilt all 32 partitions.
	handedOver := func() bool {
		if handover == 0 && owned(reps[:2]...) == 32 && reps[0].metric(t, "pdm_partition_rebuilding")+reps[1].metric(t, "pdm_partition_rebuilding") == 0 {
			handover = time.Since(killedAt)
			t.Logf("hand-over: the two survivors hold and have rebuilt all 32 partitions %s after the kill", handover.Round(100*time.Millisecond))
		}
		return handover > 0
	}
	client, p := runFleet(t, ctx, s, reps[0].base, token, broker, e.TopicRoot, e.ID, func(p simulators.Progress) {
		switch {
		case killedAt.IsZero() && p.Readings >= want/3:
			reps[2].kill(t)
			killedAt, killedSim = time.Now(), p.SimTime
			t.Logf("killed %s at %d of %d readings", reps[2].name, p.Readings, want)
		case !killedAt.IsZero() && handover == 0:
			handedOver()
		case handover > 0 && !restarted && p.Readings >= 2*want/3:
			reps[2] = startReplica(t, bin, env, reps[2].name)
			restarted, restartedSim = true, p.SimTime
			t.Logf("restarted %s at %d of %d readings", reps[2].name, p.Readings, want)
		}
	})
	require.False(t, killedAt.IsZero())
	// On a loaded machine the fleet may end first: the hand-over is
	// measured on, from the kill, all the same.
	for !handedOver() && time.Since(killedAt) <= 30*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	require.NotZero(t, handover, "the survivors took the dead replica's partitions over")
	require.LessOrEqual(t, handover, 30*time.Second, "hand-over within 30 s")
	if !restarted {
		reps[2] = startReplica(t, bin, env, reps[2].name)
		restartedSim = p.SimTime
	}
	t.Logf("fleet: %d readings, %d messages, %d events", p.Readings, p.Messages, p.Events)

	eventually(t, 2*time.Minute, "the replicas to ingest every reading", func() bool {
		n := 0.0
		for _, r := range reps {
			n += r.metric(t, "pdm_ingest_readings_total")
		}
		// The killed replica's count died with it; its unacknowledged
		// messages come again to its restarted self.
		return n >= float64(want)/2 && owned(reps...) == 32
	})
	orders := settle(t, ctx, client, s.Site, func() bool {
		for _, r := range reps {
			if r.metric(t, "pdm_partition_reorder_readings") != 0 || r.metric(t, "pdm_partition_rebuilding") != 0 ||
				r.metric(t, "pdm_rules_late_waiting_assets") != 0 {
				return false
			}
		}
		return true
	})

	for _, r := range reps {
		t.Logf("%s: %.0f readings ingested, %.0f late for their series, %.0f assets re-evaluated from InfluxDB for them (%.0f readings), %.0f replayed by rebuilds", r.name,
			r.metric(t, "pdm_ingest_readings_total"), r.metric(t, "pdm_rules_late_readings_total"), r.metric(t, "pdm_rules_late_reevaluations_total"),
			r.metric(t, "pdm_rules_late_replayed_readings_total"), r.metric(t, "pdm_partition_rebuilt_readings_total"))
	}

	// Every fault: exactly one order, and the same orders as one replica.
	truth := s.Truth()
	end := p.SimTime
	truth.End = &end
	report := eval.Evaluate(truth, orders, eval.Options{})
	t.Logf("three replicas, one killed and restarted:\n%s", report.Markdown(eval.DefaultTargets()))
	reevaluated := 0.0
	for _, r := range reps {
		reevaluated += r.metric(t, "pdm_rules_late_reevaluations_total")
	}
	require.Positive(t, reevaluated, "late readings were re-evaluated from InfluxDB")
	adopted := 0.0
	for _, r := range reps[:2] {
		adopted += r.metric(t, "pdm_ingest_session_adoptions_total")
	}
	require.Positive(t, adopted, "a survivor adopted the killed replica's ingest session")
	t.Logf("the killed replica was away from %s to %s in simulated time", killedSim.Format(time.RFC3339), restartedSim.Format(time.RFC3339))
	assertTrendLeads(t, refReport, report)
	keys := orderKeys(orders)
	for i := 1; i < len(keys); i++ {
		require.NotEqual(t, keys[i-1], keys[i], "duplicate order")
	}
	require.Equal(t, orderKeys(refOrders), keys, "the same orders as one replica")
	for _, a := range truth.Assets {
		if a.Fails() && a.FailureAt.Before(end) {
			require.Contains(t, keys, a.Code+" "+a.FailureMode, "the fault of %s yields an order", a.Code)
		}
	}
}

// trendLeadTolerance is how much less lead than one replica a trend order
// may have with three: detection runs on the same readings, but some reach
// it late (republished by two ingest replicas more than the reorder window
// apart, or waiting in the killed replica's session until a survivor
// adopts it) and are re-evaluated from InfluxDB a moment later; the
// earlier signal that re-evaluation raises moves the detection of an
// order a later signal opened meanwhile back to its own time (before that,
// the order kept the later time: 23 h lost in one CI run). The replay
// runs about 18 simulated hours a wall-clock second, so 12 h is two thirds
// of a second of scheduling on a loaded machine. Measured: 0-0.3 h in two
// runs, 6.8 h in a third (load average 10-16), 23 h once in CI (a rebuilt
// series fitted at other instants than a live one and had not replayed its
// confirmation's refits); since rebuilt series fit as live ones, 0.0 h in
// four runs. Before session adoption the leads of the pumps whose trend
// fell in the absence were lost whole (40-66 h).
const trendLeadTolerance = 12 * time.Hour

// assertTrendLeads checks the trend leads of three replicas against one:
// every gradual failure one replica caught from the trend gets its order
// from the trend too, at most trendLeadTolerance later.
func assertTrendLeads(t *testing.T, ref, got eval.Report) {
	t.Helper()
	mine := map[string]eval.FailureResult{}
	for _, f := range got.Failures {
		mine[f.Asset] = f
	}
	checked := 0
	for _, want := range ref.Failures {
		if !want.Gradual || want.FirstSource != "trend" {
			continue
		}
		f := mine[want.Asset]
		checked++
		require.Equal(t, "trend", f.FirstSource, "%s: its order comes from the trend, as with one replica (%s ahead)", want.Asset, want.Lead.Round(time.Minute))
		require.GreaterOrEqual(t, f.Lead, want.Lead-trendLeadTolerance,
			"%s: trend lead %s, one replica's %s", want.Asset, f.Lead.Round(time.Minute), want.Lead.Round(time.Minute))
	}
	require.Positive(t, checked, "some trend leads were compared")
}

// Every away session has exactly one adopter among the live members, the
// same one whatever order they are listed in, and a member joining takes
// over only sessions it now wins (the others keep their adopter).
func TestAdopterChoice(t *testing.T) {
	live := []string{"r1", "r2", "r3"}
	away := []string{"r4", "r5", "r6", "r7", "r8", "r9", "old-a", "old-b"}
	got := map[string]string{}
	per := map[string]int{}
	for _, id := range away {
		got[id] = chosen(live, id)
		require.Contains(t, live, got[id])
		require.Equal(t, got[id], chosen([]string{"r3", "r1", "r2"}, id), "order of the list")
		per[got[id]]++
	}
	require.Greater(t, len(per), 1, "sessions spread over the members")
	more := append(slices.Clone(live), "r10")
	for _, id := range away {
		if c := chosen(more, id); c != "r10" {
			require.Equal(t, got[id], c, "%s keeps its adopter when another member joins", id)
		}
	}
	require.Empty(t, chosen(nil, "r4"))
}
