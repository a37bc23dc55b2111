package ingest

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"strconv"
	"time"
)

// Limits bound what publishers can make ingest hold: any publisher chooses
// asset codes, gateway codes and metric names, so every per-asset and
// per-gateway table is bounded and evicts the entries used longest ago.
// Messages beyond a limit are rejected with a stable reason and counted in
// pdm_ingest_rejected_total like any reject. Zero fields take the defaults.
type Limits struct {
	// MaxMetricsPerReading: a reading with more metrics is rejected
	// (too_many_metrics). Default 500.
	MaxMetricsPerReading int
	// MaxMetricsPerAsset: distinct metric names one asset may have; a
	// message that brings names beyond it is rejected
	// (too_many_asset_metrics). Default 1000.
	MaxMetricsPerAsset int
	// MaxAssets: assets whose metric names (and, for the consumer, last
	// time handed on) are remembered; the least recently seen is forgotten
	// first. Default 100,000.
	MaxAssets int
	// MaxSeries: (asset, metric) names remembered over all assets; assets
	// are forgotten, least recently seen first, to stay under it. Default
	// 500,000. With MaxAssets it bounds the memory of the tables (about 100
	// bytes a series and 300 an asset).
	MaxSeries int
	// MaxUnknownAssets: with Deps.KnownAsset, how many assets it does not
	// know ingest tracks at once; a message of another unknown asset while
	// all of them were seen within UnknownAssetIdle is rejected
	// (too_many_unknown_assets). Default 10,000.
	MaxUnknownAssets int
	// UnknownAssetIdle: an unknown asset not seen for this long gives its
	// place to a new one (default 10m).
	UnknownAssetIdle time.Duration
	// MaxGateways: gateways whose recent sequence numbers are remembered
	// for the duplicate_seq_conflict check (the last SeqWindow of each;
	// about 6 KiB a gateway). Default 4096.
	MaxGateways int
}

// SeqWindow is how many recent sequence numbers of a gateway are checked
// for duplicate_seq_conflict.
const SeqWindow = 256

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxMetricsPerReading, 500)
	def(&l.MaxMetricsPerAsset, 1000)
	def(&l.MaxAssets, 100_000)
	def(&l.MaxSeries, 500_000)
	def(&l.MaxUnknownAssets, 10_000)
	def(&l.MaxGateways, 4096)
	if l.UnknownAssetIdle <= 0 {
		l.UnknownAssetIdle = 10 * time.Minute
	}
	return l
}

// tracker enforces Limits for the batcher (one goroutine: no locking).
type tracker struct {
	lim      Limits
	known    func(site, asset string) bool
	m        *metrics
	assets   *lru[assetKey, assetState]
	series   int
	unknown  *lru[assetKey, time.Time]
	gateways *lru[assetKey, *seqRing]
	seed     maphash.Seed
	buf      []byte
}

type assetState struct {
	names map[string]struct{}
}

// seqRing remembers the content hash of a gateway's last SeqWindow
// sequence numbers, each in slot seq % SeqWindow.
type seqRing [SeqWindow]struct {
	seq, hash uint64
	set       bool
}

func newTracker(lim Limits, known func(site, asset string) bool, m *metrics) *tracker {
	return &tracker{lim: lim, known: known, m: m, assets: newLRU[assetKey, assetState](),
		unknown: newLRU[assetKey, time.Time](), gateways: newLRU[assetKey, *seqRing](), seed: maphash.MakeSeed()}
}

