package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/postgres"
)

// Every replica's rules engine hears of a rule, site or asset change made
// through any other one.
func TestListenDetectChanges(t *testing.T) {
	store, _ := migratedStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []string
	seen := func(what string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for i, g := range got {
				if g == what {
					got = append(got[:i], got[i+1:]...)
					return true
				}
			}
			return false
		}
	}
	done := make(chan error, 1)
	go func() {
		done <- store.ListenDetectChanges(ctx, func(what string) {
			mu.Lock()
			got = append(got, what)
			mu.Unlock()
		})
	}()
	wait := func(what, why string) {
		t.Helper()
		require.Eventually(t, seen(what), 30*time.Second, 10*time.Millisecond, why)
	}
	wait(postgres.ChangedAll, "connected: changes may have been missed before")

	site, err := store.CreateSite(ctx, workorders.Site{Code: "chg", Name: "Changes"})
	require.NoError(t, err)
	wait(postgres.ChangedAssets, "a site created")
	_, err = store.CreateAsset(ctx, workorders.Asset{SiteID: site.ID, Code: "p1", Type: "pump", Name: "Pump 1", Criticality: 3})
	require.NoError(t, err)
	wait(postgres.ChangedAssets, "an asset created")
	crit := 7.1
	_, err = store.CreateRule(ctx, rules.Rule{Name: "wear", AssetType: "pump", Metric: "vibration_rms", Direction: rules.Above,
		Critical: &crit, FailureMode: "bearing_wear", Priority: "P2", Enabled: true})
	require.NoError(t, err)
	wait(postgres.ChangedRules, "a rule created")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("ListenDetectChanges did not return when its context ended")
	}
}
