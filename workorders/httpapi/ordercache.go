package httpapi

import (
	"errors"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"github.com/maypok86/otter/v2"

	"github.com/openpdm/pdm/workorders"
)

// The order list's answer is mostly orders that did not change since the
// last time they were listed. orderCache keeps each order's rendered JSON
// by (ID, row version). A page listed before reads only its IDs and
// versions from PostgreSQL (ListOrderVersions: same filter, plan and
// order), copies the orders the cache holds and loads and renders only the
// others, each checked to be at the version the page read
// (LoadOrderVersions). A page not listed before is read whole with its
// versions (ListOrdersWithVersions, one query) and renders only what the
// cache lacks. The version is the database row's (its xmin, new with every
// update), so a write by any process, another API replica or plain SQL
// included, changes it: a changed order is never answered from the cache,
// and its old version is never asked for again and ages out.
//
// Limits of xmin as a version: it is a 32-bit transaction ID, so a stale
// entry would need the same order written again by a transaction exactly a
// multiple of 2^32 transactions later while its old entry is still cached,
// or this process kept running across a restore of the database into
// another cluster (whose transaction IDs start again); a row frozen by
// VACUUM keeps its xmin (TestOrderVersions).

// defaultOrderCacheBytes bounds the cache when Config.OrderCacheBytes is 0:
// about 55,000 orders of the benchmark's size (1.1 KB of JSON each).
const defaultOrderCacheBytes = 64 << 20

// listAttempts is how many times a list is read through the cache before
// it is read whole: each further attempt follows an order changed between
// the page's read and the load of the orders the cache lacked.
const listAttempts = 3

// orderCache holds rendered orders; a nil c is off.
type orderCache struct {
	c *otter.Cache[workorders.OrderVersion, *renderedOrder]
	// warm remembers the pages (by pageKey) the cache held mostly at their
	// last answer: only those are read versions first. A page listed for
	// the first time, or found mostly missing, is read whole in one query
	// (versions first, its misses would take a second one and cost more
	// than the whole page).
	warm *otter.Cache[pageKey, bool]
	// hits and misses count the orders listed from the cache and loaded.
	hits, misses *atomic.Int64
}

// renderedOrder is an order's JSON without its status_url member, which
// depends on the request's host: json[:head] comes before it, json[head:]
// after.
type renderedOrder struct {
	json       []byte
	head       int
	statusPath string
}

// maxWarmPages bounds how many pages orderCache.warm remembers.
const maxWarmPages = 20_000

// pageKey names a page of a list: the endpoint, the query string and, for
// engineers, whose orders.
type pageKey struct {
	path, query, involving string
}

// entryOverhead is roughly what an entry costs besides its JSON (the key,
// the renderedOrder, the cache's node).
const entryOverhead = 200

func newOrderCache(maxBytes int64) orderCache {
	if maxBytes < 0 {
		return orderCache{}
	}
	if maxBytes == 0 {
		maxBytes = defaultOrderCacheBytes
	}
	orders := otter.Must(&otter.Options[workorders.OrderVersion, *renderedOrder]{
		MaximumWeight: uint64(maxBytes),
		Weigher: func(_ workorders.OrderVersion, v *renderedOrder) uint32 {
			return uint32(min(len(v.json)+len(v.statusPath)+entryOverhead, 1<<31))
		},
	})
	return orderCache{c: orders, warm: otter.Must(&otter.Options[pageKey, bool]{MaximumSize: maxWarmPages}),
		hits: new(atomic.Int64), misses: new(atomic.Int64)}
}

func renderOrder(o *workorders.Order) *renderedOrder {
	// Written into a pooled buffer, then copied at its size: appended to
	// from nil, the JSON grew in seven steps (a third of the bytes a
	// list of orders not cached allocated).
	bp := jsonBufs.Get().(*[]byte)
	b := appendOrderHead((*bp)[:0], o)
	head := len(b)
	b = appendOrderTail(b, o)
	r := &renderedOrder{json: append(make([]byte, 0, len(b)), b...), head: head, statusPath: o.StatusURL}
	if cap(b) <= 1<<20 {
		*bp = b
		jsonBufs.Put(bp)
	}
	return r
}

// listOrders answers a list of orders (GET /work-orders, /me/jobs):
// through the cache when the store lists versions, else whole.
func (s *Server) listOrders(c *gin.Context, f workorders.OrderFilter) {
	ctx := c.Request.Context()
	vs, ok := s.svc.Store.(workorders.VersionedOrderStore)
	if !ok || s.orders.c == nil {
		var st orderService = s.svc
		items, next, err := st.ListOrders(ctx, f)
		if err != nil {
			s.fail(c, err)
			return
		}
		for i := range items {
			items[i].StatusURL = s.statusURL(c, items[i].StatusURL)
		}
		orderListJSON(c, items, next)
		return
	}
	key := pageKey{path: c.FullPath(), query: c.Request.URL.RawQuery, involving: f.Involving}
	if warm, _ := s.orders.warm.GetIfPresent(key); warm {
		for range listAttempts {
			page, next, err := vs.ListOrderVersions(ctx, f)
			if err != nil {
				s.fail(c, err)
				return
			}
			got := make([]*renderedOrder, len(page))
			var miss []workorders.OrderVersion
			var missAt []int
			for i, v := range page {
				if r, ok := s.orders.c.GetIfPresent(v); ok {
					got[i] = r
					continue
				}
				miss = append(miss, v)
				missAt = append(missAt, i)
			}
			if len(miss) > 0 {
				orders, err := vs.LoadOrderVersions(ctx, miss)
				if errors.Is(err, workorders.ErrVersionChanged) {
					continue
				}
				if err != nil {
					s.fail(c, err)
					return
				}
				for j := range orders {
					r := renderOrder(&orders[j])
					s.orders.c.Set(miss[j], r)
					got[missAt[j]] = r
				}
			}
			s.orders.hits.Add(int64(len(page) - len(miss)))
			s.orders.misses.Add(int64(len(miss)))
			if 4*len(miss) > len(page) {
				s.orders.warm.Invalidate(key)
			}
			s.writeRenderedList(c, got, next)
			return
		}
	}
	// Whole: one query, each order rendered unless the cache holds it at
	// its version.
	items, versions, next, err := vs.ListOrdersWithVersions(ctx, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	got := make([]*renderedOrder, len(items))
	hits := 0
	for i, v := range versions {
		if r, ok := s.orders.c.GetIfPresent(v); ok {
			got[i] = r
			hits++
			continue
		}
		got[i] = renderOrder(&items[i])
		s.orders.c.Set(v, got[i])
	}
	s.orders.hits.Add(int64(hits))
	s.orders.misses.Add(int64(len(items) - hits))
	s.orders.warm.Set(key, true)
	s.writeRenderedList(c, got, next)
}

// writeRenderedList writes what orderListJSON writes, from rendered
// orders.
func (s *Server) writeRenderedList(c *gin.Context, items []*renderedOrder, next string) {
	bp := jsonBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"items":[`...)
	for i, r := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r.json[:r.head]...)
		b = appendOptString(b, `,"status_url":`, s.statusURL(c, r.statusPath))
		b = append(b, r.json[r.head:]...)
	}
	b = append(b, `],"next_cursor":`...)
	b = appendJSONString(b, next)
	b = append(b, '}')
	writeJSONBytes(c, b)
	if cap(b) <= 1<<20 {
		*bp = b
		jsonBufs.Put(bp)
	}
}
