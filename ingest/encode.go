package ingest

import (
	"strconv"
	"time"
)

// AppendJSON appends the contract's JSON telemetry payload for readings of
// one asset to dst. With no gateway and one reading it writes the single
// form ({"ts":..,"metrics":{..}}), otherwise the batch form with gateway and
// seq. Timestamps are written as Unix milliseconds. Metric names are written
// as they are: callers pass valid names (ValidMetricName), which need no
// escaping.
func AppendJSON(dst []byte, gateway string, seq uint64, readings []Reading) []byte {
	if gateway == "" && len(readings) == 1 {
		return appendReadingJSON(dst, readings[0])
	}
	dst = append(dst, '{')
	if gateway != "" {
		dst = append(dst, `"gateway":`...)
		dst = strconv.AppendQuote(dst, gateway)
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendUint(dst, seq, 10)
		dst = append(dst, ',')
	}
	dst = append(dst, `"readings":[`...)
	for i, r := range readings {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendReadingJSON(dst, r)
	}
	return append(dst, "]}"...)
}

func appendReadingJSON(dst []byte, r Reading) []byte {
	dst = append(dst, `{"ts":`...)
	dst = strconv.AppendInt(dst, r.TS.UnixMilli(), 10)
	dst = append(dst, `,"metrics":{`...)
	for i, m := range r.Metrics {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, m.Name...)
		dst = append(dst, `":`...)
		dst = strconv.AppendFloat(dst, m.Value, 'g', -1, 64)
	}
	return append(dst, "}}"...)
}

// TelemetryTopic returns the contract's telemetry topic for an asset.
func TelemetryTopic(root, site, asset string) string {
	return root + "/" + site + "/" + asset + "/telemetry"
}

// EventTopic returns the contract's device event topic for an asset.
func EventTopic(root, site, asset string) string {
	return root + "/" + site + "/" + asset + "/event"
}

// msToTime converts Unix milliseconds to UTC time.
func msToTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
