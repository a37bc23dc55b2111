package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/openpdm/pdm/workorders"
)

// data is what a template sees.
type data struct {
	Facts
	Kind string
	ETA  *time.Time
	// Link is the status page (customers) or the order in the console.
	Link string
	Base string
	// Actor and Note: who did it and what they wrote (personal kinds).
	Actor string
	Note  string
}

// Rate returns the one-tap rating link for score n.
func (d data) Rate(n int) string {
	if d.Link == "" {
		return ""
	}
	return d.Link + "?rate=" + string(rune('0'+n))
}

// When formats a time for the message's reader (UTC; the status page shows
// local time).
func (d data) When(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

type tmpl struct{ subject, text string }

// templates holds each kind's subject and body per language; the HTML
// body is the text body's paragraphs, escaped, plus the links as buttons.
var templates = map[string]map[string]tmpl{
	KindRequestReceived: {
		"en":    {"[{{.Number}}] We received your request", "Hello,\n\nwe received your request about {{.AssetName}} at {{.SiteName}}: \"{{.Title}}\".\nIts number is {{.Number}}.{{if .Link}}\n\nFollow it here: {{.Link}}{{end}}\n\nThank you."},
		"zh-CN": {"【{{.Number}}】您的报修已受理", "您好：\n\n我们已收到您关于 {{.SiteName}} {{.AssetName}} 的报修：“{{.Title}}”。\n报修单号 {{.Number}}。{{if .Link}}\n\n查看处理进度：{{.Link}}{{end}}\n\n谢谢！"},
	},
	KindAssigned: {
		"en":    {"[{{.Number}}] An engineer is assigned", "Hello,\n\n{{if .Engineer}}{{.Engineer}}{{else}}an engineer{{end}} will take care of your request {{.Number}} ({{.AssetName}}).{{if .Link}}\n\nFollow it here: {{.Link}}{{end}}"},
		"zh-CN": {"【{{.Number}}】已为您安排工程师", "您好：\n\n{{if .Engineer}}{{.Engineer}}{{else}}工程师{{end}}将处理您的报修 {{.Number}}（{{.AssetName}}）。{{if .Link}}\n\n查看处理进度：{{.Link}}{{end}}"},
	},
	KindEnRoute: {
		"en":    {"[{{.Number}}] Your engineer is on the way", "Hello,\n\n{{if .Engineer}}{{.Engineer}}{{else}}Your engineer{{end}} is on the way to {{.SiteName}}.{{if .ETA}}\nExpected arrival: {{.When .ETA}}.{{end}}{{if .Link}}\n\nFollow it here: {{.Link}}{{end}}"},
		"zh-CN": {"【{{.Number}}】工程师正在路上", "您好：\n\n{{if .Engineer}}{{.Engineer}}{{else}}工程师{{end}}正在前往 {{.SiteName}}。{{if .ETA}}\n预计到达：{{.When .ETA}}。{{end}}{{if .Link}}\n\n查看处理进度：{{.Link}}{{end}}"},
	},
	KindCompleted: {
		"en":    {"[{{.Number}}] Work completed: how did we do?", "Hello,\n\nthe work on {{.AssetName}} ({{.Number}}) is completed.{{if .Link}}\n\nThe report: {{.Link}}\n\nHow satisfied are you? One click rates us:\n1 {{.Rate 1}}\n2 {{.Rate 2}}\n3 {{.Rate 3}}\n4 {{.Rate 4}}\n5 {{.Rate 5}}{{end}}\n\nThank you."},
		"zh-CN": {"【{{.Number}}】维修已完成，请您评价", "您好：\n\n{{.AssetName}}（{{.Number}}）的维修已完成。{{if .Link}}\n\n完工报告：{{.Link}}\n\n您对本次服务满意吗？点击即可评分：\n1 分 {{.Rate 1}}\n2 分 {{.Rate 2}}\n3 分 {{.Rate 3}}\n4 分 {{.Rate 4}}\n5 分 {{.Rate 5}}{{end}}\n\n谢谢！"},
	},
	KindNewProposed: {
		"en":    {"[{{.Number}}] New order to review: {{.Title}}", "{{.Number}} {{.Priority}} {{.SiteName}} / {{.AssetName}}: {{.Title}}\n{{.Link}}"},
		"zh-CN": {"【{{.Number}}】新工单待审核：{{.Title}}", "{{.Number}} {{.Priority}} {{.SiteName}} / {{.AssetName}}：{{.Title}}\n{{.Link}}"},
	},
	KindSLAAtRisk: {
		"en":    {"[{{.Number}}] SLA at risk", "{{.Number}} {{.Priority}} {{.SiteName}} / {{.AssetName}} is at risk of missing its SLA: {{.Title}}\n{{.Link}}"},
		"zh-CN": {"【{{.Number}}】SLA 即将超时", "{{.Number}} {{.Priority}} {{.SiteName}} / {{.AssetName}} 即将超出 SLA：{{.Title}}\n{{.Link}}"},
	},
	KindSLABreached: {
		"en":    {"[{{.Number}}] SLA breached", "{{.Number}} {{.Priority}} {{.SiteName}} / {{.AssetName}} missed its SLA: {{.Title}}\n{{.Link}}"},
		"zh-CN": {"【{{.Number}}】SLA 已超时", "{{.Number}} {{.Priority}} {{.SiteName}} / {{.AssetName}} 已超出 SLA：{{.Title}}\n{{.Link}}"},
	},
	KindTransferProposed: {
		"en":    {"[{{.Number}}] Transfer to approve: {{.Title}}", "{{.Actor}} asks to transfer {{.Number}} {{.Priority}} {{.SiteName}} / {{.AssetName}}: {{.Title}}{{if .Note}}\n{{.Note}}{{end}}\n{{.Link}}"},
		"zh-CN": {"【{{.Number}}】转单待审批：{{.Title}}", "{{.Actor}} 申请转出工单 {{.Number}} {{.Priority}} {{.SiteName}} / {{.AssetName}}：{{.Title}}{{if .Note}}\n{{.Note}}{{end}}\n{{.Link}}"},
	},
	KindMention: {
		"en":    {"[{{.Number}}] {{.Actor}} mentioned you", "{{.Actor}} mentioned you on {{.Number}} ({{.AssetName}}, {{.SiteName}}):\n\n{{.Note}}\n\n{{.Link}}"},
		"zh-CN": {"【{{.Number}}】{{.Actor}} 在工单中提到了您", "{{.Actor}} 在工单 {{.Number}}（{{.SiteName}} {{.AssetName}}）中提到了您：\n\n{{.Note}}\n\n{{.Link}}"},
	},
	KindHelpRequested: {
		"en":    {"[{{.Number}}] {{.Actor}} asks for your help", "{{.Actor}} added you as a helper on {{.Number}} ({{.AssetName}}, {{.SiteName}}): {{.Title}}{{if .Note}}\n\n{{.Note}}{{end}}\n\n{{.Link}}"},
		"zh-CN": {"【{{.Number}}】{{.Actor}} 请您协助", "{{.Actor}} 邀请您协助工单 {{.Number}}（{{.SiteName}} {{.AssetName}}）：{{.Title}}{{if .Note}}\n\n{{.Note}}{{end}}\n\n{{.Link}}"},
	},
	KindTransferred: {
		"en":    {"[{{.Number}}] A job is transferred to you", "{{.Number}} ({{.AssetName}}, {{.SiteName}}) is now yours: {{.Title}}{{if .Note}}\n\n{{.Note}}{{end}}\n\n{{.Link}}"},
		"zh-CN": {"【{{.Number}}】工单已转给您", "工单 {{.Number}}（{{.SiteName}} {{.AssetName}}）已转给您：{{.Title}}{{if .Note}}\n\n{{.Note}}{{end}}\n\n{{.Link}}"},
	},
}

// Template channels: an email has a subject, a plain body and an HTML
// body; a chat message (WeCom, DingTalk, Slack) has one text.
const (
	TemplateEmail = "email"
	TemplateChat  = "chat"
)

// TemplateChannel is the template channel a message channel uses.
func TemplateChannel(channel string) string {
	if channel == ChanEmail {
		return TemplateEmail
	}
	return TemplateChat
}

// Kinds lists every kind of message, in the order screens show them.
func Kinds() []string {
	return []string{KindRequestReceived, KindAssigned, KindEnRoute, KindCompleted, KindNewProposed, KindSLAAtRisk,
		KindSLABreached, KindTransferProposed, KindMention, KindHelpRequested, KindTransferred}
}

// Locales lists the languages messages are written in.
func Locales() []string { return []string{"en", "zh-CN"} }

// DefaultVersion is the version of the built-in templates. Raise it when
// a default's text changes: custom templates edited from an older version
// are then marked outdated, so an administrator sees there is something
// new to carry over.
const DefaultVersion = 1

// defaultHTML is the built-in HTML body of every kind: the plain body's
// paragraphs, escaped.
const defaultHTML = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;max-width:36rem">
{{range .Paragraphs}}<p>{{.}}</p>
{{end}}</body></html>`

// TemplateParts are a template's sources: Subject and Text are
// text/template, HTML is html/template (it also sees .Text, the rendered
// plain body, and .Paragraphs, its paragraphs). A chat template has Text
// only.
type TemplateParts struct {
	Subject string `json:"subject" schema:"maxLength=500"`
	Text    string `json:"text" schema:"required,maxLength=20000"`
	HTML    string `json:"html" schema:"maxLength=50000"`
}

// Template is what one kind of message says in one locale on one
// channel: the built-in default, or an administrator's version of it.
type Template struct {
	Kind    string `json:"kind" schema:"required"`
	Locale  string `json:"locale" schema:"required,enum=en|zh-CN"`
	Channel string `json:"channel" schema:"required,enum=email|chat"`
	TemplateParts
	// Custom: an administrator's version is used instead of the default.
	Custom bool `json:"custom"`
	// BasedOn is the DefaultVersion a custom template was edited from;
	// Outdated says the default has changed since.
	BasedOn        int        `json:"based_on"`
	DefaultVersion int        `json:"default_version"`
	Outdated       bool       `json:"outdated"`
	UpdatedAt      *time.Time `json:"updated_at"`
	// Default is the built-in template (to compare with, or reset to).
	Default TemplateParts `json:"default"`
}

// Rendered is a template rendered against data.
type Rendered struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// DefaultTemplate returns the built-in template of kind in locale on a
// template channel (false when there is none).
func DefaultTemplate(kind, locale, channel string) (TemplateParts, bool) {
	byLang, ok := templates[kind]
	if !ok {
		return TemplateParts{}, false
	}
	tm, ok := byLang[locale]
	if !ok {
		return TemplateParts{}, false
	}
	switch channel {
	case TemplateEmail:
		return TemplateParts{Subject: tm.subject, Text: tm.text, HTML: defaultHTML}, true
	case TemplateChat:
		// A chat message is the subject line and the plain body.
		return TemplateParts{Text: tm.subject + "\n" + tm.text}, true
	}
	return TemplateParts{}, false
}

// Templates lists every template: the defaults with the custom ones
// (custom, from the store) in their place.
func Templates(custom []Template) []Template {
	byKey := map[string]Template{}
	for _, t := range custom {
		byKey[t.Kind+"/"+t.Locale+"/"+t.Channel] = t
	}
	var all []Template
	for _, k := range Kinds() {
		for _, l := range Locales() {
			for _, ch := range []string{TemplateEmail, TemplateChat} {
				all = append(all, withDefault(byKey[k+"/"+l+"/"+ch], k, l, ch))
			}
		}
	}
	return all
}

// withDefault completes a stored template (or a zero one: the default)
// with the default's parts and version.
func withDefault(t Template, kind, locale, channel string) Template {
	def, _ := DefaultTemplate(kind, locale, channel)
	if !t.Custom {
		t = Template{TemplateParts: def}
	}
	t.Kind, t.Locale, t.Channel = kind, locale, channel
	t.Default, t.DefaultVersion = def, DefaultVersion
	t.Outdated = t.Custom && t.BasedOn < DefaultVersion
	return t
}

// LookupTemplate returns the template of kind, locale and channel given the
// custom ones; the error names every unknown part.
func LookupTemplate(custom []Template, kind, locale, channel string) (Template, error) {
	if err := checkKey(kind, locale, channel); err != nil {
		return Template{}, err
	}
	for _, t := range custom {
		if t.Kind == kind && t.Locale == locale && t.Channel == channel {
			return withDefault(t, kind, locale, channel), nil
		}
	}
	return withDefault(Template{}, kind, locale, channel), nil
}

func checkKey(kind, locale, channel string) error {
	var p workorders.Problems
	if _, ok := templates[kind]; !ok {
		p.Add("kind", "unknown kind %q; one of %s", kind, strings.Join(Kinds(), ", "))
	}
	if !slices.Contains(Locales(), locale) {
		p.Add("locale", "must be en or zh-CN")
	}
	if channel != TemplateEmail && channel != TemplateChat {
		p.Add("channel", "must be email or chat")
	}
	return p.Err()
}

// maxOutput bounds what one template may write when rendered.
const maxOutput = 256 << 10

// compiled is a template ready to render.
type compiled struct {
	subject, text *template.Template
	html          *htmltemplate.Template
}

func compile(name string, tp TemplateParts, channel string) (compiled, *workorders.Problems) {
	var p workorders.Problems
	var c compiled
	var err error
	if c.text, err = template.New(name).Parse(tp.Text); err != nil {
		p.Add("text", "%s", templateErr(err))
	}
	if strings.TrimSpace(tp.Text) == "" {
		p.Add("text", "must not be empty")
	}
	if channel == TemplateChat {
		if tp.Subject != "" {
			p.Add("subject", "a chat message has no subject: put it in text")
		}
		if tp.HTML != "" {
			p.Add("html", "a chat message has no HTML body")
		}
		return c, &p
	}
	if strings.TrimSpace(tp.Subject) == "" {
		p.Add("subject", "must not be empty")
	} else if c.subject, err = template.New(name).Parse(tp.Subject); err != nil {
		p.Add("subject", "%s", templateErr(err))
	}
	html := tp.HTML
	if html == "" {
		html = defaultHTML
	}
	if c.html, err = htmltemplate.New(name).Parse(html); err != nil {
		p.Add("html", "%s", templateErr(err))
	}
	return c, &p
}

// templateErr is a parse or execution error without the template's name
// (the field already says which part failed).
func templateErr(err error) string {
	msg := err.Error()
	for _, pre := range []string{"template: ", "html/template:"} {
		msg = strings.TrimPrefix(msg, pre)
	}
	return strings.TrimSpace(msg)
}

// htmlData is what an HTML body sees: the data, the rendered plain body
// and its paragraphs.
type htmlData struct {
	data
	Text       string
	Paragraphs []string
}

// limitWriter fails once more than n bytes are written, which ends a
// runaway template ({{range 1000000000}}).
type limitWriter struct {
	b bytes.Buffer
	n int
}

var errTooLong = errors.New("renders more than 256 KiB")

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.n {
		return 0, errTooLong
	}
	return w.b.Write(p)
}

func execute(t interface{ Execute(io.Writer, any) error }, d any) (string, error) {
	w := &limitWriter{n: maxOutput}
	err := t.Execute(w, d)
	return w.b.String(), err
}

// render executes a compiled template; a problem names the part that
// failed.
func (c compiled) render(d data, channel string) (Rendered, *workorders.Problems) {
	var p workorders.Problems
	var r Rendered
	var err error
	if r.Text, err = execute(c.text, d); err != nil {
		p.Add("text", "%s", templateErr(err))
	}
	if channel == TemplateChat {
		return r, &p
	}
	if r.Subject, err = execute(c.subject, d); err != nil {
		p.Add("subject", "%s", templateErr(err))
	}
	r.Subject = strings.Join(strings.Fields(r.Subject), " ")
	if r.Subject == "" && err == nil {
		p.Add("subject", "renders empty")
	}
	if r.HTML, err = execute(c.html, htmlData{data: d, Text: r.Text, Paragraphs: strings.Split(r.Text, "\n\n")}); err != nil {
		p.Add("html", "%s", templateErr(err))
	}
	return r, &p
}

// SampleData is what a template is checked and previewed against: an
// order with every fact set, an ETA, links, an actor and a note.
func sampleData(kind, locale string) data {
	eta := time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)
	d := data{Facts: Facts{Number: "WO-1042", Title: "Pump vibration high", SiteName: "Plant 1", AssetName: "Pump P-7",
		Engineer: "Li", Priority: "P2"}, Kind: kind, ETA: &eta, Link: "https://pdm.example.com/s/sample-token",
		Base: "https://pdm.example.com", Actor: "Wang Fang", Note: "Please check the bearing."}
	if locale == "zh-CN" {
		d.Title, d.SiteName, d.AssetName, d.Engineer, d.Actor, d.Note = "泵振动偏高", "一号厂", "7 号泵", "李工", "王芳", "请检查轴承。"
	}
	return d
}

// CheckTemplate parses tp as the template of kind, locale and channel
// and renders it against sample data (an order with every fact, an ETA,
// links, an actor and a note, and again without the optional ones); the
// error names every invalid part at once (400), the key's parts too.
func CheckTemplate(kind, locale, channel string, tp TemplateParts) (Rendered, error) {
	if err := checkKey(kind, locale, channel); err != nil {
		return Rendered{}, err
	}
	c, p := compile(kind, tp, channel)
	if err := p.Err(); err != nil {
		return Rendered{}, err
	}
	full := sampleData(kind, locale)
	r, p := c.render(full, channel)
	if err := p.Err(); err != nil {
		return Rendered{}, err
	}
	// Facts an order may lack: no engineer, ETA, link, actor or note.
	bare := full
	bare.Engineer, bare.ETA, bare.Link, bare.Actor, bare.Note = "", nil, "", "", ""
	if _, p := c.render(bare, channel); p.Err() != nil {
		return Rendered{}, p.Err()
	}
	return r, nil
}

// TemplateSet renders messages with the defaults and custom templates.
type TemplateSet struct {
	custom map[string]compiled
	mu     sync.Mutex // guards defs
	defs   map[string]compiled
}

// NewTemplateSet compiles the custom templates; one that does not compile
// is left out (the default is used) and reported in the error.
func NewTemplateSet(custom []Template) (*TemplateSet, error) {
	ts := &TemplateSet{custom: map[string]compiled{}, defs: map[string]compiled{}}
	var errs []error
	for _, t := range custom {
		c, p := compile(t.Kind, t.TemplateParts, t.Channel)
		if err := p.Err(); err != nil {
			errs = append(errs, fmt.Errorf("template %s/%s/%s: %w", t.Kind, t.Locale, t.Channel, err))
			continue
		}
		ts.custom[t.Kind+"/"+t.Locale+"/"+t.Channel] = c
	}
	return ts, errors.Join(errs...)
}

func (ts *TemplateSet) def(kind, locale, channel string) (compiled, error) {
	key := kind + "/" + locale + "/" + channel
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if c, ok := ts.defs[key]; ok {
		return c, nil
	}
	tp, ok := DefaultTemplate(kind, locale, channel)
	if !ok {
		return compiled{}, workorders.Invalid("kind", "unknown message kind %q", kind)
	}
	c, p := compile(kind, tp, channel)
	if err := p.Err(); err != nil {
		return compiled{}, fmt.Errorf("default template %s: %w", key, err)
	}
	ts.defs[key] = c
	return c, nil
}

// render returns a kind's message in locale (en when unknown) for a
// message channel: subject, plain text and HTML for email, text for chat.
// A custom template that fails on this message's data gives way to the
// default (custom says which failed).
func (ts *TemplateSet) render(kind, locale, msgChannel string, d data) (r Rendered, custom error, err error) {
	if !slices.Contains(Locales(), locale) {
		locale = "en"
	}
	ch := TemplateChannel(msgChannel)
	if c, ok := ts.custom[kind+"/"+locale+"/"+ch]; ok {
		r, p := c.render(d, ch)
		if p.Err() == nil {
			return r, nil, nil
		}
		custom = fmt.Errorf("custom template %s/%s/%s: %w", kind, locale, ch, p.Err())
	}
	c, err := ts.def(kind, locale, ch)
	if err != nil {
		return Rendered{}, custom, err
	}
	r, p := c.render(d, ch)
	return r, custom, p.Err()
}

func etaOf(e workorders.Event) *time.Time {
	if len(e.Data) == 0 {
		return nil
	}
	var d struct {
		ETA *time.Time `json:"eta"`
	}
	if json.Unmarshal(e.Data, &d) != nil {
		return nil
	}
	return d.ETA
}
