package edge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/openpdm/pdm/ingest"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketItems = []byte("items")
	bucketMeta  = []byte("meta")
	keyCount    = []byte("count")
	keyBytes    = []byte("bytes")
	keyDropped  = []byte("dropped")
	keySeq      = []byte("seq")
	keyConfig   = []byte("config")
)

// Event is a device event (contract: `{site}/{asset}/event`).
type Event struct {
	Site     string
	Asset    string
	TS       time.Time
	Code     string
	Severity string
	Message  string
}

// Item is one queued entry: a reading or, when IsEvent, a device event.
// Key orders items: a larger key was appended later.
type Item struct {
	Key     uint64
	IsEvent bool
	Reading ingest.Reading
	Event   Event
}

// QueueStats are the queue's counters.
type QueueStats struct {
	Items   int64 // entries waiting for the broker's acknowledgement
	Bytes   int64 // their stored size
	Dropped int64 // entries dropped because the queue was full, ever
}

// Queue is a bounded first-in-first-out disk queue on bbolt. An item stays
// until Delete (called after the broker's PUBACK); every Append is durable
// (fsync) when it returns, so the queue survives a crash or SIGKILL. When an
// Append would make the stored size exceed the bound, the oldest items are
// dropped and counted.
type Queue struct {
	db     *bolt.DB
	notify chan struct{}

	mu       sync.Mutex // guards the fields below
	maxBytes int64
	stats    QueueStats
}

// OpenQueue opens (or creates) the queue file at path, bounded to maxBytes
// of stored items.
func OpenQueue(path string, maxBytes int64) (*Queue, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("open queue: max bytes %d: want > 0", maxBytes)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        2 * time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	db.MaxBatchDelay = 2 * time.Millisecond // Append waits this long for company
	q := &Queue{db: db, notify: make(chan struct{}, 1), maxBytes: maxBytes}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketItems); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketMeta); err != nil {
			return err
		}
		_, err := q.trim(tx, readStats(tx))
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	return q, nil
}

// Close closes the queue file.
func (q *Queue) Close() error { return q.db.Close() }

// Stats returns the queue's counters.
func (q *Queue) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats
}

// Notify returns a channel that receives a value after items are appended.
func (q *Queue) Notify() <-chan struct{} { return q.notify }

// SetMaxBytes changes the bound, dropping the oldest items at once if the
// queue holds more.
func (q *Queue) SetMaxBytes(n int64) error {
	if n <= 0 {
		return fmt.Errorf("queue max bytes %d: want > 0", n)
	}
	q.mu.Lock()
	q.maxBytes = n
	q.mu.Unlock()
	return q.db.Update(func(tx *bolt.Tx) error {
		_, err := q.trim(tx, readStats(tx))
		return err
	})
}

// Append stores items durably in order, assigning their keys, and returns
// how many old items it dropped to stay within the bound. Concurrent calls
// are committed together (one fsync for all of them).
func (q *Queue) Append(items []Item) (dropped int64, err error) {
	if len(items) == 0 {
		return 0, nil
	}
	err = q.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		b.FillPercent = 1 // keys only grow
		s := readStats(tx)
		before := s.Dropped
		var arena []byte
		for i := range items {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			items[i].Key = seq
			k := binary.BigEndian.AppendUint64(nil, seq)
			// bbolt keeps the value until commit: never reuse its bytes.
			start := len(arena)
			arena = encodeItem(arena, &items[i])
			v := arena[start:len(arena):len(arena)]
			if err := b.Put(k, v); err != nil {
				return err
			}
			s.Items++
			s.Bytes += int64(len(v) + 8)
		}
		s, err := q.trim(tx, s)
		if err != nil {
			return err
		}
		dropped = s.Dropped - before
		return nil
	})
	if err != nil {
		q.reload()
		return 0, fmt.Errorf("queue append: %w", err)
	}
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return dropped, nil
}

