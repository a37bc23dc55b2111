// Package modbus is the Modbus TCP face of simulated devices: it serves the
// values of simulators.Model degradation models as holding and input
// registers, so the edge agent is tested against a real protocol peer.
package modbus

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/simulators"
	"github.com/simonvetter/modbus"
)

// Register types (the same names the edge agent's register map uses).
const (
	TypeInt16   = "int16"
	TypeUint16  = "uint16"
	TypeInt32   = "int32"
	TypeUint32  = "uint32"
	TypeFloat32 = "float32"
)

// Word orders of 32-bit values.
const (
	HighWordFirst = "high_first"
	LowWordFirst  = "low_first"
)

// Register places one metric of one asset at an address: the register
// holds (value - Offset) / Scale in Type (a Scale of 0 means 1).
type Register struct {
	Address   uint16  `json:"address"`
	Type      string  `json:"type"`
	WordOrder string  `json:"word_order,omitempty"`
	Scale     float64 `json:"scale,omitempty"`
	Offset    float64 `json:"offset,omitempty"`
	Asset     string  `json:"asset"`
	Metric    string  `json:"metric"`
}

// Words returns how many 16-bit registers the register's type occupies.
func (r Register) Words() int {
	switch r.Type {
	case TypeInt32, TypeUint32, TypeFloat32:
		return 2
	}
	return 1
}

