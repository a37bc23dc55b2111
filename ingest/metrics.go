package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the pipeline's Prometheus metrics (all named pdm_ingest_*).
type metrics struct {
	messages         *prometheus.CounterVec
	msgTelemetry     prometheus.Counter
	msgEvent         prometheus.Counter
	msgOther         prometheus.Counter
	readings         prometheus.Counter
	rejected         *prometheus.CounterVec
	batchReadings    prometheus.Histogram
	writeSeconds     prometheus.Histogram
	writeErrors      prometheus.Counter
	ackLag           prometheus.Histogram
	inFlightReadings prometheus.Gauge
	inFlightMsgs     prometheus.Gauge
	late             prometheus.Counter
	eventErrors      prometheus.Counter
	refused          prometheus.Counter
	lag              prometheus.Gauge
	trackedAssets    prometheus.Gauge
	trackedSeries    prometheus.Gauge
	evictedAssets    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pdm_ingest_messages_total",
			Help: "MQTT messages received, by kind (telemetry, event, other).",
		}, []string{"kind"}),
		readings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_ingest_readings_total",
			Help: "Readings durably written to InfluxDB and acknowledged.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pdm_ingest_rejected_total",
			Help: "Messages rejected, by reason.",
		}, []string{"reason"}),
		batchReadings: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pdm_ingest_batch_readings",
			Help:    "Readings per write to InfluxDB.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pdm_ingest_write_seconds",
			Help:    "Latency of writes to InfluxDB, failed ones included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_ingest_write_errors_total",
			Help: "Failed writes to InfluxDB (each is retried).",
		}),
		ackLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pdm_ingest_ack_lag_seconds",
			Help:    "Time from receiving a message to acknowledging it to the broker.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		inFlightReadings: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pdm_ingest_in_flight_readings",
			Help: "Decoded readings not yet written and acknowledged.",
		}),
		inFlightMsgs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pdm_ingest_queued_messages",
			Help: "Received messages waiting to be decoded.",
		}),
		late: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_ingest_late_readings_total",
			Help: "Readings not newer than one already handed on for their asset (late, backfilled or redelivered); rules and prediction check each series themselves.",
		}),
		eventErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_ingest_event_errors_total",
			Help: "Failed device event handler calls (each is retried).",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pdm_ingest_lag_seconds",
			Help: "Receive-to-acknowledge time of the message acknowledged last: how far ingest is behind (the autoscaling signal).",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_ingest_refused_total",
			Help: "Messages refused unacknowledged because the queue in front of decoding was full; the broker delivers them again after a reconnect.",
		}),
		trackedAssets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pdm_ingest_tracked_assets",
			Help: "Assets whose metric names ingest remembers (at most Limits.MaxAssets).",
		}),
		trackedSeries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pdm_ingest_tracked_series",
			Help: "(asset, metric) names ingest remembers (at most Limits.MaxSeries).",
		}),
		evictedAssets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pdm_ingest_evicted_assets_total",
			Help: "Assets forgotten, least recently seen first, to stay within Limits.MaxAssets and MaxSeries.",
		}),
	}
	m.msgTelemetry = m.messages.WithLabelValues("telemetry")
	m.msgEvent = m.messages.WithLabelValues("event")
	m.msgOther = m.messages.WithLabelValues("other")
	for _, r := range Reasons() {
		m.rejected.WithLabelValues(string(r))
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.messages, m.readings, m.rejected, m.batchReadings, m.writeSeconds,
		m.writeErrors, m.ackLag, m.inFlightReadings, m.inFlightMsgs, m.late, m.eventErrors, m.refused, m.trackedAssets,
		m.trackedSeries, m.evictedAssets, m.lag} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
