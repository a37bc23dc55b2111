package main

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/requests"
)

// requestsConfig builds customers' requests and status links.
func (c *core) requestsConfig(log *slog.Logger) httpapi.RequestsConfig {
	if c.reqs == nil {
		c.reqs = requests.New(c.store, c.svc, log.With("component", "requests"), time.Now)
	}
	return httpapi.RequestsConfig{Service: c.reqs}
}

// publicPages answers a request form of an unknown site or asset
// (/r/{site} or /r/{site}/{asset}) with the form page and status 404, so
// that the page shows "not found" and crawlers and scripts see it too.
func publicPages(reqs *requests.Service, next http.Handler) http.Handler {
	if reqs == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/r/")
		if !ok || r.Method != http.MethodGet || strings.Contains(rest, ".") {
			next.ServeHTTP(w, r)
			return
		}
		site, asset, _ := strings.Cut(strings.Trim(rest, "/"), "/")
		if _, err := reqs.Form(r.Context(), site, asset); errors.Is(err, workorders.ErrNotFound) || strings.Contains(asset, "/") {
			next.ServeHTTP(notFoundWriter{ResponseWriter: w, status: http.StatusNotFound}, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// notFoundWriter replaces a success status with its own.
type notFoundWriter struct {
	http.ResponseWriter
	status int
}

func (s notFoundWriter) WriteHeader(code int) {
	if code == http.StatusOK {
		code = s.status
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s notFoundWriter) Write(b []byte) (int, error) { return s.ResponseWriter.Write(b) }
