package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWithWebRoutesAndCompresses(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"api":"`+r.URL.Path+`","pad":"`+strings.Repeat("x", 4096)+`"}`)
	})
	h, err := withWeb(api)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path  string
		toAPI bool
	}{
		{"/api/v1/work-orders", true}, {"/healthz", true}, {"/readyz", true}, {"/metrics", true},
		{"/", false}, {"/orders/WO-000001", false}, {"/apiary", false},
	} {
		req := httptest.NewRequest(http.MethodGet, tt.path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		gotAPI := rec.Header().Get("Content-Type") == "application/json"
		if gotAPI != tt.toAPI {
			t.Errorf("%s: served by the API %v, want %v", tt.path, gotAPI, tt.toAPI)
		}
		if tt.toAPI && rec.Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: a 4 KiB JSON answer is not gzipped", tt.path)
		}
	}
}