// Encode returns the words that read as v (rounded and clamped to the
// type's range; a non-finite v reads as NaN in float32 and 0 otherwise).
func (r Register) Encode(v float64) []uint16 {
	scale := r.Scale
	if scale == 0 {
		scale = 1
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
	default:
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

// Layout places every metric of each model as float32 registers (high word
// first): model i's metrics start at address i*stride, two registers each,
// in the order of its type's metrics.
func Layout(models []*simulators.Model, stride uint16) []Register {
	var out []Register
	for i, m := range models {
		for j, ms := range m.Type().Metrics {
			out = append(out, Register{
				Address: uint16(i)*stride + uint16(2*j), Type: TypeFloat32, WordOrder: HighWordFirst,
				Asset: m.Code(), Metric: ms.Name,
			})
		}
	}
	return out
}

// Config is a simulated device's setup.
type Config struct {
	// Addr is where to listen (host:port; port 0 picks a free one).
	Addr string
	// UnitID is the device's unit id; 0 answers every unit id.
	UnitID uint8
	// Models are the simulated assets; Registers map their metrics.
	Models    []*simulators.Model
	Registers []Register
	// Now is the clock whose time the registers show (default time.Now).
	// A scenario replayed faster than real time passes a scaled clock.
	Now    func() time.Time
	Logger *slog.Logger
}

// Device is a running Modbus TCP server over simulated models. Registers
// without a mapping read as 0 up to the highest mapped address; beyond it a
// read is an illegal data address. Writes are refused.
type Device struct {
	cfg    Config
	addr   string
	models map[string]*simulators.Model
	regs   []Register // sorted by address
	top    int        // one past the highest mapped register

	mu     sync.Mutex // guards server and reads
	server *modbus.ModbusServer
	reads  int64
}

// Start validates cfg and starts serving.
func Start(cfg Config) (*Device, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Device{cfg: cfg, models: map[string]*simulators.Model{}}
	for _, m := range cfg.Models {
		d.models[m.Code()] = m
	}
	var errs []error
	for i, r := range cfg.Registers {
		m, ok := d.models[r.Asset]
		if !ok {
			errs = append(errs, fmt.Errorf("register %d: no model for asset %q", i, r.Asset))
			continue
		}
		if _, ok := m.Type().Metric(r.Metric); !ok {
			errs = append(errs, fmt.Errorf("register %d: asset %q has no metric %q", i, r.Asset, r.Metric))
		}
		switch r.Type {
		case TypeInt16, TypeUint16, TypeInt32, TypeUint32, TypeFloat32:
		default:
			errs = append(errs, fmt.Errorf("register %d: type %q", i, r.Type))
		}
		if int(r.Address)+r.Words() > 65536 {
			errs = append(errs, fmt.Errorf("register %d: address %d out of range", i, r.Address))
		}
		d.top = max(d.top, int(r.Address)+r.Words())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	d.regs = append([]Register(nil), cfg.Registers...)
	sort.Slice(d.regs, func(i, j int) bool { return d.regs[i].Address < d.regs[j].Address })

	addr := cfg.Addr
	if host, port, err := net.SplitHostPort(addr); err == nil && port == "0" {
		// The library does not report its listener's port: find a free one.
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		addr = net.JoinHostPort(host, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
		ln.Close()
	}
	d.addr = addr
	if err := d.Resume(); err != nil {
		return nil, err
	}
	return d, nil
}

// Addr returns the address the device listens on (host:port).
func (d *Device) Addr() string { return d.addr }

// URL returns the device's URL for a Modbus client (tcp://host:port).
func (d *Device) URL() string { return "tcp://" + d.addr }

// Reads returns how many register reads the device has answered.
func (d *Device) Reads() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reads
}

// Stop stops serving (a device going off the network); Resume restarts it.
func (d *Device) Stop() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.server == nil {
		return nil
	}
	err := d.server.Stop()
	d.server = nil
	return err
}

// Resume starts serving again after Stop.
func (d *Device) Resume() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.server != nil {
		return nil
	}
	s, err := modbus.NewServer(&modbus.ServerConfiguration{
		URL: "tcp://" + d.addr, Timeout: time.Minute, MaxClients: 16,
		Logger: slog.NewLogLogger(d.cfg.Logger.Handler(), slog.LevelDebug),
	}, handler{d})
	if err != nil {
		return fmt.Errorf("modbus server: %w", err)
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("modbus server on %s: %w", d.addr, err)
	}
	d.server = s
	return nil
}

// Close stops the device for good.
func (d *Device) Close() error { return d.Stop() }

// Read returns the words of registers addr..addr+n-1 at time t.
func (d *Device) Read(addr, n uint16, t time.Time) ([]uint16, error) {
	if n == 0 || int(addr)+int(n) > d.top {
		return nil, modbus.ErrIllegalDataAddress
	}
	out := make([]uint16, n)
	end := int(addr) + int(n)
	i := sort.Search(len(d.regs), func(i int) bool { return int(d.regs[i].Address)+d.regs[i].Words() > int(addr) })
	for ; i < len(d.regs) && int(d.regs[i].Address) < end; i++ {
		r := d.regs[i]
		v, ok := d.models[r.Asset].Value(r.Metric, t)
		if !ok {
			v = math.NaN() // a silent sensor
		}
		for k, w := range r.Encode(v) {
			a := int(r.Address) + k
			if a >= int(addr) && a < end {
				out[a-int(addr)] = w
			}
		}
	}
	d.mu.Lock()
	d.reads++
	d.mu.Unlock()
	return out, nil
}

// Reading returns what the device shows for asset at t as a reading of
// the mapped metrics (ground truth for tests).
func (d *Device) Reading(site, asset string, t time.Time) (ingest.Reading, bool) {
	m, ok := d.models[asset]
	if !ok {
		return ingest.Reading{}, false
	}
	return m.Reading(site, t)
}

type handler struct{ d *Device }

func (h handler) accept(unit uint8) error {
	if h.d.cfg.UnitID != 0 && unit != h.d.cfg.UnitID {
		return modbus.ErrGWTargetFailedToRespond
	}
	return nil
}

// HandleCoils refuses: the device has no coils.
func (h handler) HandleCoils(*modbus.CoilsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

// HandleDiscreteInputs refuses: the device has no discrete inputs.
func (h handler) HandleDiscreteInputs(*modbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

// HandleHoldingRegisters serves reads of the mapped registers and refuses writes.
func (h handler) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	if err := h.accept(req.UnitId); err != nil {
		return nil, err
	}
	if req.IsWrite {
		return nil, modbus.ErrIllegalFunction
	}
	return h.d.Read(req.Addr, req.Quantity, h.d.cfg.Now())
}

// HandleInputRegisters serves the same map as the holding registers.
func (h handler) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	if err := h.accept(req.UnitId); err != nil {
		return nil, err
	}
	return h.d.Read(req.Addr, req.Quantity, h.d.cfg.Now())
}
