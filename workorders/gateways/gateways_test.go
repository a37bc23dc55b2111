package gateways

import (
	"encoding/json"
	"testing"
)

func TestFieldOf(t *testing.T) {
	for _, tt := range []struct{ msg, field string }{
		{`sources.modbus[0]: url "http://plc": want tcp://host:port`, "sources.modbus[0].url"},
		{`sources.modbus[0].registers[1]: type "x": want int16`, "sources.modbus[0].registers[1].type"},
		{`rules.alarms[0]: want exactly one of above and below`, "rules.alarms[0]"},
		{`sources.modbus[0]: no registers`, "sources.modbus[0]"},
		{`queue.drain "x": want fifo or live_first`, "queue.drain"},
		{`uplink.url is required`, "body"},
	} {
		t.Run(tt.msg, func(t *testing.T) {
			if got, _ := fieldOf(tt.msg); got != tt.field {
				t.Fatalf("got %q, want %q", got, tt.field)
			}
		})
	}
}

func TestAssetsOf(t *testing.T) {
	raw := json.RawMessage(`{"sources":{"modbus":[{"name":"a","url":"tcp://x:502","registers":[
		{"address":1,"type":"int16","metric":"m","asset":"P-1"},{"address":2,"type":"int16","metric":"n","asset":"P-1"}]}],
		"mqtt":[{"name":"b","url":"tcp://y","topics":[{"topic":"t/#","asset":"P-2"}]}]}}`)
	got := AssetsOf(raw)
	if len(got) != 2 || got[0] != "P-1" || got[1] != "P-2" {
		t.Fatalf("got %v, want [P-1 P-2]", got)
	}
	if AssetsOf(nil) != nil || AssetsOf(json.RawMessage(`{"x":1}`)) != nil {
		t.Fatal("want no assets from an empty or foreign config")
	}
}

func TestParseStatusTopic(t *testing.T) {
	s := &Service{TopicRoot: "pdm/v1"}
	for _, tt := range []struct {
		topic      string
		site, code string
		ok         bool
	}{
		{"pdm/v1/S1/gateways/gw-1/status", "S1", "gw-1", true},
		{"pdm/v1/S1/gateways/gw-1/config", "", "", false},
		{"other/S1/gateways/gw-1/status", "", "", false},
		{"pdm/v1/S 1/gateways/gw-1/status", "", "", false},
	} {
		site, code, ok := s.parseStatusTopic(tt.topic)
		if site != tt.site || code != tt.code || ok != tt.ok {
			t.Fatalf("%s: got %q %q %v, want %q %q %v", tt.topic, site, code, ok, tt.site, tt.code, tt.ok)
		}
	}
}
