package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var updateOpenAPI = flag.Bool("update-openapi", false, "rewrite web/openapi.json from the served document")

// webOpenAPI is the copy of the served OpenAPI document the web project
// generates its API types from (npm run gen:api).
var webOpenAPI = filepath.Join("..", "..", "web", "openapi.json")

// TestOpenAPIMatchesWebClient fails when the document `pdm serve` serves
// drifts from the one the web client's types were generated from. After an
// API change: go test ./cmd/pdm -run TestOpenAPIMatchesWebClient
// -update-openapi, then `make web` (the TypeScript check fails where the
// console uses what changed).
func TestOpenAPIMatchesWebClient(t *testing.T) {
	env := newTestEnv(t)
	api, _ := startServe(t, env, "pdm_openapi_"+env.ID, "--only", "api")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.base+"/openapi.json", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	got, err := json.MarshalIndent(doc, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	if *updateOpenAPI {
		require.NoError(t, os.WriteFile(webOpenAPI, got, 0o644))
		return
	}
	want, err := os.ReadFile(webOpenAPI)
	require.NoError(t, err)
	if !bytes.Equal(got, want) {
		t.Fatalf("the served OpenAPI document differs from %s: run\n  go test ./cmd/pdm -run TestOpenAPIMatchesWebClient -update-openapi\nthen `make web` and fix the console where its types no longer check", webOpenAPI)
	}
}
