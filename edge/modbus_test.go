package edge

import (
	"math"
	"testing"
	"time"

	"github.com/openpdm/pdm/ingest"
	"github.com/simonvetter/modbus"
	"github.com/stretchr/testify/require"
)

func ptr(f float64) *float64 { return &f }

func TestDecodeRegisters(t *testing.T) {
	f := math.Float32bits(3.25)
	tests := []struct {
		name  string
		reg   ModbusRegister
		words []uint16
		want  float64
	}{
		{"int16 negative", ModbusRegister{Type: TypeInt16}, []uint16{0xFFFE}, -2},
		{"uint16", ModbusRegister{Type: TypeUint16}, []uint16{0xFFFE}, 65534},
		{"int16 scaled", ModbusRegister{Type: TypeInt16, Scale: ptr(0.1), Offset: -40}, []uint16{650}, 25},
		{"int32 high first", ModbusRegister{Type: TypeInt32, WordOrder: HighWordFirst}, []uint16{0xFFFF, 0xFFFF}, -1},
		{"uint32 high first", ModbusRegister{Type: TypeUint32, WordOrder: HighWordFirst}, []uint16{0x0001, 0x0002}, 65538},
		{"uint32 low first", ModbusRegister{Type: TypeUint32, WordOrder: LowWordFirst}, []uint16{0x0002, 0x0001}, 65538},
		{"float32 high first", ModbusRegister{Type: TypeFloat32, WordOrder: HighWordFirst}, []uint16{uint16(f >> 16), uint16(f)}, 3.25},
		{"float32 low first", ModbusRegister{Type: TypeFloat32, WordOrder: LowWordFirst}, []uint16{uint16(f), uint16(f >> 16)}, 3.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decode(tt.reg, tt.words)
			require.InDelta(t, tt.want, got, 1e-9)
			back := encode(tt.reg, got)
			require.Equal(t, tt.words, back, "Encode inverts Decode")
		})
	}
}

// fakeRegs serves ReadRegisters from a map and records the requests;
// addresses in bad are refused with an illegal data address exception.
type fakeRegs struct {
	words map[uint16]uint16
	bad   map[uint16]bool
	reqs  [][2]uint16
}

func (f *fakeRegs) ReadRegisters(addr, n uint16, _ modbus.RegType) ([]uint16, error) {
	f.reqs = append(f.reqs, [2]uint16{addr, n})
	for a := addr; a < addr+n; a++ {
		if f.bad[a] {
			return nil, modbus.ErrIllegalDataAddress
		}
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = f.words[addr+uint16(i)]
	}
	return out, nil
}

func TestReadRegistersCoalesces(t *testing.T) {
	f := &fakeRegs{words: map[uint16]uint16{0: 1, 1: 2, 124: 7, 200: 9, 201: 10}}
	regs := []ModbusRegister{
		{Address: 200, Type: TypeUint32, Kind: KindHolding},
		{Address: 0, Type: TypeUint16, Kind: KindHolding},
		{Address: 1, Type: TypeUint16, Kind: KindHolding},
		{Address: 124, Type: TypeUint16, Kind: KindHolding},
	}
	got, skipped, err := readRegisters(f, regs)
	require.NoError(t, err)
	require.NoError(t, skipped)
	require.Equal(t, []float64{9<<16 | 10, 1, 2, 7}, got)
	require.Equal(t, [][2]uint16{{0, 125}, {200, 2}}, f.reqs, "one request per 125-register span")

	// A refused address costs only its own register.
	f.bad = map[uint16]bool{1: true}
	f.reqs = nil
	got, skipped, err = readRegisters(f, regs)
	require.NoError(t, err)
	require.ErrorIs(t, skipped, modbus.ErrIllegalDataAddress)
	require.Equal(t, float64(9<<16|10), got[0])
	require.Equal(t, 1.0, got[1])
	require.True(t, math.IsNaN(got[2]))
	require.Equal(t, 7.0, got[3])

	// A transport failure fails the poll.
	f.bad = nil
	_, _, err = readRegisters(errRegs{}, regs)
	require.Error(t, err)
}

type errRegs struct{}

func (errRegs) ReadRegisters(uint16, uint16, modbus.RegType) ([]uint16, error) {
	return nil, modbus.ErrRequestTimedOut
}

func TestDecodeDeviceJSON(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		want    []ingest.Reading
		wantErr string
	}{
		{"contract single", `{"ts":"2026-03-01T11:00:00Z","metrics":{"vib":2.5,"temp":70}}`,
			[]ingest.Reading{{Asset: "a", TS: now.Add(-time.Hour), Metrics: []ingest.Metric{m("temp", 70), m("vib", 2.5)}}}, ""},
		{"flat with ms", `{"ts":1772366400000,"temp":21.5,"label":"x"}`,
			[]ingest.Reading{{Asset: "a", TS: now, Metrics: []ingest.Metric{m("temp", 21.5)}}}, ""},
		{"flat no ts", `{"temp":1}`, []ingest.Reading{{Asset: "a", TS: now, Metrics: []ingest.Metric{m("temp", 1)}}}, ""},
		{"batch", `{"readings":[{"ts":1772366400000,"metrics":{"v":1}},{"ts":1772366401000,"metrics":{"v":2}}]}`,
			[]ingest.Reading{{Asset: "a", TS: now, Metrics: []ingest.Metric{m("v", 1)}}, {Asset: "a", TS: now.Add(time.Second), Metrics: []ingest.Metric{m("v", 2)}}}, ""},
		{"bad json", `{"temp":`, nil, "json"},
		{"bad name", `{"metrics":{"Temp":1}}`, nil, "metric name"},
		{"not number", `{"metrics":{"temp":"hot"}}`, nil, "not a number"},
		{"future", `{"ts":"2026-03-01T13:00:00Z","temp":1}`, nil, "future"},
		{"no metrics", `{"label":"x"}`, nil, "no metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeDeviceJSON([]byte(tt.in), "a", now)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestTopicMatches(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a/b/c", true},
		{"a/#", "a", true},
		{"+/b", "x/b", true},
		{"a/b/c", "a/b", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, topicMatches(tt.filter, tt.topic), "%s vs %s", tt.filter, tt.topic)
	}
}

// encode is Decode's inverse: the words that make a register of r's type,
// word order, scale and offset read as v (rounded, clamped to the type's range).
func encode(r ModbusRegister, v float64) []uint16 {
	scale := 1.0
	if r.Scale != nil {
		scale = *r.Scale
	}
	raw := (v - r.Offset) / scale
	var u uint32
	switch r.Type {
	case TypeInt16:
		return []uint16{uint16(int16(clamp(math.Round(raw), math.MinInt16, math.MaxInt16)))}
	case TypeUint16:
		return []uint16{uint16(clamp(math.Round(raw), 0, math.MaxUint16))}
	case TypeInt32:
		u = uint32(int32(clamp(math.Round(raw), math.MinInt32, math.MaxInt32)))
	case TypeUint32:
		u = uint32(clamp(math.Round(raw), 0, math.MaxUint32))
	case TypeFloat32:
		u = math.Float32bits(float32(raw))
	}
	hi, lo := uint16(u>>16), uint16(u)
	if r.WordOrder == LowWordFirst {
		return []uint16{lo, hi}
	}
	return []uint16{hi, lo}
}

func clamp(x, lo, hi float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return math.Max(lo, math.Min(hi, x))
}
