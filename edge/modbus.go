package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/openpdm/pdm/ingest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/simonvetter/modbus"
)

// submitFunc stores readings durably (Agent.Submit).
type submitFunc func(ctx context.Context, source string, readings []ingest.Reading) error

// maxRegsPerRead is the Modbus limit of registers in one read request.
const maxRegsPerRead = 125

// modbusPoller polls one Modbus TCP device.
type modbusPoller struct {
	dev    ModbusDevice
	name   string
	log    *slog.Logger
	now    func() time.Time
	submit submitFunc
	errs   prometheus.Counter

	mu         sync.Mutex // guards client, open and skipLogged (groups poll in turn)
	client     *modbus.ModbusClient
	open       bool
	skipLogged bool // a refused register was logged once
}

func newModbusPoller(dev ModbusDevice, log *slog.Logger, now func() time.Time, submit submitFunc, errs prometheus.Counter) *modbusPoller {
	return &modbusPoller{
		dev: dev, name: sourceName("modbus", dev.Name, dev.URL),
		log: log.With("source", sourceName("modbus", dev.Name, dev.URL)), now: now, submit: submit, errs: errs,
	}
}

// run polls each group of registers sharing a poll interval until ctx ends.
func (p *modbusPoller) run(ctx context.Context) {
	groups := map[time.Duration][]ModbusRegister{}
	for _, r := range p.dev.Registers {
		groups[r.PollInterval.D()] = append(groups[r.PollInterval.D()], r)
	}
	var wg sync.WaitGroup
	for every, regs := range groups {
		wg.Go(func() { p.pollEvery(ctx, every, regs) })
	}
	wg.Wait()
	p.mu.Lock()
	if p.client != nil {
		p.client.Close()
	}
	p.mu.Unlock()
}

