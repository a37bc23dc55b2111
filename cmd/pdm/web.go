package main

import (
	"net/http"
	"strings"

	"github.com/openpdm/pdm/web"
)

// withWeb serves the API (and health, readiness and metrics) as before and
// everything else from the embedded front end: the console at /, the
// engineers' app at /app/, the public pages at /r/ and /s/.
func withWeb(api http.Handler) http.Handler {
	ui := web.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/api" || strings.HasPrefix(p, "/api/"), p == "/healthz", p == "/readyz", p == "/metrics":
			api.ServeHTTP(w, r)
		default:
			ui.ServeHTTP(w, r)
		}
	})
}
