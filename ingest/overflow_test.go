package ingest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/ingest"
)

// TestOverflowRefusesAndRedelivers: a broker that sends without limit
// (in-flight window 0) into a pipeline whose queue holds 20 messages. The
// paho handler never blocks: it refuses what does not fit, and the source
// reconnects so the broker sends the unacknowledged messages again. Every
// reading ends up stored, the refusals are counted, the session stays up.
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
	r = startRig(t, rigOpts{broker: mq.URL, influxURL: iurl, db: db, root: root, clientID: clientID,
		cfg: ingest.Config{MaxInFlight: 20, BatchSize: 50}})
	waitCount(t, iurl, db, n, 90*time.Second)
	refused, written := counter(t, r.reg, "pdm_ingest_refused_total"), counter(t, r.reg, "pdm_ingest_readings_total")
	t.Logf("refused %.0f, written %.0f (for %d readings)", refused, written, n)
	require.Positive(t, refused, "the queue overflowed")
	require.NoError(t, r.p.Ready(t.Context()))
}
