package ingest_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/openpdm/pdm/deploy/local/servicetest"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/predict"
	"github.com/openpdm/pdm/rules"
)

// nopConsumer takes readings and events and does nothing.
type nopConsumer struct{}

func (nopConsumer) Consume(context.Context, []ingest.Reading) {}

func (nopConsumer) HandleEvent(context.Context, ingest.Event) error { return nil }

// pumpAssets registers every asset as a pump.
type pumpAssets struct{}

func (pumpAssets) Asset(_ context.Context, site, code string) (rules.AssetRef, bool, error) {
	return rules.AssetRef{Site: site, Code: code, ID: site + "/" + code, Type: "pump"}, true, nil
}

type ruleList []rules.Rule

func (l ruleList) Rules(context.Context) ([]rules.Rule, error) { return l, nil }

// BenchmarkDrainDetection is issue 15's measure of what detection costs
// ingest: the same backlog (100 assets sampled every second in event
// time, 50 readings of 10 metrics a line-protocol message) drained from
// the broker into InfluxDB with detection off (readings handed to a
// consumer that drops them) and on (the rules engine with the predictor,
// 5 of the 10 metrics covered by a rule with prediction, 12 h windows), in
// the same run. The cost of detection is the drop in readings/s.
func BenchmarkDrainDetection(b *testing.B) {
	mq := servicetest.StartMosquitto(b, "max_inflight_messages 5000")
	iurl := influxURL(b)
	const assets, per, metrics, predicted = 100, 50, 10, 5
	total := benchTotal() * 5
	msgs := total / per
	base := time.Now().Add(-time.Duration(msgs/assets*per+60) * time.Second).Truncate(time.Second)
	rng := rand.New(rand.NewPCG(5, 6))
	payloads := make([][]byte, msgs)
	for m := range msgs {
		k, a := m/assets, m%assets
		rs := make([]ingest.Reading, per)
		for j := range rs {
			sec := k*per + j
			h := float64(sec) / 3600
			rs[j].TS = base.Add(time.Duration(sec) * time.Second)
			for f := range metrics {
				v := 2.2 + 0.1*math.Sin(h/3+float64(a)) + 0.08*rng.NormFloat64()
				if a%2 == 0 && f < predicted {
					v += 0.01 * h // slow wear on half the assets
				}
				rs[j].Metrics = append(rs[j].Metrics, ingest.Metric{Name: "metric_" + strconv.Itoa(f), Value: v})
			}
		}
		payloads[m] = lpPayload(rs)
	}
	var rs ruleList
	for f := range predicted {
		crit := 7.1
		rs = append(rs, rules.Rule{ID: fmt.Sprintf("r%d", f), Name: fmt.Sprintf("wear %d", f), AssetType: "pump",
			Metric: fmt.Sprintf("pump_%d", f), Direction: rules.Above, Critical: &crit, For: rules.Duration(time.Minute),
			FailureMode: fmt.Sprintf("wear_%d", f), Priority: "P3", Enabled: true,
			Predict: &rules.PredictSpec{Window: rules.Duration(12 * time.Hour), Horizon: rules.Duration(7 * 24 * time.Hour), MinR2: 0.6, MinPoints: 30}})
	}
	for _, detect := range []bool{false, true} {
		b.Run(fmt.Sprintf("detection=%v", detect), func(b *testing.B) {
			var col consumerHandler = nopConsumer{}
			if detect {
				e, err := rules.NewEngine(rules.Config{Assets: pumpAssets{}, Rules: rs,
					Signal:    func(context.Context, rules.Signal) error { return nil },
					Observers: []rules.Observer{predict.New(predict.Options{})}})
				if err != nil {
					b.Fatal(err)
				}
				col = e
			}
			db := newInfluxDB(b, iurl)
			root := "bench/" + randID() + "/pdm/v1"
			opts := rigOpts{broker: mq.URL, influxURL: iurl, db: db, root: root, clientID: "bench-" + randID(), cfg: benchConfig()}
			r := startRigCol(b, opts, col)
			r.stop(b)
			topics := make([]string, msgs)
			for m := range msgs {
				topics[m] = ingest.TelemetryTopic(root, "s1", "a"+strconv.Itoa(m%assets))
			}
			// One publisher per quarter of the assets (m % 4 = asset % 4),
			// so each asset's messages stay in order.
			publishAll(b, benchPublishers(b, mq.URL, 4), topics, payloads, time.Now(), 0)
			b.ResetTimer()
			start := time.Now()
			cpu0 := cpuTime()
			r = startRigCol(b, opts, col)
			want := float64(msgs * per)
			for counter(b, r.reg, "pdm_ingest_readings_total") < want {
				if time.Since(start) > 5*time.Minute {
					b.Fatalf("only %.0f of %.0f readings after 5m", counter(b, r.reg, "pdm_ingest_readings_total"), want)
				}
				time.Sleep(5 * time.Millisecond)
			}
			el := time.Since(start)
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/want, "cpu-ns/reading")
			b.ReportMetric(want/el.Seconds(), "readings/s")
			r.stop(b)
		})
	}
}
