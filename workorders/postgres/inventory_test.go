package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
	"github.com/openpdm/pdm/workorders/postgres"
)

// opsFixture is a migrated database with the ticket core, the ops store,
// the inventory and the dispatcher wired as cmd wires them.
type opsFixture struct {
	pool  *pgxpool.Pool
	store *postgres.Store
	ops   *postgres.Ops
	svc   *workorders.Service
	inv   *workorders.Inventory
	disp  *workorders.DispatchRunner
	site  workorders.Site
	asset workorders.Asset
	admin workorders.Actor
	mu    sync.Mutex
	now   time.Time
}

func newOpsFixture(t testing.TB) *opsFixture {
	t.Helper()
	store, pool := migratedStore(t)
	f := &opsFixture{pool: pool, store: store, ops: postgres.NewOps(pool), now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	clock := func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	f.svc = workorders.NewService(store, nil, clock)
	f.inv = workorders.NewInventory(f.svc, f.ops, nil, clock)
	var err error
	f.disp, err = workorders.NewDispatchRunner(f.svc, f.ops, f.inv, dispatch.DefaultConfig(), nil, clock)
	require.NoError(t, err)
	f.svc.AfterTransition = f.disp.AfterTransition
	ctx := context.Background()
	f.site, err = f.svc.CreateSite(ctx, workorders.Site{Code: "plant1", Name: "Plant 1", Location: &workorders.Location{Lat: 48.1, Lon: 11.5}})
	require.NoError(t, err)
	f.asset, err = f.svc.CreateAsset(ctx, workorders.Asset{SiteID: f.site.ID, Code: "pump-1", Type: "pump", Name: "Pump 1",
		Criticality: 3, Location: &workorders.Location{Lat: 48.1, Lon: 11.5}})
	require.NoError(t, err)
	u, _, err := f.svc.CreateUser(ctx, "admin", workorders.RoleAdmin)
	require.NoError(t, err)
	f.admin = workorders.ActorOf(u)
	return f
}

func (f *opsFixture) engineer(t testing.TB, name string, at workorders.Location, skills workorders.SkillLevels) workorders.Engineer {
	t.Helper()
	ctx := context.Background()
	u, _, err := f.svc.CreateUser(ctx, name, workorders.RoleEngineer)
	require.NoError(t, err)
	e := workorders.Engineer{Name: name, UserID: &u.ID, Skills: skills, Home: at, MaxOpenJobs: 3, Active: true}
	require.NoError(t, workorders.ValidateEngineer(&e))
	e, err = f.ops.CreateEngineer(ctx, e)
	require.NoError(t, err)
	require.NotNil(t, e.VanID, "every engineer gets a van")
	return e
}

func (f *opsFixture) order(t testing.TB, title string, parts []rules.PartQty, skills ...string) workorders.Order {
	t.Helper()
	due := f.now.Add(8 * time.Hour)
	o, err := f.svc.CreateOrder(context.Background(), f.admin, workorders.NewOrder{AssetID: f.asset.ID, Title: title,
		Priority: workorders.P2, Parts: parts, RequiredSkills: skills, DueAt: &due,
		EstimatedDuration: rules.Duration(time.Hour)})
	require.NoError(t, err)
	return o
}

func (f *opsFixture) warehouse(t testing.TB, code string, at *workorders.Location) workorders.StockLocation {
	t.Helper()
	l := workorders.StockLocation{Code: code, Name: code, Location: at}
	require.NoError(t, workorders.ValidateStockLocation(&l))
	l, err := f.ops.CreateStockLocation(context.Background(), l)
	require.NoError(t, err)
	return l
}

func (f *opsFixture) part(t testing.TB, sku string) workorders.Part {
	t.Helper()
	p := workorders.Part{SKU: sku, Name: sku}
	require.NoError(t, workorders.ValidatePart(&p))
	p, err := f.ops.CreatePart(context.Background(), p)
	require.NoError(t, err)
	return p
}

func (f *opsFixture) receive(t testing.TB, loc, sku string, qty int) {
	t.Helper()
	_, err := f.ops.ApplyStockChange(context.Background(), workorders.StockChange{Kind: workorders.MoveReceipt,
		LocationID: loc, SKU: sku, Qty: qty, Actor: "test"})
	require.NoError(t, err)
}

// checkLedger asserts that every stock row equals the sum of its ledger
// and that no invariant is broken.
func (f *opsFixture) checkLedger(t testing.TB) {
	t.Helper()
	var bad int
	err := f.pool.QueryRow(context.Background(), `select count(*) from stock s
		left join (select location_id, part_id, sum(on_hand_delta) oh, sum(reserved_delta) rs from stock_movements
			group by location_id, part_id) m using (location_id, part_id)
		where s.on_hand <> coalesce(m.oh, 0) or s.reserved <> coalesce(m.rs, 0)
		   or s.on_hand < 0 or s.reserved < 0 or s.reserved > s.on_hand`).Scan(&bad)
	require.NoError(t, err)
	require.Zero(t, bad, "stock rows that disagree with the ledger or break an invariant")
}

func (f *opsFixture) stock(t testing.TB, loc, sku string) (onHand, reserved int) {
	t.Helper()
	err := f.pool.QueryRow(context.Background(), `select s.on_hand, s.reserved from stock s join parts p on p.id = s.part_id
		where s.location_id = $1 and p.sku = $2`, loc, sku).Scan(&onHand, &reserved)
	require.NoError(t, err)
	return onHand, reserved
}

func TestStockInvariantsInDatabase(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	wh := f.warehouse(t, "W1", nil)
	f.part(t, "BRG")
	f.receive(t, wh.ID, "BRG", 3)

	// Taking more than is on hand fails and changes nothing.
	_, err := f.ops.ApplyStockChange(ctx, workorders.StockChange{Kind: workorders.MoveAdjust, LocationID: wh.ID, SKU: "BRG", Qty: -4})
	require.ErrorIs(t, err, workorders.ErrInsufficientStock)
	onHand, _ := f.stock(t, wh.ID, "BRG")
	require.Equal(t, 3, onHand)

	// Quantities change only through the ledger; the ledger is append-only.
	_, err = f.pool.Exec(ctx, `update stock set on_hand = 100`)
	require.ErrorContains(t, err, "only through stock_movements")
	_, err = f.pool.Exec(ctx, `update stock set reserved = 1`)
	require.ErrorContains(t, err, "only through stock_movements")
	_, err = f.pool.Exec(ctx, `delete from stock_movements`)
	require.ErrorContains(t, err, "append-only")
	_, err = f.pool.Exec(ctx, `update stock_movements set on_hand_delta = 50`)
	require.ErrorContains(t, err, "append-only")
	// Reserving more than on hand breaks reserved <= on_hand.
	_, err = f.pool.Exec(ctx, `insert into stock_movements (kind, location_id, part_id, on_hand_delta, reserved_delta)
		select 'reserve', $1, id, 0, 4 from parts where sku = 'BRG'`, wh.ID)
	require.ErrorContains(t, err, "stock_reserved_within_on_hand")

	// A transfer moves stock and is refused when the source lacks it.
	van := f.warehouse(t, "W2", nil)
	_, err = f.ops.ApplyStockChange(ctx, workorders.StockChange{Kind: "transfer", LocationID: wh.ID, ToLocationID: van.ID, SKU: "BRG", Qty: 2})
	require.NoError(t, err)
	_, err = f.ops.ApplyStockChange(ctx, workorders.StockChange{Kind: "transfer", LocationID: wh.ID, ToLocationID: van.ID, SKU: "BRG", Qty: 2})
	require.ErrorIs(t, err, workorders.ErrInsufficientStock)
	a, _ := f.stock(t, wh.ID, "BRG")
	b, _ := f.stock(t, van.ID, "BRG")
	require.Equal(t, []int{1, 2}, []int{a, b})
	f.checkLedger(t)

	// Bad input is refused before it reaches the ledger.
	require.Error(t, workorders.ValidateStockChange(workorders.StockChange{Kind: "steal", LocationID: wh.ID, SKU: "BRG", Qty: 1}))
	_, err = f.ops.ApplyStockChange(ctx, workorders.StockChange{Kind: workorders.MoveReceipt, LocationID: wh.ID, SKU: "NOPE", Qty: 1})
	var ve *workorders.ValidationError
	require.ErrorAs(t, err, &ve)
}

// TestRaceForLastUnits races 50 goroutines for 10 units: half take units
// out directly, half reserve them for orders. Stock never goes negative,
// the winners together got exactly what there was, and the ledger always
// sums to the stock.
func TestRaceForLastUnits(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	wh := f.warehouse(t, "W1", &workorders.Location{Lat: 48.1, Lon: 11.5})
	f.part(t, "BRG")
	f.receive(t, wh.ID, "BRG", 10)
	orders := make([]workorders.Order, 25)
	for i := range orders {
		orders[i] = f.order(t, fmt.Sprintf("job %d", i), []rules.PartQty{{SKU: "BRG", Qty: 1}})
	}
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		taken, reserved  int
		waiting, refused int
		other            []error
	)
	start := make(chan struct{})
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if g%2 == 0 {
				_, err := f.ops.ApplyStockChange(ctx, workorders.StockChange{Kind: workorders.MoveAdjust, LocationID: wh.ID,
					SKU: "BRG", Qty: -1, Actor: "race"})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					taken++
				case errors.Is(err, workorders.ErrInsufficientStock):
					refused++
				default:
					other = append(other, err)
				}
				return
			}
			o := orders[g/2]
			st, err := f.ops.ReserveOrderParts(ctx, workorders.ReserveRequest{OrderID: o.ID, Parts: o.Parts,
				At: &dispatch.Point{Lat: 48.1, Lon: 11.5}, ResumeStatus: "assigned", Actor: "race"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				other = append(other, err)
			case st.State == workorders.PartsReserved:
				reserved++
			case st.State == workorders.PartsWaiting:
				waiting++
			}
		}()
	}
	// Watch the stock while the race runs: never negative, never over.
	stop := make(chan struct{})
	watched := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				watched <- nil
				return
			default:
			}
			var oh, rs int
			if err := f.pool.QueryRow(ctx, `select on_hand, reserved from stock where location_id = $1`, wh.ID).Scan(&oh, &rs); err != nil {
				watched <- err
				return
			}
			if oh < 0 || rs < 0 || rs > oh {
				watched <- fmt.Errorf("observed on_hand %d reserved %d", oh, rs)
				return
			}
		}
	}()
	close(start)
	wg.Wait()
	close(stop)
	require.NoError(t, <-watched)
	require.Empty(t, other)
	require.Equal(t, 10, taken+reserved, "taken %d + reserved %d must be exactly the 10 units", taken, reserved)
	require.Equal(t, 25, reserved+waiting)
	require.Equal(t, 25, taken+refused)
	onHand, res := f.stock(t, wh.ID, "BRG")
	require.Equal(t, 10-taken, onHand)
	require.Equal(t, reserved, res)
	f.checkLedger(t)

	// One open purchase request for the part at the warehouse, however
	// many orders wait, and it covers them.
	prs, _, err := f.ops.ListPurchaseRequests(ctx, workorders.PurchaseFilter{Status: workorders.PROpen})
	require.NoError(t, err)
	require.Len(t, prs, 1)
	require.GreaterOrEqual(t, prs[0].Qty, waiting)
}
