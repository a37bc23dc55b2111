package servicetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

func TestTestDatabaseCreated(t *testing.T) {
	at, ok := testDatabaseCreated("pdm_t_1764450000_0a1b2c3d4e5f")
	if !ok || !at.Equal(time.Unix(1764450000, 0)) {
		t.Fatalf("got %v %v, want %v", at, ok, time.Unix(1764450000, 0))
	}
	for _, name := range []string{"pdm", "pdm_t_0a1b2c3d4e5f", "pdm_t_x_0a", "_internal", "pdm_t_"} {
		if _, ok := testDatabaseCreated(name); ok {
			t.Errorf("%q read as a test database with a creation time", name)
		}
	}
}

// TestInfluxDatabaseSweepsStaleOnes: a new test database drops the test
// databases created more than staleTestDatabase ago and keeps younger
// ones and databases that are not test databases.
func TestInfluxDatabaseSweepsStaleOnes(t *testing.T) {
	base := InfluxURL(t)
	now := time.Now()
	stale := fmt.Sprintf("pdm_t_%d_%s", now.Add(-staleTestDatabase-time.Minute).Unix(), "5eeded5eeded")
	young := fmt.Sprintf("pdm_t_%d_%s", now.Add(-time.Minute).Unix(), "900d900d900d")
	other := "pdm_sweep_keep_" + RandomID()
	for _, db := range []string{stale, young, other} {
		resp, err := http.PostForm(base+"/query", url.Values{"q": {"CREATE DATABASE " + db}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	t.Cleanup(func() {
		for _, db := range []string{young, other} {
			resp, err := http.PostForm(base+"/query", url.Values{"q": {"DROP DATABASE " + db}})
			if err == nil {
				resp.Body.Close()
			}
		}
	})
	mine := InfluxDatabase(t, base)
	names := databases(t, base)
	if slices.Contains(names, stale) {
		t.Errorf("%s (created %s ago) was not dropped", stale, staleTestDatabase+time.Minute)
	}
	for _, db := range []string{young, other, mine} {
		if !slices.Contains(names, db) {
			t.Errorf("%s was dropped; only test databases older than %s go", db, staleTestDatabase)
		}
	}
}

func databases(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.PostForm(base+"/query", url.Values{"q": {"SHOW DATABASES"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range out.Results {
		for _, s := range r.Series {
			for _, v := range s.Values {
				if name, ok := v[0].(string); ok {
					names = append(names, name)
				}
			}
		}
	}
	return names
}
