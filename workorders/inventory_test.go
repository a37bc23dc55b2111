package workorders

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders/dispatch"
)

func pt(lat, lon float64) *dispatch.Point { return &dispatch.Point{Lat: lat, Lon: lon} }

func TestAllocateParts(t *testing.T) {
	job := pt(48.0, 11.0)
	near := StockPlace{ID: "near", Kind: LocationWarehouse, Position: pt(48.05, 11.0), Available: map[string]int{"BRG": 3, "SEAL": 1}}
	far := StockPlace{ID: "far", Kind: LocationWarehouse, Position: pt(49.0, 11.0), Available: map[string]int{"BRG": 10, "SEAL": 10}}
	nowhere := StockPlace{ID: "a-nowhere", Kind: LocationWarehouse, Available: map[string]int{"BRG": 10}}
	van := &StockPlace{ID: "van", Kind: LocationVan, Available: map[string]int{"BRG": 1}}
	tests := []struct {
		name  string
		parts []rules.PartQty
		van   *StockPlace
		wh    []StockPlace
		want  []Allocation
		short []Shortage
	}{
		{"van first, then nearest", []rules.PartQty{{SKU: "BRG", Qty: 2}}, van, []StockPlace{far, near},
			[]Allocation{{"BRG", "van", 1}, {"BRG", "near", 1}}, nil},
		{"split over warehouses by distance", []rules.PartQty{{SKU: "BRG", Qty: 5}, {SKU: "SEAL", Qty: 2}}, nil, []StockPlace{far, near},
			[]Allocation{{"BRG", "near", 3}, {"BRG", "far", 2}, {"SEAL", "near", 1}, {"SEAL", "far", 1}}, nil},
		{"repeated SKUs merged", []rules.PartQty{{SKU: "BRG", Qty: 1}, {SKU: "BRG", Qty: 1}}, van, []StockPlace{near},
			[]Allocation{{"BRG", "van", 1}, {"BRG", "near", 1}}, nil},
		{"short", []rules.PartQty{{SKU: "BRG", Qty: 30}, {SKU: "GEAR", Qty: 1}}, van, []StockPlace{near, far},
			[]Allocation{{"BRG", "van", 1}, {"BRG", "near", 3}, {"BRG", "far", 10}}, []Shortage{{"BRG", 16}, {"GEAR", 1}}},
		{"unplaced warehouses last", []rules.PartQty{{SKU: "BRG", Qty: 14}}, nil, []StockPlace{nowhere, far},
			[]Allocation{{"BRG", "far", 10}, {"BRG", "a-nowhere", 4}}, nil},
		{"nothing needed", nil, van, []StockPlace{near}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, short := AllocateParts(tt.parts, tt.van, tt.wh, job)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.short, short)
		})
	}
}

func TestReorder(t *testing.T) {
	tests := []struct {
		name   string
		s      StockLevel
		demand float64
		want   int
	}{
		{"above reorder point", StockLevel{OnHand: 10, ReorderPoint: 5, ReorderQty: 20}, 0, 0},
		{"at reorder point", StockLevel{OnHand: 5, ReorderPoint: 5, ReorderQty: 20}, 0, 0},
		{"below", StockLevel{OnHand: 4, ReorderPoint: 5, ReorderQty: 20}, 0, 20},
		{"reserved counts", StockLevel{OnHand: 10, Reserved: 6, ReorderPoint: 5, ReorderQty: 20}, 0, 20},
		{"predicted demand pushes below", StockLevel{OnHand: 10, ReorderPoint: 5, ReorderQty: 2}, 7, 2},
		{"large demand orders enough", StockLevel{OnHand: 10, ReorderPoint: 5, ReorderQty: 2}, 30, 25},
		{"fractional demand rounds up", StockLevel{OnHand: 6, ReorderPoint: 5, ReorderQty: 3}, 1.2, 3},
		{"no reorder settings, demand only", StockLevel{OnHand: 1}, 3, 2},
		{"nothing", StockLevel{}, 0, 0},
		{"NaN demand ignored", StockLevel{OnHand: 10, ReorderPoint: 5}, nanf(), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Reorder(tt.s, tt.demand); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func nanf() float64 { z := 0.0; return z / z }

func TestPartsDemand(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	north := StockPlace{ID: "north", Position: pt(49, 11)}
	south := StockPlace{ID: "south", Position: pt(47, 11)}
	src := []DemandSource{
		{OrderID: "a", Position: pt(48.9, 11), Parts: []rules.PartQty{{SKU: "BRG", Qty: 2}}, ExpectedAt: now.Add(3 * 24 * time.Hour)},
		{OrderID: "b", Position: pt(48.8, 11), Parts: []rules.PartQty{{SKU: "BRG", Qty: 1}, {SKU: "SEAL", Qty: 1}}, ExpectedAt: now.Add(10 * 24 * time.Hour)},
		{OrderID: "c", Position: pt(47.1, 11), Parts: []rules.PartQty{{SKU: "BRG", Qty: 4}}, ExpectedAt: now.Add(-time.Hour)},          // overdue: week 0
		{OrderID: "d", Position: pt(47.1, 11), Parts: []rules.PartQty{{SKU: "BRG", Qty: 9}}, ExpectedAt: now.Add(40 * 24 * time.Hour)}, // beyond horizon
	}
	got := PartsDemand(src, []StockPlace{south, north}, now, 28*24*time.Hour)
	require.Equal(t, []Demand{
		{LocationID: "north", SKU: "BRG", Qty: 3, ByWeek: []float64{2, 1, 0, 0}, Orders: []string{"a", "b"}},
		{LocationID: "north", SKU: "SEAL", Qty: 1, ByWeek: []float64{0, 1, 0, 0}, Orders: []string{"b"}},
		{LocationID: "south", SKU: "BRG", Qty: 4, ByWeek: []float64{4, 0, 0, 0}, Orders: []string{"c"}},
	}, got)
	require.Nil(t, PartsDemand(src, nil, now, time.Hour))
}
