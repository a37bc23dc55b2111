package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
)

// Every built-in template passes the check a custom one must pass.
func TestDefaultsPassTheirOwnCheck(t *testing.T) {
	for _, tm := range Templates(nil) {
		r, err := CheckTemplate(tm.Kind, tm.Locale, tm.Channel, tm.TemplateParts)
		require.NoError(t, err, "%s/%s/%s", tm.Kind, tm.Locale, tm.Channel)
		require.NotEmpty(t, r.Text)
		require.Equal(t, tm.Channel == TemplateEmail, r.Subject != "" && r.HTML != "", "%s/%s/%s", tm.Kind, tm.Locale, tm.Channel)
	}
}

// A custom template that passed the check but fails on a real order's
// data gives way to the default, and says which failed; one that works
// is used.
func TestCustomTemplateFallsBackToTheDefault(t *testing.T) {
	eta := time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)
	d := data{Facts: Facts{Number: "WO-7", Title: "Leak", SiteName: "Plant 1", AssetName: "Pump"}, Kind: KindEnRoute, ETA: &eta,
		Link: "https://x/s/t"}
	ts, err := NewTemplateSet([]Template{
		// index fails when the link is shorter than the sample's.
		{Kind: KindEnRoute, Locale: "en", Channel: TemplateEmail, TemplateParts: TemplateParts{Subject: "On the way {{index .Link 20}}", Text: "t"}},
		{Kind: KindEnRoute, Locale: "zh-CN", Channel: TemplateChat, TemplateParts: TemplateParts{Text: "{{.Number}} 出发，预计 {{.When .ETA}}"}},
		{Kind: KindCompleted, Locale: "en", Channel: TemplateEmail, TemplateParts: TemplateParts{Subject: "{{", Text: "t"}},
	})
	require.Error(t, err, "a template that does not compile is left out and reported")
	require.Contains(t, err.Error(), "completed/en/email")

	r, custom, err := ts.render(KindEnRoute, "en", ChanEmail, d)
	require.NoError(t, err)
	require.Error(t, custom)
	require.Contains(t, custom.Error(), "en_route/en/email")
	require.Equal(t, "[WO-7] Your engineer is on the way", r.Subject, "the default")

	r, custom, err = ts.render(KindEnRoute, "zh-CN", ChanDingTalk, d)
	require.NoError(t, err)
	require.NoError(t, custom)
	require.Equal(t, "WO-7 出发，预计 2026-05-04 09:30 UTC", r.Text)
	require.Empty(t, r.Subject)

	// An unknown locale is English; a chat message without a custom
	// template is the default's subject line and body.
	r, _, err = ts.render(KindCompleted, "fr", ChanSlack, d)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(r.Text, "[WO-7] Work completed: how did we do?\nHello,"), r.Text)
	_, _, err = ts.render("nope", "en", ChanEmail, d)
	var ve *workorders.ValidationError
	require.ErrorAs(t, err, &ve)
}

func TestCheckTemplateNamesEveryPart(t *testing.T) {
	_, err := CheckTemplate("nope", "fr", "fax", TemplateParts{Text: "t"})
	var ve *workorders.ValidationError
	require.ErrorAs(t, err, &ve)
	var fields []string
	for _, f := range ve.List() {
		fields = append(fields, f.Field)
	}
	require.ElementsMatch(t, []string{"kind", "locale", "channel"}, fields)

	_, err = CheckTemplate(KindAssigned, "en", TemplateEmail, TemplateParts{Subject: "{{.Nope}}", Text: "{{.Title.X}}", HTML: "<a href=\"{{.Link}}\">{{.Missing}}</a>"})
	require.ErrorAs(t, err, &ve)
	fields = nil
	for _, f := range ve.List() {
		fields = append(fields, f.Field)
	}
	require.ElementsMatch(t, []string{"subject", "text", "html"}, fields)
}

// BenchmarkRenderEmail renders one email (subject, text, HTML) with the
// compiled templates the notifier keeps; BenchmarkParseAndRenderEmail
// parses them for every message, as the notifier did before templates
// were cached.
func BenchmarkRenderEmail(b *testing.B) {
	ts, err := NewTemplateSet(nil)
	require.NoError(b, err)
	d := sampleData(KindCompleted, "zh-CN")
	for b.Loop() {
		if _, _, err := ts.render(KindCompleted, "zh-CN", ChanEmail, d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAndRenderEmail(b *testing.B) {
	d := sampleData(KindCompleted, "zh-CN")
	tp, _ := DefaultTemplate(KindCompleted, "zh-CN", TemplateEmail)
	for b.Loop() {
		c, p := compile(KindCompleted, tp, TemplateEmail)
		if p.Err() != nil {
			b.Fatal(p.Err())
		}
		if _, p := c.render(d, TemplateEmail); p.Err() != nil {
			b.Fatal(p.Err())
		}
	}
}
