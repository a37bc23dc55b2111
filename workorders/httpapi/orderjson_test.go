package httpapi

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

// randomValue fills v (settable) with random content, field by field, so
// that a field added to workorders.Order and missing from appendOrder
// makes the comparison fail.
func randomValue(r *rand.Rand, v reflect.Value) {
	strs := []string{"", "a", "WO-000001", "<b>&amp;</b>", "quote\" back\\slash", "tab\tnl\nret\r\b\f", "\x00\x01\x1f",
		"café ✓ 設備", "line\u2028sep\u2029", "bad\xffutf8\xc3", "emoji 🚒", "123e4567-e89b-12d3-a456-426614174000"}
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		t := time.Date(1990+r.IntN(60), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), 0, time.UTC)
		switch r.IntN(3) {
		case 0:
			t = t.Add(time.Duration(r.IntN(1e9)))
		case 1:
			t = t.Add(time.Duration(r.IntN(1e6)) * time.Microsecond)
		}
		if r.IntN(4) == 0 {
			t = t.In(time.FixedZone("x", 3600*(r.IntN(25)-12)))
		}
		v.Set(reflect.ValueOf(t))
		return
	case reflect.TypeFor[json.RawMessage]():
		raws := []string{"", `{}`, `{"kind": "threshold", "limit": 7.1, "values": [7.2, 7.4]}`, `[1, 2, {"a": null}]`,
			`{"note": "<script>&\u2028", "x": "a \"quoted\" \\ value"}`, "{\"raw\": \"\u2028\u2029 \xe2\x80\xa8\"}", ` "s" `, `true`, "{\n\t\"a\" :\r 1 }"}
		// Empty is nil: encoding/json fails on an empty non-nil RawMessage
		// (the database never gives one; appendRaw writes null).
		if raw := raws[r.IntN(len(raws))]; raw != "" {
			v.SetBytes([]byte(raw))
		}
		return
	case reflect.TypeFor[rules.Duration]():
		ds := []time.Duration{0, time.Second, 90 * time.Second, time.Hour, 36 * time.Hour, 48 * time.Hour, 1500 * time.Millisecond}
		v.SetInt(int64(ds[r.IntN(len(ds))]))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(strs[r.IntN(len(strs))])
	case reflect.Int, reflect.Int64:
		v.SetInt(r.Int64N(1<<40) - 1<<39)
	case reflect.Pointer:
		if r.IntN(3) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		randomValue(r, p.Elem())
		v.Set(p)
	case reflect.Slice:
		if r.IntN(4) == 0 {
			v.SetZero()
			return
		}
		n := r.IntN(4)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			randomValue(r, s.Index(i))
		}
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			randomValue(r, v.Field(i))
		}
	default:
		panic("randomValue: no generator for " + v.Type().String())
	}
}

func TestAppendOrderMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		var o workorders.Order
		randomValue(r, reflect.ValueOf(&o).Elem())
		items := []workorders.Order{o}
		if i%10 == 0 {
			items = nil
		}
		next := []string{"", "MjAyNi0xMS0yOVQ=", "<&>"}[i%3]
		want, err := json.Marshal(list(items, next))
		require.NoError(t, err)
		got := appendOrderList(nil, list(items, next).Items, next)
		require.Equal(t, string(want), string(got), "order %d: %#v", i, o)
		require.True(t, json.Valid(got))
	}
}

func TestAppendRawInvalidStaysValidJSON(t *testing.T) {
	got := appendRaw(nil, json.RawMessage(`{"a": `))
	require.True(t, json.Valid(got), "%s", got)
}

func BenchmarkOrderListJSON(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	items := make([]workorders.Order, 50)
	for i := range items {
		o := &items[i]
		id := "123e4567-e89b-12d3-a456-426614174000"
		due := time.Now().UTC()
		*o = workorders.Order{ID: id, Number: "WO-000123", AssetID: id, SiteID: id, Title: "Seeded order", Source: "trend",
			FailureMode: "mode_1", Priority: "P2", Status: "assigned", CreatedAt: due, UpdatedAt: due, DueAt: &due, AssigneeID: &id,
			RequiredSkills: []string{}, Parts: []rules.PartQty{}, Evidence: json.RawMessage(`{"kind": "threshold", "limit": 7.1, "values": [7.2, 7.4]}`),
			SLAState: "ok", HelperIDs: []string{}}
		_ = r
	}
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(list(items, "x")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = appendOrderList(buf[:0], items, "x")
		}
	})
}
