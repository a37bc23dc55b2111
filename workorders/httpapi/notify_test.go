package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/notify"
	"github.com/openpdm/pdm/workorders/postgres"
	"github.com/openpdm/pdm/workorders/requests"
)

// fieldNames lists the fields a 4xx answer names.
func fieldNames(t *testing.T, b []byte) []string {
	t.Helper()
	var fs []string
	for f := range fieldsOf(t, b) {
		fs = append(fs, f)
	}
	return fs
}

// TestNotificationTemplates: administrators edit what a notification says
// per kind, locale and channel; a draft is parsed and rendered against a
// sample before anything is stored, every invalid part is named; the
// notifier sends what was stored, and a reset brings the default back.
func TestNotificationTemplates(t *testing.T) {
	t.Parallel()
	var st *postgres.Store
	changed := 0
	e := newEnv(t, func(c *httpapi.Config) {
		st = c.Service.Store.(*postgres.Store)
		c.Requests = httpapi.RequestsConfig{Service: requests.New(st, c.Service, nil, nil), Notify: st, Templates: st,
			PublicURL: "https://pdm.example.com", NotifyChanged: func() { changed++ }}
	})
	ctx := context.Background()
	const one = "/api/v1/notifications/templates/request_received/en/email"

	// Every kind × locale × channel, all defaults at first.
	var all httpapi.List[notify.Template]
	e.mustJSON("GET", "/api/v1/notifications/templates", workorders.RolePlanner, nil, 200, &all)
	require.Len(t, all.Items, len(notify.Kinds())*2*2)
	for _, tm := range all.Items {
		require.False(t, tm.Custom, tm.Kind)
		require.Equal(t, tm.Default, tm.TemplateParts, tm.Kind)
		require.NotEmpty(t, tm.Text, tm.Kind)
		require.Equal(t, tm.Channel == "email", tm.Subject != "", "%s/%s/%s: only email has a subject", tm.Kind, tm.Locale, tm.Channel)
	}
	var def notify.Template
	e.mustJSON("GET", "/api/v1/notifications/templates/request_received/zh-CN/chat", workorders.RoleViewer, nil, 403, nil)
	e.mustJSON("GET", "/api/v1/notifications/templates/request_received/zh-CN/chat", workorders.RolePlanner, nil, 200, &def)
	require.Contains(t, def.Text, "您的报修已受理")

	// Bad input: every invalid part named at once, nothing stored.
	code, b := e.do("PUT", one, e.tokens[workorders.RoleAdmin], map[string]any{
		"subject": "{{.Nope}}", "text": "{{if .Title}}open", "html": "<p>{{.Title</p>"})
	require.Equal(t, 400, code, string(b))
	require.ElementsMatch(t, []string{"text", "html"}, fieldNames(t, b), string(b))
	code, b = e.do("PUT", one, e.tokens[workorders.RoleAdmin], map[string]any{
		"subject": "{{.Nope}}", "text": "{{.Title | printf \"%s\" | len | html}} {{.When .Title}}", "html": "<p>{{.Missing}}</p>"})
	require.Equal(t, 400, code, string(b))
	require.ElementsMatch(t, []string{"subject", "text", "html"}, fieldNames(t, b), string(b))
	require.Contains(t, string(b), "Nope")
	code, b = e.do("PUT", one, e.tokens[workorders.RoleAdmin], map[string]any{"subject": "  ", "text": ""})
	require.Equal(t, 400, code, string(b))
	require.Contains(t, fieldNames(t, b), "text")
	code, b = e.do("PUT", one, e.tokens[workorders.RoleAdmin], map[string]any{"subject": " ", "text": "x"})
	require.Equal(t, 400, code, string(b))
	require.Equal(t, []string{"subject"}, fieldNames(t, b))
	// A template that only fails without the optional facts (no engineer,
	// ETA or link yet) is refused too.
	code, b = e.do("PUT", one, e.tokens[workorders.RoleAdmin], map[string]any{"subject": "s", "text": "{{.When .ETA | printf \"%.3s\"}}{{index .Link 0}}"})
	require.Equal(t, 400, code, string(b))
	require.Equal(t, []string{"text"}, fieldNames(t, b))
	// A runaway template stops at 256 KiB.
	code, b = e.do("PUT", one, e.tokens[workorders.RoleAdmin], map[string]any{"subject": "s", "text": "{{range 100000000}}xxxxxxxx{{end}}"})
	require.Equal(t, 400, code, string(b))
	require.Contains(t, string(b), "256 KiB")
	code, b = e.do("PUT", "/api/v1/notifications/templates/request_received/en/chat", e.tokens[workorders.RoleAdmin],
		map[string]any{"subject": "s", "text": "t", "html": "<p>h</p>"})
	require.Equal(t, 400, code, string(b))
	require.ElementsMatch(t, []string{"subject", "html"}, fieldNames(t, b))
	code, b = e.do("PUT", "/api/v1/notifications/templates/nope/fr/fax", e.tokens[workorders.RoleAdmin], map[string]any{"text": "t"})
	require.Equal(t, 400, code, string(b))
	require.ElementsMatch(t, []string{"kind", "locale", "channel"}, fieldNames(t, b))
	code, b = e.do("PUT", one, e.tokens[workorders.RoleAdmin], map[string]any{"text": "t", "colour": "red"})
	require.Equal(t, 400, code, string(b))
	code, _ = e.do("PUT", one, e.tokens[workorders.RolePlanner], map[string]any{"subject": "s", "text": "t"})
	require.Equal(t, 403, code)
	require.Zero(t, changed)
	custom, err := st.CustomTemplates(ctx)
	require.NoError(t, err)
	require.Empty(t, custom, "nothing is stored from bad input")

	// Preview renders a draft against the sample without storing it.
	draft := map[string]any{"subject": "Got it: {{.Number}}", "text": "Dear customer,\n\nwe have {{.Title}}.\n\n{{.Link}}",
		"html": "<h1>{{.Number}}</h1><b>{{.Title}}</b>{{range .Paragraphs}}<p>{{.}}</p>{{end}}"}
	var pv notify.Rendered
	e.mustJSON("POST", one+"/preview", workorders.RolePlanner, draft, 200, &pv)
	require.Equal(t, "Got it: WO-1042", pv.Subject)
	require.Contains(t, pv.Text, "Pump vibration high")
	require.Contains(t, pv.HTML, "<h1>WO-1042</h1>")
	code, b = e.do("POST", one+"/preview", e.tokens[workorders.RolePlanner], map[string]any{"subject": "{{", "text": "t"})
	require.Equal(t, 400, code, string(b))
	require.Equal(t, []string{"subject"}, fieldNames(t, b))

	// Stored, and used by the notifier.
	var put notify.Template
	e.mustJSON("PUT", one, workorders.RoleAdmin, draft, 200, &put)
	require.True(t, put.Custom)
	require.Equal(t, "Got it: {{.Number}}", put.Subject)
	require.Equal(t, notify.DefaultVersion, put.BasedOn)
	require.False(t, put.Outdated)
	require.NotNil(t, put.UpdatedAt)
	require.Contains(t, put.Default.Subject, "We received your request")
	require.Equal(t, 1, changed)
	chat := map[string]any{"text": "New request {{.Number}} at {{.SiteName}}"}
	e.mustJSON("PUT", "/api/v1/notifications/templates/new_proposed_order/en/chat", workorders.RoleAdmin, chat, 200, nil)

	n := notify.New(st, nil, nil, nil)
	n.Templates = st
	n.PublicURL = "https://pdm.example.com"
	_, asset, _, _ := e.seed()
	var created httpapi.RequestCreated
	e.mustJSON("POST", "/api/v1/requests", workorders.RolePlanner, map[string]any{"asset_id": asset.ID, "title": "Noise <script>",
		"requester": map[string]any{"name": "Zhang", "email": "zhang@example.com", "locale": "en"}}, 201, &created)
	_, err = st.CreateSubscription(ctx, notify.Subscription{Channel: notify.ChanSlack, Target: "https://hooks.example.com/x",
		Kinds: []string{notify.KindNewProposed}, Locale: "en", Active: true})
	require.NoError(t, err)
	o := workorders.Order{ID: created.OrderID}
	require.NoError(t, n.Notify(ctx, notify.KindRequestReceived, o, workorders.Event{}))
	require.NoError(t, n.Notify(ctx, notify.KindNewProposed, o, workorders.Event{}))
	out, err := st.Outbox(ctx, notify.StatusPending, 10)
	require.NoError(t, err)
	require.Len(t, out, 2)
	byKind := map[string]notify.Message{}
	for _, m := range out {
		byKind[m.Kind] = m
	}
	mail := byKind[notify.KindRequestReceived]
	require.True(t, strings.HasPrefix(mail.Subject, "Got it: WO-"), mail.Subject)
	require.Contains(t, mail.Text, "we have Noise <script>.")
	require.Contains(t, mail.Text, "https://pdm.example.com/s/")
	full, err := st.Claim(ctx, mail.CreatedAt.Add(1e12), 10, 1e9)
	require.NoError(t, err)
	for _, m := range full {
		if m.Kind == notify.KindRequestReceived {
			require.Contains(t, m.HTML, "<b>Noise &lt;script&gt;</b>", "the HTML body escapes the order's text")
			require.NotContains(t, m.HTML, "<script>")
		}
	}
	msg := byKind[notify.KindNewProposed]
	require.Empty(t, msg.Subject, "a chat message is one text")
	require.True(t, strings.HasPrefix(msg.Text, "New request WO-"), msg.Text)
	require.True(t, strings.HasSuffix(msg.Text, " at Plant 1"), msg.Text)

	// Reset: the default again, for the API and (once told) the notifier.
	var reset notify.Template
	e.mustJSON("DELETE", one, workorders.RoleAdmin, nil, 200, &reset)
	require.False(t, reset.Custom)
	require.Equal(t, reset.Default, reset.TemplateParts)
	e.mustJSON("DELETE", one, workorders.RoleAdmin, nil, 200, &reset) // again: still the default
	n.InvalidateTemplates()
	require.NoError(t, n.Notify(ctx, notify.KindRequestReceived, o, workorders.Event{}))
	out, err = st.Outbox(ctx, "", 1)
	require.NoError(t, err)
	require.Contains(t, out[0].Subject, "We received your request")
}
