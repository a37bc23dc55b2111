package ingest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/ingest"
)

// TestFullQueueWaitsInsteadOfRefusing: a broker that sends without limit
// (in-flight window 0, like Mosquitto 2.0.11 once acknowledgements lag,
// whatever its window says) into a pipeline whose queue holds 20 messages.
// The queue moves, so delivery waits for room (the broker is held back by
// TCP) and nothing is refused: every message crosses the broker once.
// Before delivery waited, this drain refused most of its messages.
func TestFullQueueWaitsInsteadOfRefusing(t *testing.T) {
	t.Parallel()
	mq := servicetest.StartMosquitto(t, "max_inflight_messages 0")
	iurl := influxURL(t)
	db := newInfluxDB(t, iurl)
	root := "test/" + randID() + "/pdm/v1"
	clientID := "ingest-" + randID()
	r := startRig(t, rigOpts{broker: mq.URL, influxURL: iurl, db: db, root: root, clientID: clientID})
	r.stop(t)
	const n = 2000
	s := stream(t, publisher(t, mq.URL), root, n)
	<-s.done
	// QueueWait is generous: on a loaded machine one InfluxDB write can
	// take a second or two, and the test is about a queue that moves.
	r = startRig(t, rigOpts{broker: mq.URL, influxURL: iurl, db: db, root: root, clientID: clientID,
		cfg: ingest.Config{MaxInFlight: 20, BatchSize: 50, QueueWait: 8 * time.Second}})
	waitCount(t, iurl, db, n, 90*time.Second)
	// The counter moves once a write has returned, a moment after
	// InfluxDB shows its points (CI once read 1566 of 2000 there).
	waitFor(t, 30*time.Second, "the written counter", func() bool {
		return counter(t, r.reg, "pdm_ingest_readings_total") >= n
	})
	refused, written := counter(t, r.reg, "pdm_ingest_refused_total"), counter(t, r.reg, "pdm_ingest_readings_total")
	t.Logf("refused %.0f, written %.0f (for %d readings)", refused, written, n)
	require.Zero(t, refused, "a queue that moves refuses nothing")
	require.Equal(t, float64(n), written, "each reading written once")
}

// TestOverflowRefusesAndRedelivers: the same broker and queue, but the
// store holds every write (stuck): the queue stays full, delivery waits
// QueueWait and then refuses, and the source reconnects so the broker
// sends the unacknowledged messages again. Once the store answers, every
// reading ends up stored, the session stays up.
func TestOverflowRefusesAndRedelivers(t *testing.T) {
	t.Parallel()
	mq := servicetest.StartMosquitto(t, "max_inflight_messages 0")
	iurl := influxURL(t)
	db := newInfluxDB(t, iurl)
	root := "test/" + randID() + "/pdm/v1"
	clientID := "ingest-" + randID()
	// The backlog waits in the broker for the persistent session.
	r := startRig(t, rigOpts{broker: mq.URL, influxURL: iurl, db: db, root: root, clientID: clientID})
	r.stop(t)
	const n = 300
	s := stream(t, publisher(t, mq.URL), root, n)
	<-s.done
	gate := make(chan struct{})
	r = startRig(t, rigOpts{broker: mq.URL, influxURL: iurl, db: db, root: root, clientID: clientID, gate: gate,
		cfg: ingest.Config{MaxInFlight: 20, BatchSize: 50, QueueWait: 100 * time.Millisecond}})
	waitFor(t, 30*time.Second, "a refusal while the store is stuck", func() bool {
		return counter(t, r.reg, "pdm_ingest_refused_total") > 0
	})
	require.Zero(t, counter(t, r.reg, "pdm_ingest_readings_total"), "nothing written while the store is stuck")
	close(gate)
	waitCount(t, iurl, db, n, 90*time.Second)
	refused, written := counter(t, r.reg, "pdm_ingest_refused_total"), counter(t, r.reg, "pdm_ingest_readings_total")
	t.Logf("refused %.0f, written %.0f (for %d readings)", refused, written, n)
	require.NoError(t, r.p.Ready(t.Context()))
}
