package httpapi

// WithoutRequestChecks returns cfg with the schema checks of path and query
// parameters left out (BenchmarkTickets measures their cost).
func WithoutRequestChecks(cfg Config) Config {
	cfg.withoutRequestChecks = true
	return cfg
}
