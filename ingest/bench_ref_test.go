package ingest_test

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	lineprotocol "github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/openpdm/pdm/ingest"
)

// Reference decoders built on maintained libraries, benchmarked beside the
// hand-written ones (BenchmarkDecode): they accept the same payloads and
// return the same readings (metric order aside), with the same checks.

var errRef = errors.New("rejected")

type refJSONReading struct {
	TS      json.RawMessage    `json:"ts"`
	Metrics map[string]float64 `json:"metrics"`
}

type refJSONPayload struct {
	Gateway  string             `json:"gateway"`
	Seq      *uint64            `json:"seq"`
	TS       json.RawMessage    `json:"ts"`
	Metrics  map[string]float64 `json:"metrics"`
	Readings []refJSONReading   `json:"readings"`
}

// decodeJSONStd is the contract's JSON decoded with encoding/json.
func decodeJSONStd(site, asset string, payload []byte, now time.Time) ([]ingest.Reading, error) {
	var p refJSONPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	if p.Gateway != "" && !ingest.ValidCode(p.Gateway) {
		return nil, errRef
	}
	rs := p.Readings
	if p.TS != nil {
		rs = []refJSONReading{{TS: p.TS, Metrics: p.Metrics}}
	}
	out := make([]ingest.Reading, len(rs))
	for i, r := range rs {
		ts, err := refTS(r.TS)
		if err != nil || ts.After(now.Add(ingest.MaxFutureSkew)) || len(r.Metrics) == 0 {
			return nil, errRef
		}
		ms := make([]ingest.Metric, 0, len(r.Metrics))
		for k, v := range r.Metrics {
			if !ingest.ValidMetricName(k) || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, errRef
			}
			ms = append(ms, ingest.Metric{Name: k, Value: v})
		}
		out[i] = ingest.Reading{Site: site, Asset: asset, Gateway: p.Gateway, TS: ts, Metrics: ms}
	}
	return out, nil
}

func refTS(raw json.RawMessage) (time.Time, error) {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, err
		}
		return time.Parse(time.RFC3339Nano, s)
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	return time.UnixMilli(ms).UTC(), err
}

// decodeLPLib is line protocol decoded with influxdata/line-protocol/v2
// alone (the package's decoder is built on it since 2026-11-29 and adds
// tag folding, name interning and the reject reasons): what the bare
// library costs.
func decodeLPLib(site, asset string, payload []byte, now time.Time) ([]ingest.Reading, error) {
	dec := lineprotocol.NewDecoderWithBytes(payload)
	var out []ingest.Reading
	for dec.Next() {
		meas, err := dec.Measurement()
		if err != nil {
			return nil, err
		}
		var gw string
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				return nil, err
			}
			if k == nil {
				break
			}
			if string(k) == "gateway" {
				gw = string(v)
			}
		}
		var ms []ingest.Metric
		for {
			k, v, err := dec.NextField()
			if err != nil {
				return nil, err
			}
			if k == nil {
				break
			}
			var f float64
			switch v.Kind() {
			case lineprotocol.Float:
				f = v.FloatV()
			case lineprotocol.Int:
				f = float64(v.IntV())
			case lineprotocol.Uint:
				f = float64(v.UintV())
			case lineprotocol.Bool:
				if v.BoolV() {
					f = 1
				}
			default:
				continue
			}
			name := string(meas) + "_" + string(k)
			if !ingest.ValidMetricName(name) || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, errRef
			}
			ms = append(ms, ingest.Metric{Name: name, Value: f})
		}
		ts, err := dec.Time(lineprotocol.Nanosecond, now)
		if err != nil || ts.After(now.Add(ingest.MaxFutureSkew)) {
			return nil, errRef
		}
		if len(ms) > 0 {
			out = append(out, ingest.Reading{Site: site, Asset: asset, Gateway: gw, TS: ts.UTC(), Metrics: ms})
		}
	}
	if len(out) == 0 {
		return nil, errRef
	}
	return out, nil
}
