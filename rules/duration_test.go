package rules

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDurationRoundTrip(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"30s", 30 * time.Second, "30s"},
		{"5m", 5 * time.Minute, "5m"},
		{"12h", 12 * time.Hour, "12h"},
		{"7d", 7 * 24 * time.Hour, "7d"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"90s", 90 * time.Second, "1m30s"},
		{"36h", 36 * time.Hour, "36h"},
		{"1.5d", 36 * time.Hour, "36h"},
		{"250ms", 250 * time.Millisecond, "250ms"},
		{"0s", 0, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDuration(tt.in)
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if d.D() != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, want %v", tt.in, d.D(), tt.want)
			}
			if got := d.String(); got != tt.out {
				t.Errorf("String() = %q, want %q", got, tt.out)
			}
			b, _ := json.Marshal(d)
			var back Duration
			if err := json.Unmarshal(b, &back); err != nil || back != d {
				t.Errorf("JSON round trip of %s: got %v, %v", b, back, err)
			}
		})
	}
	for _, bad := range []string{"", "x", "-5m", "5", "7dd", "-1d", "1e9d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q): got nil error, want one", bad)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"soon"`), &d); err == nil {
		t.Error(`unmarshal "soon": got nil error`)
	}
	if err := json.Unmarshal([]byte(`120`), &d); err != nil || d.D() != 2*time.Minute {
		t.Errorf("unmarshal 120 (seconds): got %v, %v", d.D(), err)
	}
}