func (p *modbusPoller) pollEvery(ctx context.Context, every time.Duration, regs []ModbusRegister) {
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		readings, err := p.poll(regs)
		if err != nil {
			p.errs.Inc()
			if !failing {
				p.log.Warn("modbus poll failed", "err", err)
			}
			failing = true
		} else {
			if failing {
				p.log.Info("modbus poll recovered")
			}
			failing = false
			if err := p.submit(ctx, p.name, readings); err != nil && ctx.Err() == nil {
				p.errs.Inc()
				p.log.Error("queue readings", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll reads regs once and returns one reading per asset.
func (p *modbusPoller) poll(regs []ModbusRegister) ([]ingest.Reading, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.open {
		if p.client == nil {
			c, err := modbus.NewClient(&modbus.ClientConfiguration{URL: p.dev.URL, Timeout: p.dev.Timeout.D()})
			if err != nil {
				return nil, err
			}
			p.client = c
		}
		if err := p.client.Open(); err != nil {
			return nil, fmt.Errorf("connect %s: %w", p.dev.URL, err)
		}
		if err := p.client.SetUnitId(p.dev.UnitID); err != nil {
			return nil, err
		}
		p.open = true
	}
	ts := p.now().UTC().Truncate(time.Millisecond)
	values, skipped, err := readRegisters(p.client, regs)
	if err != nil {
		p.client.Close()
		p.open = false
		return nil, err
	}
	if skipped != nil {
		p.errs.Inc()
		if !p.skipLogged {
			p.log.Warn("modbus registers refused by the device; the others are read", "err", skipped)
			p.skipLogged = true
		}
	}
	var out []ingest.Reading
	idx := map[string]int{}
	for i, r := range regs {
		v := values[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue // a float32 register holding garbage: not a reading
		}
		j, ok := idx[r.Asset]
		if !ok {
			j = len(out)
			idx[r.Asset] = j
			out = append(out, ingest.Reading{Asset: r.Asset, TS: ts})
		}
		out[j].Metrics = append(out[j].Metrics, ingest.Metric{Name: r.Metric, Value: v})
	}
	return out, nil
}

// registerReader is the part of the Modbus client the poller uses.
type registerReader interface {
	ReadRegisters(addr, quantity uint16, regType modbus.RegType) ([]uint16, error)
}

// Words returns how many 16-bit registers a register type occupies.
func Words(typ string) int {
	switch typ {
	case TypeInt32, TypeUint32, TypeFloat32:
		return 2
	}
	return 1
}

// readRegisters reads regs with as few requests as the 125-register limit
// allows and returns their scaled values in regs' order. When the device
// refuses a span (a Modbus exception such as an illegal data address), the
// span's registers are read one by one: those refused read as NaN and are
// reported in skipped, so one bad address does not silence a device. err is
// a failure of the device or the connection.
func readRegisters(c registerReader, regs []ModbusRegister) (out []float64, skipped, err error) {
	out = make([]float64, len(regs))
	var skips []error
	for _, kind := range []string{KindHolding, KindInput} {
		var idx []int
		for i, r := range regs {
			if r.Kind == kind {
				idx = append(idx, i)
			}
		}
		slices.SortFunc(idx, func(a, b int) int { return int(regs[a].Address) - int(regs[b].Address) })
		rt := modbus.HOLDING_REGISTER
		if kind == KindInput {
			rt = modbus.INPUT_REGISTER
		}
		for len(idx) > 0 {
			start := int(regs[idx[0]].Address)
			end := start
			n := 0
			for n < len(idx) {
				r := regs[idx[n]]
				e := int(r.Address) + Words(r.Type)
				if e-start > maxRegsPerRead {
					break
				}
				end = max(end, e)
				n++
			}
			words, err := c.ReadRegisters(uint16(start), uint16(end-start), rt)
			switch {
			case refused(err):
				for _, i := range idx[:n] {
					r := regs[i]
					w, err := c.ReadRegisters(r.Address, uint16(Words(r.Type)), rt)
					switch {
					case refused(err):
						out[i] = math.NaN()
						skips = append(skips, fmt.Errorf("%s register %d (%s of %s): %w", kind, r.Address, r.Metric, r.Asset, err))
					case err != nil:
						return nil, nil, fmt.Errorf("read %s register %d: %w", kind, r.Address, err)
					case len(w) != Words(r.Type):
						return nil, nil, fmt.Errorf("read %s register %d: got %d words", kind, r.Address, len(w))
					default:
						out[i] = Decode(r, w)
					}
				}
			case err != nil:
				return nil, nil, fmt.Errorf("read %s registers %d..%d: %w", kind, start, end-1, err)
			case len(words) != end-start:
				return nil, nil, fmt.Errorf("read %s registers %d..%d: got %d words", kind, start, end-1, len(words))
			default:
				for _, i := range idx[:n] {
					r := regs[i]
					off := int(r.Address) - start
					out[i] = Decode(r, words[off:off+Words(r.Type)])
				}
			}
			idx = idx[n:]
		}
	}
	return out, errors.Join(skips...), nil
}

// refused reports whether err is a Modbus exception about the request (the
// device is there but will not serve these registers).
func refused(err error) bool {
	return errors.Is(err, modbus.ErrIllegalDataAddress) || errors.Is(err, modbus.ErrIllegalFunction) ||
		errors.Is(err, modbus.ErrIllegalDataValue)
}

// Decode turns a register's raw words into its value (raw*scale + offset).
// words holds Words(r.Type) registers in address order.
func Decode(r ModbusRegister, words []uint16) float64 {
	var raw float64
	switch r.Type {
	case TypeInt16:
		raw = float64(int16(words[0]))
	case TypeUint16:
		raw = float64(words[0])
	default:
		hi, lo := words[0], words[1]
		if r.WordOrder == LowWordFirst {
			hi, lo = lo, hi
		}
		u := uint32(hi)<<16 | uint32(lo)
		switch r.Type {
		case TypeInt32:
			raw = float64(int32(u))
		case TypeUint32:
			raw = float64(u)
		case TypeFloat32:
			raw = float64(math.Float32frombits(u))
		}
	}
	scale := 1.0
	if r.Scale != nil {
		scale = *r.Scale
	}
	return raw*scale + r.Offset
}