// admit checks a decoded telemetry message of one asset against the limits
// and remembers what it brings; a message beyond a limit returns a
// *RejectError and changes nothing.
func (t *tracker) admit(site, asset string, rs []Reading, seq uint64, hasSeq bool, now time.Time) error {
	for i := range rs {
		if n := len(rs[i].Metrics); n > t.lim.MaxMetricsPerReading {
			return reject(ReasonTooManyMetrics, strconv.Itoa(n)+" metrics in reading "+strconv.Itoa(i)+", at most "+strconv.Itoa(t.lim.MaxMetricsPerReading))
		}
	}
	// (gateway, seq) seen with other content: rejected, never overwriting.
	var ring *seqRing
	var h uint64
	gw := rs[0].Gateway
	if hasSeq && gw != "" {
		h = t.hash(rs)
		if r, ok := t.gateways.get(assetKey{site, gw}); ok {
			ring = *r
			if s := ring[seq%SeqWindow]; s.set && s.seq == seq && s.hash != h {
				return reject(ReasonDuplicateSeqConflict, "gateway "+gw+" seq "+strconv.FormatUint(seq, 10)+" was received before with other readings")
			}
		}
	}
	key := assetKey{site, asset}
	if t.known != nil && !t.known(site, asset) {
		if at, ok := t.unknown.get(key); ok {
			*at = now
		} else {
			if t.unknown.len() >= t.lim.MaxUnknownAssets {
				_, oldest, _ := t.unknown.oldest()
				if now.Sub(*oldest) < t.lim.UnknownAssetIdle {
					return reject(ReasonTooManyUnknownAssets, "asset "+site+"/"+asset+" is not registered and "+strconv.Itoa(t.lim.MaxUnknownAssets)+" unregistered assets were seen within "+t.lim.UnknownAssetIdle.String())
				}
				t.unknown.removeOldest()
			}
			t.unknown.add(key, now)
		}
	}
	st, ok := t.assets.get(key)
	if !ok {
		st = t.assets.add(key, assetState{names: make(map[string]struct{}, len(rs[0].Metrics))})
	}
	// New names, checked once per distinct run of names (the readings of a
	// message usually repeat the same names in the same order).
	var fresh []string
	var prev []Metric
	for i := range rs {
		ms := rs[i].Metrics
		if sameNames(ms, prev) {
			continue
		}
		prev = ms
		for _, m := range ms {
			if _, ok := st.names[m.Name]; !ok && !contains(fresh, m.Name) {
				fresh = append(fresh, m.Name)
			}
		}
	}
	if len(st.names)+len(fresh) > t.lim.MaxMetricsPerAsset {
		return reject(ReasonTooManyAssetMetrics, "asset "+site+"/"+asset+" would have "+strconv.Itoa(len(st.names)+len(fresh))+" metrics, at most "+strconv.Itoa(t.lim.MaxMetricsPerAsset))
	}
	for _, n := range fresh {
		st.names[n] = struct{}{}
	}
	t.series += len(fresh)
	for t.assets.len() > t.lim.MaxAssets || (t.series > t.lim.MaxSeries && t.assets.len() > 1) {
		_, old, _ := t.assets.oldest()
		t.series -= len(old.names)
		t.assets.removeOldest()
		t.m.evictedAssets.Inc()
	}
	if hasSeq && gw != "" {
		if ring == nil {
			ring = new(seqRing)
			t.gateways.add(assetKey{site, gw}, ring)
			for t.gateways.len() > t.lim.MaxGateways {
				t.gateways.removeOldest()
			}
		}
		ring[seq%SeqWindow] = struct {
			seq, hash uint64
			set       bool
		}{seq, h, true}
	}
	t.m.trackedAssets.Set(float64(t.assets.len()))
	t.m.trackedSeries.Set(float64(t.series))
	return nil
}

// hash is the content hash of a message's readings (time, names, values).
func (t *tracker) hash(rs []Reading) uint64 {
	b := t.buf[:0]
	for i := range rs {
		b = binary.LittleEndian.AppendUint64(b, uint64(rs[i].TS.UnixNano()))
		for _, m := range rs[i].Metrics {
			b = append(b, m.Name...)
			b = append(b, 0)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.Value))
		}
	}
	t.buf = b
	return maphash.Bytes(t.seed, b)
}

func sameNames(a, b []Metric) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
