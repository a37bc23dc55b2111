package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	h := newHandler(fstest.MapFS{
		"index.html":       {Data: []byte("console")},
		"app/index.html":   {Data: []byte("app")},
		"pages/index.html": {Data: []byte("public")},
		"assets/c-1.js":    {Data: []byte("js")},
		"manifest.json":    {Data: []byte("{}")},
	})
	tests := []struct {
		name, method, path string
		status             int
		body, cache        string
	}{
		{"console root", "GET", "/", 200, "console", "no-cache"},
		{"console route survives a reload", "GET", "/orders/WO-000123", 200, "console", "no-cache"},
		{"app entry", "GET", "/app/", 200, "app", "no-cache"},
		{"app route", "GET", "/app/jobs/42", 200, "app", "no-cache"},
		{"app without slash", "GET", "/app", 200, "app", "no-cache"},
		{"request form", "GET", "/r/PLANT1/P-1", 200, "public", "no-cache"},
		{"status page", "GET", "/s/abc", 200, "public", "no-cache"},
		{"hashed asset is immutable", "GET", "/assets/c-1.js", 200, "js", "public, max-age=31536000, immutable"},
		{"other file", "GET", "/manifest.json", 200, "{}", "no-cache"},
		{"missing asset is 404, not the page", "GET", "/assets/old-9.js", 404, "", ""},
		{"the console's asset page is the page", "GET", "/assets/5f6943ac-b395-4bc9-aa1f-38f086c1cf67", 200, "console", "no-cache"},
		{"path traversal stays inside", "GET", "/../../etc/passwd", 200, "console", "no-cache"},
		{"no writes", "POST", "/", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status: got %d, want %d", rec.Code, tt.status)
			}
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Fatalf("body: got %q, want %q", rec.Body.String(), tt.body)
			}
			if got := rec.Header().Get("Cache-Control"); tt.cache != "" && got != tt.cache {
				t.Fatalf("Cache-Control: got %q, want %q", got, tt.cache)
			}
			if tt.status == 200 && rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Fatal("missing nosniff")
			}
		})
	}
}

func TestNotBuiltPageSaysHowToBuild(t *testing.T) {
	rec := httptest.NewRecorder()
	notBuilt(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "make web") {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	notBuilt(rec, httptest.NewRequest(http.MethodGet, "/assets/x.js", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("asset without a bundle: got %d, want 404", rec.Code)
	}
}
