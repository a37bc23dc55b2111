package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestPlannerMergesFromInboxAndReadsReports drives the console in
// Chromium against a real `pdm serve`: two customers report the same
// fault; the planner finds both in the request inbox, merges the second
// into the first, and reads the requests by channel in the reports.
func TestPlannerMergesFromInboxAndReadsReports(t *testing.T) {
	env := newTestEnv(t)
	token := "inbox-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var site, pump idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "S1", "name": "Plant 1"}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-1", "type": "pump",
		"name": "Feed pump 1", "criticality": 3}, &pump))
	var first, second struct {
		Number  string `json:"number"`
		OrderID string `json:"order_id"`
	}
	require.NoError(t, api.do(ctx, "POST", "/public/requests", map[string]any{"site": "S1", "asset": "P-1",
		"description": "Pump leaks oil", "requester": map[string]any{"email": "a@example.com"}}, &first))
	require.NoError(t, api.do(ctx, "POST", "/public/requests", map[string]any{"site": "S1", "asset": "P-1",
		"description": "Oil under the feed pump", "requester": map[string]any{"email": "b@example.com"}}, &second))
	var planner struct {
		Token string `json:"token"`
	}
	require.NoError(t, api.do(ctx, "POST", "/users", map[string]any{"name": "Li Na", "role": "planner"}, &planner))

	b := newBrowser(t)
	base := strings.TrimSuffix(api.base, "/api/v1")
	runBrowser(t, b, 30*time.Second, "sign in",
		signIn(base+"/", planner.Token),
		chromedp.WaitVisible("#review-title", chromedp.ByID),
	)
	row := `tr[data-order="` + second.Number + `"]`
	var merged string
	runBrowser(t, b, 40*time.Second, "merge in the inbox",
		chromedp.Navigate(base+"/requests"),
		chromedp.WaitVisible(`tr[data-order="`+first.Number+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible(row+` input`, chromedp.ByQuery),
		chromedp.SendKeys(row+` input`, first.Number, chromedp.ByQuery),
		chromedp.Click(row+` button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="inbox-notice"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="inbox-notice"]`, &merged, chromedp.ByQuery),
	)
	require.Contains(t, merged, second.Number+" merged into "+first.Number)
	var o orderJSON
	require.NoError(t, api.do(ctx, "GET", "/work-orders/"+second.OrderID, nil, &o))
	require.Equal(t, "merged", o.Status)

	var bars string
	var legend string
	var xlsx string
	runBrowser(t, b, 40*time.Second, "reports",
		chromedp.Navigate(base+"/reports"),
		chromedp.WaitVisible(`//section[@data-testid="report-channels"]//tr[td[2][text()="2"]]`),
		chromedp.WaitVisible(`//section[@data-testid="report-channels"]//a[text()="XLSX"]`),
		// The chart: uPlot's canvas with one bar per channel and a legend.
		chromedp.WaitVisible(`[data-testid="report-channels"] .report-chart canvas`, chromedp.ByQuery),
		chromedp.AttributeValue(`[data-testid="report-channels"] .report-chart`, "data-bars", &bars, nil, chromedp.ByQuery),
		chromedp.Text(`[data-testid="report-channels"] .u-legend`, &legend, chromedp.ByQuery),
		// The repeat window goes to the repeats' reports and exports.
		chromedp.SetValue(`#report-window`, "14", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('report-window').dispatchEvent(new Event('change', { bubbles: true }))`, nil),
		chromedp.WaitVisible(`//section[@data-testid="report-repeats"]//h2[contains(., "14")]`),
		chromedp.AttributeValue(`//section[@data-testid="report-repeats"]//a[text()="XLSX"]`, "href", &xlsx, nil),
	)
	require.Equal(t, "1", bars)
	require.Contains(t, legend, "Requests")
	require.Contains(t, xlsx, "repeat_window=14d")
	req, err := http.NewRequestWithContext(ctx, "GET", base+xlsx, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "the export link with the window works")

	// Notification settings: a planner sees where notifications go (only
	// an admin changes them).
	require.NoError(t, api.do(ctx, "POST", "/notifications/subscriptions", map[string]any{"channel": "email",
		"target": "planners@example.com", "locale": "zh-CN"}, nil))
	runBrowser(t, b, 40*time.Second, "notification settings",
		chromedp.Navigate(base+"/notifications"),
		chromedp.WaitVisible(`//table[@data-testid="subscriptions"]//td[text()="planners@example.com"]`),
	)
	var forms int
	runBrowser(t, b, 5*time.Second, "no add form for planners",
		chromedp.Evaluate(`document.querySelectorAll('[data-testid="add-subscription"]').length`, &forms))
	require.Zero(t, forms)
}

// TestAdminEditsNotificationTemplate drives the template editor in
// Chromium against a real `pdm serve`: an invalid draft names its field
// and is not saved; a valid one previews against the sample order, is
// saved, and the API serves it; a reset brings the built-in one back.
func TestAdminEditsNotificationTemplate(t *testing.T) {
	env := newTestEnv(t)
	token := "tmpl-admin-" + env.ID + "-0123456789abcdef"
	api, _ := startServe(t, env, token)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := newBrowser(t)
	base := strings.TrimSuffix(api.base, "/api/v1")
	// set types into a Preact-controlled field (replacing its text).
	set := func(sel, v string) chromedp.Action {
		return chromedp.Evaluate(`(() => { const el = document.querySelector(`+jsString(sel)+`);
			el.value = `+jsString(v)+`; el.dispatchEvent(new Event('input', { bubbles: true })); return true })()`, nil)
	}
	const subject = `[data-testid="templates"] input`
	const text = `[data-testid="templates"] textarea`
	button := func(label string) string {
		return `//section[@data-testid="templates"]//button[text()="` + label + `"]`
	}
	var state, fieldErr, preview string
	runBrowser(t, b, 40*time.Second, "invalid draft",
		signIn(base+"/", token),
		chromedp.WaitVisible("#review-title", chromedp.ByID),
		chromedp.Navigate(base+"/notifications"),
		chromedp.WaitVisible(`[data-testid="template-state"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="template-state"]`, &state, chromedp.ByQuery),
		set(subject, "Received {{.Nope}}"),
		chromedp.Click(button("Save")),
		chromedp.WaitVisible(`[data-field="subject"]`, chromedp.ByQuery),
		chromedp.Text(`[data-field="subject"]`, &fieldErr, chromedp.ByQuery),
	)
	require.Equal(t, "built-in", state)
	require.Contains(t, fieldErr, "Nope")
	var got struct {
		Custom  bool   `json:"custom"`
		Subject string `json:"subject"`
	}
	require.NoError(t, api.do(ctx, "GET", "/notifications/templates/request_received/en/email", nil, &got))
	require.False(t, got.Custom, "an invalid draft is not stored")

	var htmlText, builtin string
	var pwned bool
	runBrowser(t, b, 40*time.Second, "preview and save",
		set(subject, "Received: {{.Number}} {{.AssetName}}"),
		set(text, "Hello,\n\n{{.Title}} is in our queue."),
		// The HTML preview is drawn in a sandboxed frame under the
		// console's CSP: a script in a template does not run.
		chromedp.Evaluate(`(() => { const ts = document.querySelectorAll('[data-testid="templates"] textarea');
			const el = ts[ts.length - 1];
			el.value = '<p>{{.Title}}</p><script>parent.document.body.dataset.pwned = "1"</script>';
			el.dispatchEvent(new Event('input', { bubbles: true })); return true })()`, nil),
		chromedp.Click(button("Preview")),
		chromedp.WaitVisible(`[data-testid="template-preview"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="template-preview"]`, &preview, chromedp.ByQuery),
		chromedp.Sleep(300*time.Millisecond),
		chromedp.Evaluate(`document.querySelector('[data-testid="template-html"]').contentDocument.body.innerText`, &htmlText),
		chromedp.Evaluate(`document.body.dataset.pwned === "1"`, &pwned),
		chromedp.Evaluate(`(() => { const ts = document.querySelectorAll('[data-testid="templates"] textarea');
			const el = ts[ts.length - 1]; el.value = ''; el.dispatchEvent(new Event('input', { bubbles: true })); return true })()`, nil),
		chromedp.Click(button("Save")),
		chromedp.WaitVisible(`//span[@data-testid="template-state"][text()="customised"]`),
		// The built-in one stays at hand to compare with.
		chromedp.Click(`[data-testid="template-default"] summary`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="template-default"]`, &builtin, chromedp.ByQuery),
	)
	require.Contains(t, builtin, "We received your request")
	require.Contains(t, preview, "Received: WO-1042 Pump P-7")
	require.Contains(t, preview, "Pump vibration high is in our queue.")
	require.Equal(t, "Pump vibration high", strings.TrimSpace(htmlText))
	require.False(t, pwned, "a script in the HTML preview must not run")
	require.NoError(t, api.do(ctx, "GET", "/notifications/templates/request_received/en/email", nil, &got))
	require.True(t, got.Custom)
	require.Equal(t, "Received: {{.Number}} {{.AssetName}}", got.Subject)

	runBrowser(t, b, 40*time.Second, "reset",
		chromedp.Click(button("Reset to built-in")),
		chromedp.WaitVisible(`//span[@data-testid="template-state"][text()="built-in"]`),
	)
	require.NoError(t, api.do(ctx, "GET", "/notifications/templates/request_received/en/email", nil, &got))
	require.False(t, got.Custom)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
