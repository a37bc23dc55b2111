//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/openpdm/pdm/simulators"
	"github.com/openpdm/pdm/simulators/eval"
)

// netLab is a small network of hosts made of Linux network namespaces: a
// switch namespace holding a bridge, and one namespace per host with a
// veth into the bridge. The test process reaches the hosts through a veth
// of its own (the first address of the lab's subnet). Every name carries
// the test process's pid and a random id, so two runs coexist; the
// namespaces go when the test ends (also when it fails), and those of runs
// whose process is gone are removed at the start of the next.
type netLab struct {
	t      *testing.T
	prefix string // namespace names: pdmlab-<pid>-<id>-
	id     string
	subnet string // "10.X.Y."
	sw     string
	hosts  map[string]*labHost
}

type labHost struct {
	name, ns, ip string
}

// ipCmd runs ip(8) with args and fails the test on error.
func (l *netLab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func newNetLab(t *testing.T) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the multi-host test needs root: it builds network namespaces (ip netns, veth, a bridge) " +
			"for a broker, InfluxDB, PostgreSQL and three pdm replicas; run it as root (CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("the multi-host test needs ip(8) (Debian package iproute2)")
	}
	removeStaleLabs(t)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	l := &netLab{t: t, id: hex.EncodeToString(b), hosts: map[string]*labHost{}}
	l.prefix = fmt.Sprintf("pdmlab-%d-%s-", os.Getpid(), l.id)
	// A subnet of its own per run (10.64.0.0-10.127.255.0), so that two
	// runs' routes in the test's namespace do not overlap.
	l.subnet = fmt.Sprintf("10.%d.%d.", 64+int(b[0])%64, b[1])
	l.sw = l.prefix + "sw"
	t.Cleanup(l.close)
	l.ip("netns", "add", l.sw)
	l.ip("-n", l.sw, "link", "set", "lo", "up")
	l.ip("-n", l.sw, "link", "add", "br0", "type", "bridge")
	l.ip("-n", l.sw, "link", "set", "br0", "up")
	// The test's own port on the switch (deleted with the switch).
	root := "pl" + l.id
	l.ip("link", "add", root, "type", "veth", "peer", "name", "up0", "netns", l.sw)
	l.ip("-n", l.sw, "link", "set", "up0", "master", "br0", "up")
	l.ip("addr", "add", l.subnet+"1/24", "dev", root)
	l.ip("link", "set", root, "up")
	return l
}

// host adds a host namespace with address subnet.n, plugged into the
// switch.
func (l *netLab) host(name string, n int) *labHost {
	l.t.Helper()
	h := &labHost{name: name, ns: l.prefix + name, ip: l.subnet + strconv.Itoa(n)}
	l.ip("netns", "add", h.ns)
	port := fmt.Sprintf("p%d", n)
	l.ip("-n", l.sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
	l.ip("-n", l.sw, "link", "set", port, "master", "br0", "up")
	l.ip("-n", h.ns, "link", "set", "lo", "up")
	l.ip("-n", h.ns, "addr", "add", h.ip+"/24", "dev", "eth0")
	l.ip("-n", h.ns, "link", "set", "eth0", "up")
	l.hosts[name] = h
	return h
}

// link sets a host's network link up or down (down cuts it off every
// other host, the broker included).
func (l *netLab) link(h *labHost, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	out, err := exec.Command("ip", "-n", h.ns, "link", "set", "eth0", state).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip link set %s in %s: %v: %s", state, h.name, err, out)
	}
	return nil
}