// readStats reads the counters inside a transaction. Update functions work
// on these (not on the cached copy) so that bbolt may re-run them.
func readStats(tx *bolt.Tx) QueueStats {
	m := tx.Bucket(bucketMeta)
	return QueueStats{Items: getInt(m, keyCount), Bytes: getInt(m, keyBytes), Dropped: getInt(m, keyDropped)}
}

// trim drops the oldest items while the queue is over its bound, then
// writes the counters s and caches them; it runs inside an update
// transaction.
func (q *Queue) trim(tx *bolt.Tx, s QueueStats) (QueueStats, error) {
	b := tx.Bucket(bucketItems)
	q.mu.Lock()
	over := s.Bytes - q.maxBytes
	q.mu.Unlock()
	if over > 0 {
		var keys [][]byte
		var n, size int64
		c := b.Cursor()
		for k, v := c.First(); k != nil && size < over; k, v = c.Next() {
			keys = append(keys, k)
			n++
			size += int64(len(v) + len(k))
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return s, err
			}
		}
		s.Items -= n
		s.Bytes -= size
		s.Dropped += n
	}
	m := tx.Bucket(bucketMeta)
	if err := putInt(m, keyCount, s.Items); err != nil {
		return s, err
	}
	if err := putInt(m, keyBytes, s.Bytes); err != nil {
		return s, err
	}
	if err := putInt(m, keyDropped, s.Dropped); err != nil {
		return s, err
	}
	q.mu.Lock()
	q.stats = s
	q.mu.Unlock()
	return s, nil
}

// reload re-reads the counters after a failed transaction rolled back.
func (q *Queue) reload() {
	_ = q.db.View(func(tx *bolt.Tx) error {
		s := readStats(tx)
		q.mu.Lock()
		q.stats = s
		q.mu.Unlock()
		return nil
	})
}

// Peek returns up to n items with keys greater than after, oldest first.
// An item that cannot be decoded (a damaged file) is removed and counted as
// dropped, so it never blocks the queue.
func (q *Queue) Peek(after uint64, n int) ([]Item, error) {
	var out []Item
	var bad [][]byte
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketItems).Cursor()
		var start [8]byte
		binary.BigEndian.PutUint64(start[:], after+1)
		for k, v := c.Seek(start[:]); k != nil && len(out) < n; k, v = c.Next() {
			it, err := decodeItem(v)
			if err != nil {
				bad = append(bad, append([]byte(nil), k...))
				continue
			}
			it.Key = binary.BigEndian.Uint64(k)
			out = append(out, it)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue peek: %w", err)
	}
	if len(bad) > 0 {
		err := q.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketItems)
			s := readStats(tx)
			for _, k := range bad {
				v := b.Get(k)
				if v == nil {
					continue
				}
				s.Items--
				s.Bytes -= int64(len(v) + len(k))
				s.Dropped++
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			_, err := q.trim(tx, s)
			return err
		})
		if err != nil {
			q.reload()
			return nil, fmt.Errorf("queue drop damaged items: %w", err)
		}
	}
	return out, nil
}

// LastKey returns the key of the newest item ever appended (0 if none).
func (q *Queue) LastKey() uint64 {
	var seq uint64
	_ = q.db.View(func(tx *bolt.Tx) error {
		seq = tx.Bucket(bucketItems).Sequence()
		return nil
	})
	return seq
}

// Delete removes the items with the given keys (those already gone are
// ignored) and records seq, the last message sequence number used, if it is
// not zero.
func (q *Queue) Delete(keys []uint64, seq uint64) error {
	err := q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		s := readStats(tx)
		var k [8]byte
		for _, key := range keys {
			binary.BigEndian.PutUint64(k[:], key)
			v := b.Get(k[:])
			if v == nil {
				continue
			}
			s.Items--
			s.Bytes -= int64(len(v) + 8)
			if err := b.Delete(k[:]); err != nil {
				return err
			}
		}
		if seq != 0 {
			if err := putInt(tx.Bucket(bucketMeta), keySeq, int64(seq)); err != nil {
				return err
			}
		}
		_, err := q.trim(tx, s)
		return err
	})
	if err != nil {
		q.reload()
		return fmt.Errorf("queue delete: %w", err)
	}
	return nil
}

