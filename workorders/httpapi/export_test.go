package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/openpdm/pdm/workorders"
)

// WithoutRequestChecks returns cfg with the schema checks of path and query
// parameters left out (BenchmarkTickets measures their cost).
func WithoutRequestChecks(cfg Config) Config {
	cfg.withoutRequestChecks = true
	return cfg
}

// CheckAnswer checks an answer's JSON against the named schema of the
// OpenAPI document: every required member present, no null where the
// document says non-null, no member the document does not name.
func CheckAnswer(name string, body []byte) error {
	v, ok := withCollaborationSchemas(gatewaySchemas(withClaimSchemas(consoleSchemas(withRequestSchemas(withFieldSchemas(withOpsSchemas(schemaTypes())))))))[name]
	if !ok {
		return fmt.Errorf("no schema %q", name)
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return err
	}
	var p workorders.Problems
	newSchemas().of(reflect.TypeOf(v)).validate(doc, "", &p)
	return p.Err()
}

// SharingAdmission returns cfg with other's admission queue and order
// cache: both servers take turns in one queue of ReadConcurrency slots.
func SharingAdmission(cfg Config, other *Server) Config {
	cfg.admitWith = other
	return cfg
}

// CachedOrders returns how many rendered orders s's order cache holds
// (-1 when it is off).
func CachedOrders(s *Server) int {
	if s.orders.c == nil {
		return -1
	}
	s.orders.c.CleanUp()
	return s.orders.c.EstimatedSize()
}

// OrderCacheHits returns how many listed orders s answered from its order
// cache and how many it loaded.
func OrderCacheHits(s *Server) (hits, misses int64) {
	if s.orders.c == nil {
		return 0, 0
	}
	return s.orders.hits.Load(), s.orders.misses.Load()
}