func (l *netLab) close() {
	for _, h := range l.hosts {
		if out, err := exec.Command("ip", "netns", "del", h.ns).CombinedOutput(); err != nil {
			l.t.Logf("cleanup: ip netns del %s: %v %s", h.ns, err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "del", l.sw).CombinedOutput(); err != nil {
		l.t.Logf("cleanup: ip netns del %s: %v %s", l.sw, err, out)
	}
	_ = exec.Command("ip", "link", "del", "pl"+l.id).Run() // gone with the switch already, normally
}

// removeStaleLabs deletes the namespaces of earlier runs whose test
// process is gone (killed before its cleanup ran).
func removeStaleLabs(t *testing.T) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, "pdmlab-")
		if !ok {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		if n, err := strconv.Atoi(pid); err == nil && unix.Kill(n, 0) == nil {
			continue // its run is alive
		}
		if err := exec.Command("ip", "netns", "del", name).Run(); err == nil {
			t.Logf("removed the namespace %s of a run that is gone", name)
		}
	}
}

// start starts cmd inside h's network namespace: the forking thread
// enters the namespace first (a child inherits its thread's namespaces),
// and the child dies with the test process (Pdeathsig).
func (l *netLab) start(h *labHost, cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	target, err := os.Open("/var/run/netns/" + h.ns)
	if err != nil {
		return err
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter %s: %w", h.ns, err)
	}
	startErr := cmd.Start()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays in the lab: it ends with this goroutine
		// (locked threads are not reused).
		return fmt.Errorf("leave %s: %w (start: %v)", h.ns, err, startErr)
	}
	runtime.UnlockOSThread()
	return startErr
}

// process starts name (args...) in h, logging into the returned buffer,
// and stops it (SIGTERM, then SIGKILL) when the test ends.
func (l *netLab) process(h *labHost, what string, cred *syscall.Credential, env []string, name string, args ...string) (*exec.Cmd, *syncBuffer) {
	l.t.Helper()
	logs := &syncBuffer{}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Env = env
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	require.NoError(l.t, l.start(h, cmd), "start %s", what)
	l.t.Cleanup(func() { stopCmd(cmd) })
	return cmd, logs
}

func stopCmd(cmd *exec.Cmd) {
	if cmd.ProcessState != nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// labBroker starts a Mosquitto of its own in h (port 1883, persistent
// sessions that queue without limit).
func labBroker(t *testing.T, l *netLab, h *labHost) string {
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf("listener 1883 %s\nallow_anonymous true\npersistence true\n"+
		"persistence_location %s/\nautosave_interval 1\nmax_queued_messages 0\nmax_inflight_messages 1000\nlog_dest stderr\nuser root\n",
		h.ip, dir)), 0o600))
	bin := getenvDefault("PDM_MOSQUITTO_BIN", "/usr/sbin/mosquitto")
	cmd, logs := l.process(h, "mosquitto", nil, os.Environ(), bin, "-c", conf)
	eventually(t, 15*time.Second, "the lab's broker", func() bool {
		if cmd.ProcessState != nil {
			t.Fatalf("mosquitto exited:\n%s", logs.String())
		}
		return dialable(h.ip + ":1883")
	})
	return "tcp://" + h.ip + ":1883"
}

