package eval

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/simulators"
)

// fakeAPI keeps sites, assets and rules in memory, like the platform's
// REST API as far as Provision uses it.
type fakeAPI struct {
	mu     sync.Mutex // guards the fields below
	sites  []map[string]any
	assets []map[string]any
	rules  []map[string]any
	posts  int
	puts   int
	fail   string // path whose POST answers 422
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := strings.CutPrefix(r.URL.Path, "/api/v1/rules/"); ok && r.Method == http.MethodPut {
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for i, it := range f.rules {
			if it["id"] == id {
				in["id"] = id
				f.rules[i] = in
				f.puts++
				json.NewEncoder(w).Encode(in)
				return
			}
		}
		http.NotFound(w, r)
		return
	}
	coll := map[string]*[]map[string]any{"/api/v1/sites": &f.sites, "/api/v1/assets": &f.assets, "/api/v1/rules": &f.rules}[r.URL.Path]
	if coll == nil {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		var items []map[string]any
		for _, it := range *coll {
			if sid := r.URL.Query().Get("site_id"); sid != "" && it["site_id"] != sid {
				continue
			}
			items = append(items, it)
		}
		json.NewEncoder(w).Encode(map[string]any{"items": items, "next_cursor": ""})
	case http.MethodPost:
		if r.URL.Path == f.fail {
			w.WriteHeader(http.StatusUnprocessableEntity)
			w.Write([]byte(`{"error":{"code":"validation","message":"metric: unknown"}}`))
			return
		}
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.posts++
		in["id"] = fmt.Sprintf("id-%d", f.posts)
		*coll = append(*coll, in)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(in)
	}
}

func TestProvisionIsIdempotent(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s, err := simulators.LoadScenario("demo", time.Now())
	require.NoError(t, err)
	c, err := NewClient(srv.URL, "tok", nil)
	require.NoError(t, err)

	p, err := c.Provision(t.Context(), s)
	require.NoError(t, err)
	require.Equal(t, 20, p.CreatedAssets)
	require.Equal(t, 2, p.CreatedRules)
	require.Len(t, p.AssetIDs, 20)
	require.Len(t, api.sites, 1)
	require.Equal(t, "DEMO", api.sites[0]["code"])
	a := api.assets[len(api.assets)-1]
	require.Equal(t, p.SiteID, a["site_id"])
	require.Equal(t, "fan", a["type"])
	r := api.rules[0]
	require.Equal(t, "pump bearing wear", r["name"])
	require.Equal(t, "10m", r["for"])
	require.Equal(t, 7.1, r["critical"])
	require.NotContains(t, r, "created_at")

	again, err := c.Provision(t.Context(), s)
	require.NoError(t, err)
	require.Zero(t, again.CreatedAssets)
	require.Zero(t, again.CreatedRules)
	require.Equal(t, p.SiteID, again.SiteID)
	require.Equal(t, p.AssetIDs, again.AssetIDs)
	require.Len(t, api.assets, 20)
	require.Empty(t, again.UpdatedRules)
	require.Zero(t, api.puts, "rules with the scenario's settings are left alone")

	// A rule of the same name with other settings is replaced and named.
	api.mu.Lock()
	api.rules[0]["critical"] = 9.9
	api.rules[0]["for"] = "1h"
	api.mu.Unlock()
	third, err := c.Provision(t.Context(), s)
	require.NoError(t, err)
	require.Equal(t, []string{"pump bearing wear"}, third.UpdatedRules)
	require.Zero(t, third.CreatedRules)
	require.Equal(t, 1, api.puts)
	require.Equal(t, 7.1, api.rules[0]["critical"])
	require.Equal(t, "10m", api.rules[0]["for"])
}

func TestProvisionReportsTheAPIError(t *testing.T) {
	api := &fakeAPI{fail: "/api/v1/rules"}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s, err := simulators.LoadScenario("demo", time.Now())
	require.NoError(t, err)
	c, err := NewClient(srv.URL, "tok", nil)
	require.NoError(t, err)
	_, err = c.Provision(t.Context(), s)
	require.ErrorContains(t, err, `rule "pump bearing wear": POST /api/v1/rules: 422 Unprocessable Entity: metric: unknown (validation)`)
}
