package main

import (
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"

	"github.com/openpdm/pdm/web"
)

// withWeb serves the API (and health, readiness and metrics) as before and
// everything else from the embedded front end: the console at /, the
// engineers' app at /app/, the public pages at /r/ and /s/. Answers are
// gzipped for clients that accept it (the console's bundle shrinks to a
// third, JSON lists to a tenth), except event streams, which must flush as
// they are written.
func withWeb(api http.Handler) (http.Handler, error) {
	ui := web.Handler()
	gz, err := gzhttp.NewWrapper(gzhttp.ExceptContentTypes([]string{"text/event-stream"}))
	if err != nil {
		return nil, err
	}
	return gz(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/api" || strings.HasPrefix(p, "/api/"), p == "/healthz", p == "/readyz", p == "/metrics":
			api.ServeHTTP(w, r)
		default:
			ui.ServeHTTP(w, r)
		}
	})), nil
}