// labInflux starts an influxd of its own in h (port 8086, Flux on) with
// database pdm.
func labInflux(t *testing.T, l *netLab, h *labHost) string {
	home, _ := os.UserHomeDir()
	bin := getenvDefault("PDM_INFLUXD_BIN", filepath.Join(home, ".cache/pdm/influxdb-1.8.10/bin/influxd"))
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("influxd not found at %s (deploy/local/services.sh up builds it; or set PDM_INFLUXD_BIN): %v", bin, err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "influxdb.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:8088"
[meta]
  dir = "%[1]s/meta"
[data]
  dir = "%[1]s/data"
  wal-dir = "%[1]s/wal"
  query-log-enabled = false
[http]
  bind-address = "%[2]s:8086"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`, dir, h.ip)), 0o600))
	cmd, logs := l.process(h, "influxd", nil, os.Environ(), bin, "run", "-config", conf)
	base := "http://" + h.ip + ":8086"
	client := &http.Client{Timeout: 2 * time.Second}
	eventually(t, 90*time.Second, "the lab's InfluxDB", func() bool {
		if cmd.ProcessState != nil {
			t.Fatalf("influxd exited:\n%s", logs.String())
		}
		resp, err := client.Get(base + "/ping")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	resp, err := client.PostForm(base+"/query", url.Values{"q": {"CREATE DATABASE pdm"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "create database pdm")
	return base
}

// labPostgres creates a PostgreSQL 15 cluster of its own (initdb as user
// postgres) and starts it in h on port 5432, with database pdm.
func labPostgres(t *testing.T, l *netLab, h *labHost) string {
	bindir := getenvDefault("PDM_PG_BINDIR", "/usr/lib/postgresql/15/bin")
	if _, err := os.Stat(filepath.Join(bindir, "initdb")); err != nil {
		t.Fatalf("PostgreSQL's initdb not found in %s (Debian package postgresql-15; or set PDM_PG_BINDIR): %v", bindir, err)
	}
	u, err := user.Lookup("postgres")
	require.NoError(t, err, "user postgres (Debian package postgresql)")
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	// Outside the test's temp dir, which user postgres cannot enter.
	dir, err := os.MkdirTemp("", "pdmlab-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chown(dir, uid, gid))
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bindir, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	hba := filepath.Join(data, "pg_hba.conf")
	f, err := os.OpenFile(hba, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, "host all all %s0/24 trust\n", l.subnet)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	cmd, logs := l.process(h, "postgres", cred, []string{"LANG=C.UTF-8"}, filepath.Join(bindir, "postgres"), "-D", data,
		"-c", "listen_addresses="+h.ip, "-c", "port=5432", "-c", "unix_socket_directories="+dir,
		"-c", "max_connections=200", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	base := "postgres://postgres@" + h.ip + ":5432/"
	eventually(t, 30*time.Second, "the lab's PostgreSQL", func() bool {
		if cmd.ProcessState != nil {
			t.Fatalf("postgres exited:\n%s", logs.String())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base+"postgres?sslmode=disable")
		if err != nil {
			return false
		}
		_, err = c.Exec(ctx, "CREATE DATABASE pdm")
		c.Close(ctx)
		require.NoError(t, err, "create database pdm")
		return true
	})
	return base + "pdm?sslmode=disable"
}

// labStored counts the readings of site stored in the lab's InfluxDB: per
// asset, the count of its most frequent metric (every reading of the
// scenario's assets carries all of its metrics).
func labStored(t *testing.T, ctx context.Context, base, site string) int {
	q := url.Values{"db": {"pdm"}, "q": {"SELECT count(*) FROM telemetry WHERE site = '" + site + "' GROUP BY asset"}}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(qctx, http.MethodGet, base+"/query?"+q.Encode(), nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return -1
	}
	n := 0
	for _, r := range out.Results {
		for _, s := range r.Series {
			most := 0.0
			for _, row := range s.Values {
				for _, v := range row[1:] {
					if f, ok := v.(float64); ok && f > most {
						most = f
					}
				}
			}
			n += int(most)
		}
	}
	return n
}

// TestMultiHost is the multi-host proof of issue 13: the broker, InfluxDB,
// PostgreSQL and three `pdm serve` replicas each run in a network
// namespace of their own (hosts on one bridge, each server its own
// process and data); a fleet with sudden faults and gradual wear is
// replayed; a third of the way through one replica is killed (SIGKILL) and
// started again at two thirds, and between the two another one is cut off
// the network for 20 s (its link down: broker, database and InfluxDB all
// gone for it; with a 4 s keep-alive the broker gives up on its connection
// after 6 s and a survivor adopts its ingest session until it is back).
// Every fault yields exactly one order, the same orders one replica raises
// from the same fleet. It needs root, and fails without.
func TestMultiHost(t *testing.T) {
	t.Parallel()
	lab := newNetLab(t)
	s, err := simulators.ParseScenario([]byte(replicaScenario), time.Now())
	require.NoError(t, err)
	wantN, _, err := s.ExpectedReadings()
	require.NoError(t, err)
	want := uint64(wantN)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	bin := buildPDM(t)

	// The reference: one replica on the shared services.
	ref := newTestEnv(t)
	refToken := "lab-ref-" + ref.ID + "-0123456789abcdef"
	one := startReplica(t, bin, append(os.Environ(),
		"PDM_PG_URL="+ref.PGURL, "PDM_INFLUX_URL="+ref.InfluxURL, "PDM_INFLUX_BUCKET="+ref.Bucket,
		"PDM_MQTT_URL="+ref.MQTTURL, "PDM_MQTT_TOPIC_ROOT="+ref.TopicRoot, "PDM_HTTP_ADDR=127.0.0.1:0",
		"PDM_SHARE_GROUP=lab-"+ref.ID, "PDM_ADMIN_TOKEN="+refToken, "PDM_DATA_DIR="+ref.DataDir), "labref-"+ref.ID)
	refClient, _ := runFleet(t, ctx, s, one.base, refToken, ref.MQTTURL, ref.TopicRoot, ref.ID+"-labref", nil)
	eventually(t, 2*time.Minute, "the reference replica to ingest every reading", func() bool {
		return one.metric(t, "pdm_ingest_readings_total") >= float64(want)
	})
	refOrders := settle(t, ctx, refClient, s.Site, func() bool {
		return one.metric(t, "pdm_partition_reorder_readings") == 0
	})

	// The lab.
	brokerHost, influxHost, pgHost := lab.host("broker", 10), lab.host("influx", 11), lab.host("pg", 12)
	broker := labBroker(t, lab, brokerHost)
	influxURL := labInflux(t, lab, influxHost)
	pgURL := labPostgres(t, lab, pgHost)
	t.Logf("lab %s: broker %s, InfluxDB %s, PostgreSQL %s", lab.id, broker, influxURL, pgURL)

	token := "lab-admin-" + lab.id + "-0123456789abcdef"
	topicRoot := "lab/" + lab.id + "/pdm/v1"
	env := append(os.Environ(), "PDM_PG_URL="+pgURL, "PDM_INFLUX_URL="+influxURL, "PDM_INFLUX_BUCKET=pdm",
		"PDM_MQTT_URL="+broker, "PDM_MQTT_TOPIC_ROOT="+topicRoot, "PDM_HTTP_ADDR=0.0.0.0:8080",
		"PDM_SHARE_GROUP=lab", "PDM_ADMIN_TOKEN="+token, "PDM_LEASE_TTL=6s",
		"PDM_LATE_SETTLE=100ms", "PDM_LATE_MIN_INTERVAL=300ms", // as in TestThreeReplicasKillOne
		// r2's 20 s off the network outlast 1.5 keep-alives: the broker
		// drops its connection and a survivor adopts its ingest session
		// until r2 is back.
		"PDM_MQTT_KEEPALIVE=4s",
		"PDM_LOG_LEVEL="+getenvDefault("PDM_TEST_REPLICA_LOG_LEVEL", "info"))
	hosts := []*labHost{lab.host("r1", 21), lab.host("r2", 22), lab.host("r3", 23)}
	dataDirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	startLab := func(i int) *replica {
		h := hosts[i]
		r := &replica{name: h.name, logs: &syncBuffer{}, base: "http://" + h.ip + ":8080"}
		r.cmd = exec.Command(bin, "serve")
		r.cmd.Env = append(slices.Clone(env), "PDM_CLIENT_ID=lab-"+h.name, "PDM_DATA_DIR="+dataDirs[i])
		r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
		require.NoError(t, lab.start(h, r.cmd), "start %s", h.name)
		t.Cleanup(func() {
			stopCmd(r.cmd)
			if t.Failed() || os.Getenv("PDM_TEST_REPLICA_LOGS") != "" {
				t.Logf("%s log:\n%s", h.name, r.logs.String())
			}
		})
		eventually(t, 90*time.Second, h.name+" to serve", func() bool {
			if r.cmd.ProcessState != nil {
				t.Fatalf("%s exited:\n%s", h.name, r.logs.String())
			}
			return strings.Contains(r.logs.String(), `msg="pdm serving"`)
		})
		return r
	}
	// metric reads a replica's metric without waiting long on one that is
	// cut off (-1 then).
	metric := func(r *replica, name string) float64 {
		mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return metricValue(t, mctx, r.base, name)
	}
	reps := []*replica{startLab(0), startLab(1), startLab(2)}
	owned := func(rs ...*replica) int {
		n := 0
		for _, r := range rs {
			n += int(max(metric(r, "pdm_partitions_owned"), 0))
		}
		return n
	}
	eventually(t, 60*time.Second, "the three replicas to share the 32 partitions", func() bool {
		for _, r := range reps {
			if metric(r, "pdm_partitions_owned") < 1 {
				return false
			}
		}
		return owned(reps...) == 32
	})

	var killed, cut, restarted bool
	relinked := make(chan error, 1)
	client, p := runFleet(t, ctx, s, reps[0].base, token, broker, topicRoot, lab.id, func(p simulators.Progress) {
		switch {
		case !killed && p.Readings >= want/3:
			reps[2].kill(t)
			killed = true
			t.Logf("killed r3 (SIGKILL) at %d of %d readings", p.Readings, want)
		case killed && !cut && p.Readings >= want/2:
			require.NoError(t, lab.link(hosts[1], false))
			cut = true
			t.Logf("cut r2 off the network for 20 s at %d of %d readings", p.Readings, want)
			go func() {
				time.Sleep(20 * time.Second)
				relinked <- lab.link(hosts[1], true)
			}()
		case cut && !restarted && p.Readings >= 2*want/3:
			reps[2] = startLab(2)
			restarted = true
			t.Logf("restarted r3 at %d of %d readings", p.Readings, want)
		}
	})
	require.True(t, killed && cut, "the fleet ran long enough to kill one replica and cut another off")
	require.NoError(t, <-relinked, "r2's link up again")
	t.Log("r2 back on the network")
	if !restarted {
		reps[2] = startLab(2)
	}
	t.Logf("fleet: %d readings, %d messages, %d events", p.Readings, p.Messages, p.Events)

	eventually(t, 2*time.Minute, "every reading stored and the 32 partitions held", func() bool {
		return labStored(t, ctx, influxURL, s.Site) >= int(want) && owned(reps...) == 32
	})
	orders := settle(t, ctx, client, s.Site, func() bool {
		for _, r := range reps {
			if metric(r, "pdm_partition_reorder_readings") != 0 || metric(r, "pdm_partition_rebuilding") != 0 ||
				metric(r, "pdm_rules_late_waiting_assets") != 0 {
				return false
			}
		}
		return true
	})
	adoptions := 0.0
	for _, r := range reps {
		t.Logf("%s: %.0f readings ingested, %.0f late, %.0f assets re-evaluated, %.0f replayed by rebuilds, %.0f partitions, %.0f sessions adopted",
			r.name, metric(r, "pdm_ingest_readings_total"), metric(r, "pdm_rules_late_readings_total"),
			metric(r, "pdm_rules_late_reevaluations_total"), metric(r, "pdm_partition_rebuilt_readings_total"),
			metric(r, "pdm_partitions_owned"), metric(r, "pdm_ingest_session_adoptions_total"))
		adoptions += max(metric(r, "pdm_ingest_session_adoptions_total"), 0)
	}
	// r3's session when it was killed, r2's when the broker gave up on its
	// connection (r3's own count restarted with it).
	require.GreaterOrEqual(t, adoptions, 2.0, "the ingest sessions of the killed and of the cut-off replica were adopted")

	truth := s.Truth()
	end := p.SimTime
	truth.End = &end
	t.Logf("three replicas on six hosts, one killed, one cut off:\n%s", eval.Evaluate(truth, orders, eval.Options{}).Markdown(eval.DefaultTargets()))
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
