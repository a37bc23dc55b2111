package predict

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/rules"
)

// TestVerifierUsesTheRulesWindow: a rule's verify_for replaces the default
// post-repair window, shorter or longer.
func TestVerifierUsesTheRulesWindow(t *testing.T) {
	done := seriesStart.Add(10 * 24 * time.Hour)
	var hist []ingest.Reading
	for ts := done; ts.Before(done.Add(30 * time.Hour)); ts = ts.Add(15 * time.Minute) {
		hist = append(hist, ingest.Reading{Site: "s1", Asset: "p1", TS: ts, Metrics: []ingest.Metric{{Name: "vibration_rms", Value: 2.2}}})
	}
	h := &memHistory{data: map[string][]ingest.Reading{"s1/p1": hist}}
	for _, tt := range []struct {
		name      string
		verifyFor time.Duration
		at        time.Duration // after completion
		want      int
	}{
		{"default 24h, 18h healthy", 0, 18 * time.Hour, 0},
		{"default 24h, 29h healthy", 0, 29*time.Hour + 50*time.Minute, 1},
		{"rule 12h, 18h healthy", 12 * time.Hour, 18 * time.Hour, 1},
		{"rule 48h, 29h healthy", 48 * time.Hour, 29*time.Hour + 50*time.Minute, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := vibRule()
			r.VerifyFor = rules.Duration(tt.verifyFor)
			v := &Verifier{
				Orders:  completed{{ID: "o1", AssetID: "a1", RuleID: r.ID, CompletedAt: done}},
				Rules:   ruleList{r},
				Assets:  pumpDir(),
				History: h,
				Verify:  func(context.Context, string, map[string]any) error { return nil },
				Now:     func() time.Time { return done.Add(tt.at) },
			}
			n, err := v.RunCount(context.Background())
			require.NoError(t, err)
			require.Equal(t, tt.want, n, "got %d verified, want %d", n, tt.want)
		})
	}
}
