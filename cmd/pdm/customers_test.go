package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestCustomerFilesRequestAndFollowsIt drives the public pages in Chromium
// against a real `pdm serve`: a customer opens the asset's form (as from
// its QR label), files a request, follows the status link while the order
// runs its course, reads the completion report and rates it in one tap. An
// unknown code shows a clear not-found page with status 404.
func TestCustomerFilesRequestAndFollowsIt(t *testing.T) {
	env := newTestEnv(t)
	token := "customer-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var site, pump idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "S1", "name": "Plant 1"}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-1", "type": "pump",
		"name": "Feed pump 1", "criticality": 3}, &pump))
	var eng struct {
		ID string `json:"id"`
	}
	require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": "Wang Wei", "role": "engineer"}, &eng))
	base := strings.TrimSuffix(api.base, "/api/v1")

	resp, err := http.Get(base + "/r/S1/NOPE")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "an unknown asset code is a 404 page")

	b := newBrowser(t)
	runBrowser(t, b, 30*time.Second, "unknown code page",
		chromedp.Navigate(base+"/r/S1/NOPE"),
		chromedp.WaitVisible(`[data-testid="not-found"]`, chromedp.ByQuery),
	)
	var statusHref string
	runBrowser(t, b, 40*time.Second, "file a request",
		chromedp.Navigate(base+"/r/S1/P-1"),
		chromedp.WaitVisible(`textarea[name="description"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//strong[text()="Feed pump 1"]`),
		chromedp.Click(`[data-testid="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`.pub-error[data-field="description"]`, chromedp.ByQuery),
		chromedp.SendKeys(`textarea[name="description"]`, "Loud grinding noise <script>x()</script>", chromedp.ByQuery),
		chromedp.SendKeys(`input[name="requester.email"]`, "li@example.com", chromedp.ByQuery),
		chromedp.Click(`[data-testid="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="status-link"]`, chromedp.ByQuery),
		chromedp.AttributeValue(`[data-testid="status-link"]`, "href", &statusHref, nil),
		chromedp.Click(`[data-testid="status-link"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-stage="received"]`, chromedp.ByQuery),
	)
	require.True(t, strings.HasPrefix(statusHref, "/s/"), statusHref)

	var l listOf[orderJSON]
	require.NoError(t, api.do(ctx, "GET", "/work-orders?source=request", nil, &l))
	require.Len(t, l.Items, 1)
	o := l.Items[0]
	require.Equal(t, "proposed", o.Status)
	require.Equal(t, "Loud grinding noise <script>x()</script>", o.Title, "stored as typed, escaped where shown")
	for _, step := range []struct {
		action string
		body   any
	}{
		{"approve", nil}, {"assign", map[string]any{"assignee_id": eng.ID}}, {"accept", nil}, {"start", nil},
		{"complete", map[string]any{"resolution": "Replaced the bearing; noise gone.", "labour_time": "1h"}},
	} {
		require.NoError(t, api.do(ctx, "POST", "/work-orders/"+o.ID+"/"+step.action, step.body, nil), step.action)
	}
	var engineer string
	runBrowser(t, b, 40*time.Second, "follow the order to completion and rate it",
		chromedp.Reload(),
		chromedp.WaitVisible(`[data-stage="completed"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//p[@data-testid="report"][contains(., "Replaced the bearing")]`),
		chromedp.Text(`[data-testid="engineer"]`, &engineer, chromedp.ByQuery),
		chromedp.Click(`[data-score="4"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="rated"]`, chromedp.ByQuery),
	)
	require.Contains(t, engineer, "Wang")
	require.NotContains(t, engineer, "Wei", "only the first name")
	var title string
	runBrowser(t, b, 10*time.Second, "title shown as text",
		chromedp.Text(`.pub-title`, &title, chromedp.ByQuery))
	require.Contains(t, title, "<script>", "text is escaped, not run")

	var v struct {
		Survey struct {
			Score *int `json:"score"`
		} `json:"survey"`
	}
	require.NoError(t, api.do(ctx, "GET", "/public/status/"+strings.TrimPrefix(statusHref, "/s/"), nil, &v))
	require.NotNil(t, v.Survey.Score)
	require.Equal(t, 4, *v.Survey.Score)
}
