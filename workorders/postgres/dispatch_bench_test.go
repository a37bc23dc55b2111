package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

// BenchmarkDispatchRun200x50 measures a whole dispatch run on the real
// database: read 200 approved orders and 50 engineers, solve, assign each
// order through the life cycle (one transaction and event each) and
// reserve its parts (van first, then the nearest of 3 warehouses).
func BenchmarkDispatchRun200x50(b *testing.B) {
	f := newOpsFixture(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 3 {
		wh := f.warehouse(b, fmt.Sprintf("W%d", i), &workorders.Location{Lat: 48 + rng.Float64(), Lon: 11 + rng.Float64()})
		for _, sku := range []string{"BRG", "SEAL"} {
			if i == 0 {
				if _, err := f.ops.CreatePart(ctx, workorders.Part{SKU: sku, Name: sku, Unit: "pcs"}); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := f.ops.ApplyStockChange(ctx, workorders.StockChange{Kind: workorders.MoveReceipt, LocationID: wh.ID,
				SKU: sku, Qty: 100000}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := range 50 {
		u, _, err := f.svc.CreateUser(ctx, fmt.Sprintf("eng%d", i), workorders.RoleEngineer)
		if err != nil {
			b.Fatal(err)
		}
		e := workorders.Engineer{Name: u.Name, UserID: &u.ID, Skills: workorders.SkillLevels{"vibration": 1 + rng.IntN(3)},
			Home: workorders.Location{Lat: 48 + rng.Float64(), Lon: 11 + rng.Float64()}, MaxOpenJobs: 1000, Active: true}
		if err := workorders.ValidateEngineer(&e); err != nil {
			b.Fatal(err)
		}
		if _, err := f.ops.CreateEngineer(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	f.svc.AfterTransition = nil // orders are created without kicks; the run reserves through the hook below
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for i := range 200 {
			due := f.now.Add(time.Duration(1+rng.IntN(48)) * time.Hour)
			if _, err := f.svc.CreateOrder(ctx, f.admin, workorders.NewOrder{AssetID: f.asset.ID, Title: fmt.Sprint("job ", i),
				Priority: workorders.PriorityOfRank(1 + rng.IntN(4)), DueAt: &due, RequiredSkills: []string{fmt.Sprintf("vibration:%d", 1+rng.IntN(2))},
				Parts: []rules.PartQty{{SKU: "BRG", Qty: 1}, {SKU: "SEAL", Qty: 1}}, EstimatedDuration: rules.Duration(time.Hour)}); err != nil {
				b.Fatal(err)
			}
		}
		f.svc.AfterTransition = f.disp.AfterTransition
		b.StartTimer()
		run, ran, err := f.disp.Run(ctx, "bench")
		if err != nil || !ran || run.Assigned != 200 {
			b.Fatalf("run: ran %v, err %v, assigned %d of %d", ran, err, run.Assigned, run.Orders)
		}
		b.StopTimer()
		f.svc.AfterTransition = nil
		b.StartTimer()
	}
}