// Seq returns the last message sequence number recorded by Delete.
func (q *Queue) Seq() uint64 {
	var s int64
	_ = q.db.View(func(tx *bolt.Tx) error {
		s = getInt(tx.Bucket(bucketMeta), keySeq)
		return nil
	})
	return uint64(s)
}

// SaveConfig stores the last accepted remote config so a restart without
// the broker starts from it.
func (q *Queue) SaveConfig(b []byte) error {
	return q.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyConfig, b)
	})
}

// LoadConfig returns the config stored by SaveConfig, or nil.
func (q *Queue) LoadConfig() []byte {
	var out []byte
	_ = q.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyConfig); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out
}

func getInt(b *bolt.Bucket, k []byte) int64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func putInt(b *bolt.Bucket, k []byte, n int64) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(n))
	return b.Put(k, v[:])
}

// Item encoding: kind byte, then length-prefixed strings and varints.
const (
	kindReading = 1
	kindEvent   = 2
)

func encodeItem(dst []byte, it *Item) []byte {
	if it.IsEvent {
		e := &it.Event
		dst = append(dst, kindEvent)
		dst = appendString(dst, e.Site)
		dst = appendString(dst, e.Asset)
		dst = binary.AppendVarint(dst, e.TS.UnixMilli())
		dst = appendString(dst, e.Code)
		dst = appendString(dst, e.Severity)
		return appendString(dst, e.Message)
	}
	r := &it.Reading
	dst = append(dst, kindReading)
	dst = appendString(dst, r.Site)
	dst = appendString(dst, r.Asset)
	dst = binary.AppendVarint(dst, r.TS.UnixMilli())
	dst = binary.AppendUvarint(dst, uint64(len(r.Metrics)))
	for _, m := range r.Metrics {
		dst = appendString(dst, m.Name)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(m.Value))
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

var errCorrupt = errors.New("corrupt queue item")

type itemDecoder struct {
	b   []byte
	err error
}

func (d *itemDecoder) str() string {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || uint64(len(d.b)-k) < n {
		d.err = errCorrupt
		d.b = nil
		return ""
	}
	s := string(d.b[k : k+int(n)])
	d.b = d.b[k+int(n):]
	return s
}

func (d *itemDecoder) varint() int64 {
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.err = errCorrupt
		d.b = nil
		return 0
	}
	d.b = d.b[k:]
	return v
}

func decodeItem(v []byte) (Item, error) {
	if len(v) == 0 {
		return Item{}, errCorrupt
	}
	d := itemDecoder{b: v[1:]}
	var it Item
	switch v[0] {
	case kindEvent:
		it.IsEvent = true
		it.Event.Site = d.str()
		it.Event.Asset = d.str()
		it.Event.TS = time.UnixMilli(d.varint()).UTC()
		it.Event.Code = d.str()
		it.Event.Severity = d.str()
		it.Event.Message = d.str()
	case kindReading:
		r := &it.Reading
		r.Site = d.str()
		r.Asset = d.str()
		r.TS = time.UnixMilli(d.varint()).UTC()
		n, k := binary.Uvarint(d.b)
		if k <= 0 || n > uint64(len(d.b)) {
			return Item{}, errCorrupt
		}
		d.b = d.b[k:]
		r.Metrics = make([]ingest.Metric, 0, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			name := d.str()
			if len(d.b) < 8 {
				return Item{}, errCorrupt
			}
			r.Metrics = append(r.Metrics, ingest.Metric{Name: name, Value: math.Float64frombits(binary.LittleEndian.Uint64(d.b))})
			d.b = d.b[8:]
		}
	default:
		return Item{}, errCorrupt
	}
	if d.err != nil {
		return Item{}, d.err
	}
	return it, nil
}
