package ingest

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestDecodeJSON(t *testing.T) {
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		payload string
		want    []Reading
		reason  Reason
	}{
		{name: "single rfc3339", payload: `{"ts":"2026-03-01T12:00:00Z","metrics":{"vibration_rms":2.31,"bearing_temp_c":71.2}}`,
			want: []Reading{{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"vibration_rms", 2.31}, {"bearing_temp_c", 71.2}}}}},
		{name: "single ms, metrics first, blanks", payload: " {\n\"metrics\" : { \"a\" : -1e3 } , \"ts\" : 1772366400000 }\n",
			want: []Reading{{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"a", -1000}}}}},
		{name: "batch", payload: `{"gateway":"gw-7","seq":1042,"readings":[{"ts":1772366400000,"metrics":{"vibration_rms":2.4}},{"ts":"2026-03-01T13:00:00+01:00","metrics":{"x":0}}]}`,
			want: []Reading{{Site: "s", Asset: "a", Gateway: "gw-7", TS: ts, Metrics: []Metric{{"vibration_rms", 2.4}}},
				{Site: "s", Asset: "a", Gateway: "gw-7", TS: ts, Metrics: []Metric{{"x", 0}}}}},
		{name: "unknown keys skipped", payload: `{"v":[1,{"a":null},true,"\u00e9\n"],"ts":1772366400000,"metrics":{"a":1},"z":{}}`,
			want: []Reading{{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"a", 1}}}}},
		{name: "escaped key", payload: `{"ts":1772366400000,"metrics":{"\u0061b":1}}`,
			want: []Reading{{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"ab", 1}}}}},
		{name: "truncated", payload: `{"ts":1,"metrics":{"a":1}`, reason: ReasonMalformedJSON},
		{name: "trailing comma", payload: `{"ts":1,"metrics":{"a":1},}`, reason: ReasonMalformedJSON},
		{name: "trailing comma metrics", payload: `{"ts":1,"metrics":{"a":1,}}`, reason: ReasonMalformedJSON},
		{name: "trailing data", payload: `{"ts":1,"metrics":{"a":1}} x`, reason: ReasonMalformedJSON},
		{name: "string value", payload: `{"ts":1,"metrics":{"a":"1"}}`, reason: ReasonMalformedJSON},
		{name: "null value", payload: `{"ts":1,"metrics":{"a":null}}`, reason: ReasonMalformedJSON},
		{name: "leading zero", payload: `{"ts":1,"metrics":{"a":01}}`, reason: ReasonMalformedJSON},
		{name: "NaN literal", payload: `{"ts":1,"metrics":{"a":NaN}}`, reason: ReasonMalformedJSON},
		{name: "overflow", payload: `{"ts":1,"metrics":{"a":1e999}}`, reason: ReasonNonFinite},
		{name: "bad metric", payload: `{"ts":1,"metrics":{"Vib":1}}`, reason: ReasonBadMetricName},
		{name: "long metric", payload: `{"ts":1,"metrics":{"` + strings.Repeat("a", 65) + `":1}}`, reason: ReasonBadMetricName},
		{name: "bad gateway", payload: `{"gateway":"g w","readings":[{"ts":1,"metrics":{"a":1}}]}`, reason: ReasonBadID},
		{name: "missing ts", payload: `{"metrics":{"a":1}}`, reason: ReasonBadTS},
		{name: "missing ts in batch", payload: `{"readings":[{"metrics":{"a":1}}]}`, reason: ReasonBadTS},
		{name: "float ts", payload: `{"ts":1.5,"metrics":{"a":1}}`, reason: ReasonBadTS},
		{name: "bad ts string", payload: `{"ts":"yesterday","metrics":{"a":1}}`, reason: ReasonBadTS},
		{name: "bool ts", payload: `{"ts":true,"metrics":{"a":1}}`, reason: ReasonBadTS},
		{name: "future", payload: `{"ts":"2026-03-01T12:05:01Z","metrics":{"a":1}}`, reason: ReasonFutureTS},
		{name: "just inside skew", payload: `{"ts":"2026-03-01T12:05:00Z","metrics":{"a":1}}`,
			want: []Reading{{Site: "s", Asset: "a", TS: ts.Add(5 * time.Minute), Metrics: []Metric{{"a", 1}}}}},
		{name: "no metrics", payload: `{"ts":1,"metrics":{}}`, reason: ReasonEmpty},
		{name: "no readings", payload: `{"readings":[]}`, reason: ReasonEmpty},
		{name: "empty object", payload: `{}`, reason: ReasonEmpty},
		{name: "mixed forms", payload: `{"ts":1,"metrics":{"a":1},"readings":[]}`, reason: ReasonMalformedJSON},
		{name: "negative seq", payload: `{"seq":-1,"readings":[{"ts":1,"metrics":{"a":1}}]}`, reason: ReasonMalformedJSON},
		{name: "deep", payload: `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `,"ts":1,"metrics":{"a":1}}`, reason: ReasonMalformedJSON},
		{name: "control char", payload: "{\"ts\":1,\"metrics\":{\"a\x01\":1}}", reason: ReasonMalformedJSON},
		{name: "too large", payload: `{"ts":1,"metrics":{"a":1}}` + strings.Repeat(" ", MaxPayloadBytes), reason: ReasonTooLarge},
		{name: "flat object (Node-RED)", payload: `{"temperature":21.5,"humidity":40,"running":true,"door":false,"label":"pump 1","extra":null,"nested":{"x":1}}`,
			want: []Reading{{Site: "s", Asset: "a", TS: testNow, Metrics: []Metric{{"temperature", 21.5}, {"humidity", 40}, {"running", 1}, {"door", 0}}}}},
		{name: "flat object with ts and gateway", payload: `{"ts":1772366400000,"gateway":"gw-1","seq":3,"temp":1}`,
			want: []Reading{{Site: "s", Asset: "a", Gateway: "gw-1", TS: ts, Metrics: []Metric{{"temp", 1}}}}},
		{name: "flat object bad name", payload: `{"Temperature":21.5}`, reason: ReasonBadMetricName},
		{name: "flat object overflow", payload: `{"temp":1e999}`, reason: ReasonNonFinite},
		{name: "flat object repeated key", payload: `{"temp":1,"temp":2}`, reason: ReasonSeriesCollision},
		{name: "flat object only text", payload: `{"label":"x"}`, reason: ReasonEmpty},
		{name: "numbers beside metrics are not metrics", payload: `{"ts":1772366400000,"metrics":{"a":1},"version":2}`,
			want: []Reading{{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"a", 1}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeJSON("s", "a", []byte(tt.payload), testNow)
			if tt.reason != "" {
				require.Error(t, err)
				require.Equal(t, tt.reason, ReasonOf(err), "err %v", err)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDecodeIDs(t *testing.T) {
	p := []byte(`{"ts":1,"metrics":{"a":1}}`)
	for _, ids := range [][2]string{{"", "a"}, {"s", ""}, {"s.1", "a"}, {"s", strings.Repeat("a", 65)}, {"s", "a/b"}} {
		_, err := Decode(ids[0], ids[1], p, testNow)
		require.Equal(t, ReasonBadID, ReasonOf(err), "%q", ids)
	}
	_, err := Decode("S_1-x", strings.Repeat("a", 64), p, testNow)
	require.NoError(t, err)
}

func TestDecodeLineProtocol(t *testing.T) {
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ns := "1772366400000000000"
	tests := []struct {
		name    string
		payload string
		want    []Reading
		reason  Reason
	}{
		{name: "one line", payload: "pump,gateway=gw-1,site=x,asset=y vib=2.5,temp=70i,on=t,off=FALSE,n=3u " + ns,
			want: []Reading{{Site: "s", Asset: "a", Gateway: "gw-1", TS: ts, Metrics: []Metric{{"pump_vib", 2.5}, {"pump_temp", 70}, {"pump_on", 1}, {"pump_off", 0}, {"pump_n", 3}}}}},
		{name: "tags fold into the metric name, by key order", payload: "pump,z=B,x=y-1 vib=2.5 " + ns,
			want: []Reading{{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"pump_y_1_b_vib", 2.5}}}}},
		{name: "telegraf cpu series stay apart", payload: "cpu,cpu=cpu0,host=h1 usage_idle=98.5,usage_user=1 " + ns + "\ncpu,cpu=cpu1,host=h1 usage_idle=97,usage_user=2 " + ns + "\ncpu,cpu=cpu-total,host=h1 usage_idle=97.75,usage_user=1.5 " + ns + "\nmem,host=h1 used_percent=41.5 " + ns + "\n",
			want: []Reading{
				{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"cpu_cpu0_h1_usage_idle", 98.5}, {"cpu_cpu0_h1_usage_user", 1}}},
				{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"cpu_cpu1_h1_usage_idle", 97}, {"cpu_cpu1_h1_usage_user", 2}}},
				{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"cpu_cpu_total_h1_usage_idle", 97.75}, {"cpu_cpu_total_h1_usage_user", 1.5}}},
				{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"mem_h1_used_percent", 41.5}}}}},
		{name: "series that fold to one name are rejected", payload: "cpu,cpu=cpu-total v=1 " + ns + "\ncpu,cpu=CPU_total v=2 " + ns, reason: ReasonSeriesCollision},
		{name: "same folded name at other times is fine", payload: "cpu,cpu=a v=1 " + ns + "\ncpu,cpu=a v=2 1772366401000000000",
			want: []Reading{{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"cpu_a_v", 1}}}, {Site: "s", Asset: "a", TS: ts.Add(time.Second), Metrics: []Metric{{"cpu_a_v", 2}}}}},
		{name: "folded name too long", payload: "m,t=" + strings.Repeat("x", 70) + " v=1", reason: ReasonBadMetricName},
		{name: "no timestamp uses receive time", payload: "m v=1\n",
			want: []Reading{{Site: "s", Asset: "a", TS: testNow, Metrics: []Metric{{"m_v", 1}}}}},
		{name: "comments blanks crlf strings", payload: "# c\n\n  m v=1,s=\"a b,\\\"c\" " + ns + "\r\nm w=-1.5e2  " + ns + " \n",
			want: []Reading{{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"m_v", 1}}}, {Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"m_w", -150}}}}},
		{name: "escaped tag value", payload: `m,t=a\ b v=1 ` + ns,
			want: []Reading{{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"m_a_b_v", 1}}}}},
		{name: "only strings", payload: `m s="x" ` + ns, reason: ReasonEmpty},
		{name: "empty", payload: "\n# only a comment\n", reason: ReasonEmpty},
		{name: "no fields", payload: "m " + ns, reason: ReasonBadLineProtocol},
		{name: "no space", payload: "m", reason: ReasonBadLineProtocol},
		{name: "bad tag", payload: "m,t v=1", reason: ReasonBadLineProtocol},
		{name: "bad value", payload: "m v=abc", reason: ReasonBadLineProtocol},
		{name: "empty value", payload: "m v=", reason: ReasonBadLineProtocol},
		{name: "hex float", payload: "m v=0x1p3", reason: ReasonBadLineProtocol},
		{name: "unterminated string", payload: `m v="abc`, reason: ReasonBadLineProtocol},
		{name: "trailing junk", payload: "m v=1 123 456", reason: ReasonBadLineProtocol},
		{name: "NaN", payload: "m v=NaN", reason: ReasonNonFinite},
		{name: "Inf", payload: "m v=1e400", reason: ReasonNonFinite},
		{name: "bad name", payload: "Pump v=1", reason: ReasonBadMetricName},
		{name: "escaped name", payload: `m\ x v=1`, reason: ReasonBadMetricName},
		{name: "long name", payload: strings.Repeat("m", 60) + " value=1", reason: ReasonBadMetricName},
		{name: "bad gateway", payload: "m,gateway=a.b v=1", reason: ReasonBadID},
		{name: "bad timestamp", payload: "m v=1 12a", reason: ReasonBadTS},
		{name: "future", payload: "m v=1 1772366701000000000", reason: ReasonFutureTS},
		{name: "tabs separate", payload: "m\tv=1\t" + ns + "\n#\tc",
			want: []Reading{{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"m_v", 1}}}}},
		{name: "backslash in tag value dropped", payload: `m,t=a\b v=1 ` + ns,
			want: []Reading{{Site: "s", Asset: "a", TS: ts, Metrics: []Metric{{"m_ab_v", 1}}}}},
		{name: "name checked before NaN", payload: "Pump v=NaN", reason: ReasonBadMetricName},
		{name: "NaN after other fields", payload: "m a=1,v=nan", reason: ReasonNonFinite},
		{name: "bad name before NaN after other fields", payload: "m a=1,V=-Inf", reason: ReasonBadMetricName},
		// Outside line protocol's grammar (line-protocol/v2, InfluxDB's
		// parser): a '+' sign and bytes that are not UTF-8.
		{name: "plus sign", payload: "m v=+1", reason: ReasonBadLineProtocol},
		{name: "plus sign timestamp", payload: "m v=1 +5", reason: ReasonBadTS},
		{name: "not utf-8", payload: "m,t=\xff v=1", reason: ReasonBadLineProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode("s", "a", []byte(tt.payload), testNow)
			if tt.reason != "" {
				require.Error(t, err)
				require.Equal(t, tt.reason, ReasonOf(err), "err %v", err)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDecodeEvent(t *testing.T) {
	ev, err := DecodeEvent("s", "a", []byte(`{"ts":1772366400000,"code":"E42","severity":"warning","message":"hot","extra":1}`), testNow)
	require.NoError(t, err)
	require.Equal(t, Event{Site: "s", Asset: "a", TS: testNow, Code: "E42", Severity: SeverityWarning, Message: "hot"}, ev)
	for payload, reason := range map[string]Reason{
		`{"ts":1,"code":"E1","severity":"bad"}`:   ReasonBadEvent,
		`{"ts":1,"severity":"info"}`:              ReasonBadEvent,
		`{"ts":1,"code":"a b","severity":"info"}`: ReasonBadEvent,
		`{"ts":1,"code":1,"severity":"info"}`:     ReasonBadEvent,
		`{"code":"E1","severity":"info"}`:         ReasonBadTS,
		`{"ts":1,"code":"E1","severity":"info"`:   ReasonMalformedJSON,
	} {
		_, err := DecodeEvent("s", "a", []byte(payload), testNow)
		require.Equal(t, reason, ReasonOf(err), "%s: %v", payload, err)
	}
}

func TestParseTopic(t *testing.T) {
	tests := []struct {
		topic       string
		site, asset string
		kind        Kind
	}{
		{"pdm/v1/s/a/telemetry", "s", "a", KindTelemetry},
		{"pdm/v1/s/a/event", "s", "a", KindEvent},
		{"pdm/v1/s/a/other", "s", "a", KindUnknown},
		{"pdm/v1/s/telemetry", "", "", KindUnknown},
		{"pdm/v2/s/a/telemetry", "", "", KindUnknown},
		{"pdm/v1", "", "", KindUnknown},
	}
	for _, tt := range tests {
		s, a, k := ParseTopic("pdm/v1", tt.topic)
		if k != tt.kind || (k != KindUnknown && (s != tt.site || a != tt.asset)) {
			t.Errorf("ParseTopic(%q) = %q, %q, %v; want %q, %q, %v", tt.topic, s, a, k, tt.site, tt.asset, tt.kind)
		}
	}
	require.Equal(t, []string{"$share/g/r/+/+/telemetry", "$share/g/r/+/+/event"}, Subscriptions("r", "g"))
}

func TestValid(t *testing.T) {
	require.True(t, ValidCode("aZ0_-"))
	require.False(t, ValidCode("a b"))
	require.True(t, ValidMetricName("a0_"))
	require.False(t, ValidMetricName("0a"))
	require.False(t, ValidMetricName("aB"))
	require.False(t, ValidMetricName(strings.Repeat("a", 65)))
}

// checkAccepted asserts what every accepted payload must satisfy.
func checkAccepted(t *testing.T, rs []Reading) {
	require.NotEmpty(t, rs)
	for _, r := range rs {
		require.NotEmpty(t, r.Metrics)
		require.False(t, r.TS.After(testNow.Add(MaxFutureSkew)))
		for _, m := range r.Metrics {
			require.True(t, ValidMetricName(m.Name), m.Name)
			require.False(t, math.IsNaN(m.Value) || math.IsInf(m.Value, 0))
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"ts":"2026-03-01T12:00:00Z","metrics":{"vibration_rms":2.31,"bearing_temp_c":71.2}}`,
		`{"gateway":"gw-7","seq":1042,"readings":[{"ts":1772366400000,"metrics":{"vibration_rms":2.4}}]}`,
		`{"ts":1,"metrics":{"a":1e999}}`, `{"x":[{"y":"\ud83d\ude00"}],"ts":1,"metrics":{"a":-0.5E-3}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		rs, err := DecodeJSON("s", "a", payload, testNow)
		if err != nil {
			require.NotEmpty(t, ReasonOf(err), "untyped error %v", err)
			return
		}
		require.True(t, json.Valid(payload), "accepted invalid JSON %q", payload)
		checkAccepted(t, rs)
		// What the encoder writes decodes to the same readings (ms precision).
		for i := range rs {
			rs[i].TS = rs[i].TS.Truncate(time.Millisecond)
		}
		again, err := DecodeJSON("s", "a", AppendJSON(nil, rs[0].Gateway, 1, rs), testNow)
		require.NoError(t, err)
		require.Equal(t, rs, again)
	})
}

func FuzzDecodeLineProtocol(f *testing.F) {
	for _, s := range []string{
		"pump,gateway=gw-1 vib=2.5,temp=70i,on=t 1772366400000000000\n",
		"m v=1\nm,t=a\\ b w=-1.5e2,s=\"x\\\"y\" 1\r\n# c\n",
		"m v=NaN", "m v=\"unterminated",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		rs, err := DecodeLineProtocol("s", "a", payload, testNow)
		if err != nil {
			require.NotEmpty(t, ReasonOf(err), "untyped error %v", err)
			return
		}
		checkAccepted(t, rs)
	})
}
