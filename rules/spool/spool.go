// Package spool is the signal outbox on disk: a signal raised by the rules
// engine or a device event is written (fsync) to a bbolt file before it is
// considered taken, and delivered to the ticket core from there with
// retries, so neither a crash nor a PostgreSQL outage of any length loses
// it. Delivery is at least once; the ticket core drops a signal it already
// has (same asset, rule, kind, level and event time), so a replay after a
// crash changes nothing.
package spool

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/openpdm/pdm/rules"
)

var bucket = []byte("signals")

// deliverTimeout bounds one delivery, so a hung PostgreSQL is retried
// rather than waited on forever.
const deliverTimeout = 15 * time.Second

// Spool is the on-disk signal outbox. Signals that supersede each other
// (same kind, level, rule, asset, metric and failure mode) share one
// entry, as in rules.Outbox: the newer evidence with the earlier event
// time, so the file is bounded by the number of distinct keys.
type Spool struct {
	db       *bolt.DB
	send     rules.SignalFunc
	log      *slog.Logger
	retryMin time.Duration
	retryMax time.Duration
	notify   chan struct{}

	mu      sync.Mutex // guards pending, seq, stats
	pending map[string]entry
	seq     uint64
	stats   Stats
}

type entry struct {
	seq uint64
	sig rules.Signal
}

// Stats counts what a Spool did.
type Stats struct {
	Pending   int
	Delivered uint64
	Rejected  uint64
	Retries   uint64
}

// Open opens (or creates) the spool file at path, delivering through send.
// Signals left from an earlier run are delivered first. It fails when
// another process has the file open.
func Open(path string, send rules.SignalFunc, log *slog.Logger) (*Spool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("signal spool: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("signal spool %s is in use by another process (two replicas with one client id?)", path)
		}
		return nil, fmt.Errorf("signal spool %s: %w", path, err)
	}
	s := &Spool{db: db, send: send, log: log, retryMin: 200 * time.Millisecond, retryMax: 30 * time.Second,
		notify: make(chan struct{}, 1), pending: map[string]entry{}}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			e, err := decode(v)
			if err != nil {
				log.Error("signal spool: dropping an unreadable entry", "err", err)
				return nil
			}
			s.pending[string(k)] = e
			s.seq = max(s.seq, e.seq)
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("signal spool %s: %w", path, err)
	}
	if n := len(s.pending); n > 0 {
		log.Info("signal spool: delivering signals left from the last run", "count", n)
	}
	return s, nil
}

// Close closes the file; undelivered signals stay in it.
func (s *Spool) Close() error { return s.db.Close() }

func key(sg rules.Signal) string {
	asset := sg.AssetID
	if asset == "" {
		asset = sg.Site + "/" + sg.Asset
	}
	return string(sg.Kind) + "\x00" + string(sg.Level) + "\x00" + sg.RuleID + "\x00" + asset + "\x00" + sg.Metric + "\x00" + sg.FailureMode
}

func encode(e entry) ([]byte, error) {
	j, err := json.Marshal(e.sig)
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint64(nil, e.seq), j...), nil
}

func decode(v []byte) (entry, error) {
	if len(v) < 8 {
		return entry{}, errors.New("short entry")
	}
	e := entry{seq: binary.BigEndian.Uint64(v)}
	return e, json.Unmarshal(v[8:], &e.sig)
}

// Put stores a signal durably (it returns once the file is synced) and
// queues it for delivery. It fits rules.SignalFunc: the rules engine's
// outbox and device events deliver into the spool.
func (s *Spool) Put(_ context.Context, sg rules.Signal) error {
	k := key(sg)
	s.mu.Lock()
	if old, ok := s.pending[k]; ok && old.sig.DetectedAt.Before(sg.DetectedAt) {
		sg.DetectedAt = old.sig.DetectedAt // lead time counts from the earliest
	}
	s.seq++
	e := entry{seq: s.seq, sig: sg}
	s.mu.Unlock()
	v, err := encode(e)
	if err != nil {
		return fmt.Errorf("signal spool: %w", err)
	}
	// Batch coalesces concurrent puts into one sync.
	if err := s.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(k), v) }); err != nil {
		return fmt.Errorf("signal spool: %w", err)
	}
	s.mu.Lock()
	if cur, ok := s.pending[k]; !ok || cur.seq < e.seq {
		s.pending[k] = e
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// Each calls fn for every signal not yet delivered, under the spool's
// lock: fn must not call the spool.
func (s *Spool) Each(fn func(rules.Signal)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.pending {
		fn(e.sig)
	}
}

// Stats returns the counters and the number of signals waiting.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Pending = len(s.pending)
	return st
}

// next returns the waiting signal detected first (in event time; the
// earliest put among equal times): a prediction raised before a breach
// reaches the receiver first, so the order it opens carries its lead time,
// also when the prediction was raised again since (a newer put of one key
// keeps the key's earliest detection).
func (s *Spool) next() (string, entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var bk string
	var be entry
	found := false
	for k, e := range s.pending {
		if !found || before(e, be) {
			bk, be, found = k, e, true
		}
	}
	return bk, be, found
}

// before orders entries for delivery: earliest detection, then earliest put.
func before(a, b entry) bool {
	if c := a.sig.DetectedAt.Compare(b.sig.DetectedAt); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}

// done removes a delivered signal unless a newer one took its key.
func (s *Spool) done(k string, e entry) error {
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if v := b.Get([]byte(k)); v != nil && len(v) >= 8 && binary.BigEndian.Uint64(v) != e.seq {
			return nil
		}
		return b.Delete([]byte(k))
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	if cur, ok := s.pending[k]; ok && cur.seq == e.seq {
		delete(s.pending, k)
	}
	s.mu.Unlock()
	return nil
}

// Run delivers waiting signals, detected first first (see next), until ctx ends; a failed
// delivery is retried with exponential backoff. It returns nil; what is
// not delivered stays on disk for the next run.
func (s *Spool) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		k, e, ok := s.next()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-s.notify:
				continue
			}
		}
		sctx, cancel := context.WithTimeout(ctx, deliverTimeout)
		err := s.send(sctx, e.sig)
		cancel()
		switch {
		case err == nil || errors.Is(err, rules.ErrRejected):
			if err != nil {
				s.log.Warn("signal rejected, dropped", "asset_id", e.sig.AssetID, "rule_id", e.sig.RuleID, "kind", e.sig.Kind, "err", err)
			}
			if derr := s.done(k, e); derr != nil {
				s.log.Error("signal spool: remove a delivered signal (it is delivered again, which changes nothing)", "err", derr)
			}
			s.mu.Lock()
			if err == nil {
				s.stats.Delivered++
			} else {
				s.stats.Rejected++
			}
			s.mu.Unlock()
			backoff = 0
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		s.mu.Lock()
		s.stats.Retries++
		s.mu.Unlock()
		backoff = min(max(backoff*2, s.retryMin), s.retryMax)
		s.log.Warn("signal delivery failed, will retry", "asset_id", e.sig.AssetID, "kind", e.sig.Kind, "err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// sorted is for tests: the waiting signals in delivery order.
func (s *Spool) sorted() []rules.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	es := make([]entry, 0, len(s.pending))
	for _, e := range s.pending {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b entry) int {
		if before(a, b) {
			return -1
		}
		if before(b, a) {
			return 1
		}
		return 0
	})
	out := make([]rules.Signal, len(es))
	for i, e := range es {
		out[i] = e.sig
	}
	return out
}
