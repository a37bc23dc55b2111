package ingest

// lru is a map that keeps its entries in least-recently-used order, so
// that per-key state for keys any publisher chooses (asset codes, gateway
// codes) can be bounded by evicting the entries used longest ago. It is not
// safe for concurrent use.
type lru[K comparable, V any] struct {
	m    map[K]*lruEntry[K, V]
	head lruEntry[K, V] // sentinel: head.next is the most recent, head.prev the least
}

type lruEntry[K comparable, V any] struct {
	key        K
	val        V
	prev, next *lruEntry[K, V]
}

func newLRU[K comparable, V any]() *lru[K, V] {
	l := &lru[K, V]{m: make(map[K]*lruEntry[K, V])}
	l.head.prev, l.head.next = &l.head, &l.head
	return l
}

func (l *lru[K, V]) len() int { return len(l.m) }

// get returns the value of k and marks it most recently used.
func (l *lru[K, V]) get(k K) (*V, bool) {
	e, ok := l.m[k]
	if !ok {
		return nil, false
	}
	l.unlink(e)
	l.pushFront(e)
	return &e.val, true
}

// add inserts k (which must not be present) as the most recently used and
// returns a pointer to its value.
func (l *lru[K, V]) add(k K, v V) *V {
	e := &lruEntry[K, V]{key: k, val: v}
	l.m[k] = e
	l.pushFront(e)
	return &e.val
}

// oldest returns the least recently used entry.
func (l *lru[K, V]) oldest() (K, *V, bool) {
	if len(l.m) == 0 {
		var zero K
		return zero, nil, false
	}
	e := l.head.prev
	return e.key, &e.val, true
}

// removeOldest evicts the least recently used entry.
func (l *lru[K, V]) removeOldest() {
	if len(l.m) == 0 {
		return
	}
	e := l.head.prev
	l.unlink(e)
	delete(l.m, e.key)
}

func (l *lru[K, V]) unlink(e *lruEntry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (l *lru[K, V]) pushFront(e *lruEntry[K, V]) {
	e.prev, e.next = &l.head, l.head.next
	l.head.next.prev = e
	l.head.next = e
}
