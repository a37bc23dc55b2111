package modbus

import (
	"math"
	"testing"
	"time"

	"github.com/openpdm/pdm/simulators"
	"github.com/simonvetter/modbus"
	"github.com/stretchr/testify/require"
)

func pumpModel(t *testing.T, code string) *simulators.Model {
	t.Helper()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	m, err := simulators.NewModel(7, simulators.AssetSpec{
		Code: code, Type: simulators.BuiltinTypes()["pump"], Start: start,
		Profile: simulators.Profile{
			Name: "wear", Degradation: simulators.Linear, Metric: "vibration_rms", FailureMode: "bearing_wear",
			Onset: start, FailAt: start.Add(48 * time.Hour), FailValue: 9,
		},
	})
	require.NoError(t, err)
	return m
}

func TestDeviceServesModelValues(t *testing.T) {
	at := time.Date(2026, 3, 2, 6, 30, 0, 0, time.UTC)
	p1, p2 := pumpModel(t, "pump-1"), pumpModel(t, "pump-2")
	regs := Layout([]*simulators.Model{p1, p2}, 100)
	regs = append(regs,
		Register{Address: 300, Type: TypeInt16, Scale: 0.1, Offset: -40, Asset: "pump-1", Metric: "bearing_temp_c"},
		Register{Address: 301, Type: TypeUint32, WordOrder: LowWordFirst, Asset: "pump-2", Metric: "running_hours"},
	)
	d, err := Start(Config{Addr: "127.0.0.1:0", UnitID: 5, Models: []*simulators.Model{p1, p2}, Registers: regs,
		Now: func() time.Time { return at }})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })

	c, err := modbus.NewClient(&modbus.ClientConfiguration{URL: d.URL(), Timeout: 2 * time.Second})
	require.NoError(t, err)
	require.NoError(t, c.Open())
	defer c.Close()
	require.NoError(t, c.SetUnitId(5))

	// float32 registers, high word first: the library's default decoding.
	vib, err := c.ReadFloat32(0, modbus.HOLDING_REGISTER)
	require.NoError(t, err)
	want, ok := p1.Value("vibration_rms", at)
	require.True(t, ok)
	require.InDelta(t, want, float64(vib), 1e-5*math.Abs(want))
	vib2, err := c.ReadFloat32(100, modbus.INPUT_REGISTER)
	require.NoError(t, err)
	want2, _ := p2.Value("vibration_rms", at)
	require.InDelta(t, want2, float64(vib2), 1e-5*math.Abs(want2))

	// Scaled int16.
	raw, err := c.ReadRegister(300, modbus.HOLDING_REGISTER)
	require.NoError(t, err)
	temp, _ := p1.Value("bearing_temp_c", at)
	require.InDelta(t, temp, float64(int16(raw))*0.1-40, 0.051)

	// uint32 low word first.
	words, err := c.ReadRegisters(301, 2, modbus.HOLDING_REGISTER)
	require.NoError(t, err)
	hours, _ := p2.Value("running_hours", at)
	require.Equal(t, math.Round(hours), float64(uint32(words[1])<<16|uint32(words[0])))

	// A gap reads as zeros; beyond the map is an illegal address.
	gap, err := c.ReadRegisters(90, 5, modbus.HOLDING_REGISTER)
	require.NoError(t, err)
	require.Equal(t, []uint16{0, 0, 0, 0, 0}, gap)
	_, err = c.ReadRegisters(303, 1, modbus.HOLDING_REGISTER)
	require.ErrorIs(t, err, modbus.ErrIllegalDataAddress)
	require.ErrorIs(t, c.WriteRegister(0, 1), modbus.ErrIllegalFunction)

	// Another unit id gets no answer.
	require.NoError(t, c.SetUnitId(6))
	_, err = c.ReadRegister(0, modbus.HOLDING_REGISTER)
	require.Error(t, err)

	// Stop takes the device off the network, Resume brings it back.
	require.NoError(t, d.Stop())
	require.NoError(t, c.SetUnitId(5))
	_, err = c.ReadRegister(0, modbus.HOLDING_REGISTER)
	require.Error(t, err)
	require.NoError(t, d.Resume())
	c.Close()
	require.NoError(t, c.Open())
	_, err = c.ReadRegister(0, modbus.HOLDING_REGISTER)
	require.NoError(t, err)
}

func TestStartRejectsBadMap(t *testing.T) {
	p1 := pumpModel(t, "pump-1")
	_, err := Start(Config{Addr: "127.0.0.1:0", Models: []*simulators.Model{p1}, Registers: []Register{
		{Address: 0, Type: TypeFloat32, Asset: "pump-9", Metric: "vibration_rms"},
		{Address: 2, Type: TypeFloat32, Asset: "pump-1", Metric: "airflow"},
		{Address: 4, Type: "float64", Asset: "pump-1", Metric: "vibration_rms"},
	}})
	require.ErrorContains(t, err, "pump-9")
	require.ErrorContains(t, err, "airflow")
	require.ErrorContains(t, err, "float64")
}

func TestEncodeRoundTrip(t *testing.T) {
	tests := []struct {
		reg  Register
		v    float64
		want []uint16
	}{
		{Register{Type: TypeInt16}, -2, []uint16{0xFFFE}},
		{Register{Type: TypeUint16}, 70000, []uint16{0xFFFF}}, // clamped
		{Register{Type: TypeInt32}, -1, []uint16{0xFFFF, 0xFFFF}},
		{Register{Type: TypeUint32, WordOrder: LowWordFirst}, 65538, []uint16{2, 1}},
		{Register{Type: TypeInt16, Scale: 0.1, Offset: -40}, 25, []uint16{650}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.reg.Encode(tt.v), "%+v %v", tt.reg, tt.v)
	}
}
