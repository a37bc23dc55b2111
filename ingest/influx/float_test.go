package influx

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/openpdm/pdm/ingest"
)

func TestAppendFloatExact(t *testing.T) {
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1.25, -1.25, 0.1, 0.2, 0.3, 23.4, 0.0312, -0.000001,
		0.0000001, 1e-7, 123456.789, 99999999999999.9, 1e15, 1e16, 1e21, -1e300, 5e-324, math.MaxFloat64,
		math.SmallestNonzeroFloat64, 1 << 53, 1<<53 + 2, 4503599627370495.5}
	x, y := 0.1, 3.0
	vals = append(vals, x+0.2, 1/y, 2/y)
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		switch r.IntN(4) {
		case 0: // a few decimals, as sensors send
			k := r.IntN(8)
			vals = append(vals, math.Round((r.Float64()-0.5)*2e6*math.Pow(10, float64(k)))/math.Pow(10, float64(k)))
		case 1:
			vals = append(vals, math.Float64frombits(r.Uint64()))
		case 2:
			vals = append(vals, (r.Float64()-0.5)*math.Pow(10, float64(r.IntN(40)-20)))
		default:
			vals = append(vals, float64(r.Int64N(1<<60)-1<<59))
		}
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		s := string(AppendFloat(nil, v))
		got, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(v) {
			t.Fatalf("AppendFloat(%v) = %q, parses to %v (%v)", v, s, got, err)
		}
	}
}

func TestAppendFloatText(t *testing.T) {
	a, b := 0.1, 0.2
	if got := string(AppendFloat(nil, a+b)); got != "0.30000000000000004" {
		t.Errorf("AppendFloat(0.1+0.2) = %q", got)
	}
	for v, want := range map[float64]string{1.25: "1.25", -0.5: "-0.5", 0.001: "0.001", 42: "42", -7: "-7",
		23.4: "23.4", 0.000001: "0.000001", 1e20: "1e+20"} {
		if got := string(AppendFloat(nil, v)); got != want {
			t.Errorf("AppendFloat(%v) = %q, want %q", v, got, want)
		}
	}
}

func BenchmarkAppendLine(b *testing.B) {
	r := ingest.Reading{Site: "s1", Asset: "a1", TS: time.Unix(1700000000, 123456789)}
	for m := range 10 {
		r.Metrics = append(r.Metrics, ingest.Metric{Name: "metric_" + strconv.Itoa(m), Value: 1.25 * float64(17*m+1)})
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLine(buf[:0], &r)
	}
}
