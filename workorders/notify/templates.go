package notify

import (
	"bytes"
	"encoding/json"
	htmltemplate "html/template"
	"strings"
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

const htmlLayout = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;max-width:36rem">
{{range .}}<p>{{.}}</p>
{{end}}</body></html>`

var htmlT = htmltemplate.Must(htmltemplate.New("html").Parse(htmlLayout))

// render returns a kind's subject, plain text and HTML in locale (en when
// unknown).
func render(kind, locale string, d data) (subject, text, html string, err error) {
	byLang, ok := templates[kind]
	if !ok {
		return "", "", "", workorders.Invalid("kind", "unknown message kind %q", kind)
	}
	tm, ok := byLang[locale]
	if !ok {
		tm = byLang["en"]
	}
	exec := func(src string) (string, error) {
		t, err := template.New(kind).Parse(src)
		if err != nil {
			return "", err
		}
		var b bytes.Buffer
		err = t.Execute(&b, d)
		return b.String(), err
	}
	if subject, err = exec(tm.subject); err != nil {
		return "", "", "", err
	}
	subject = strings.Join(strings.Fields(subject), " ")
	if text, err = exec(tm.text); err != nil {
		return "", "", "", err
	}
	// The HTML body: the same paragraphs, escaped by html/template.
	var b bytes.Buffer
	if err := htmlT.Execute(&b, strings.Split(text, "\n\n")); err != nil {
		return "", "", "", err
	}
	return subject, text, b.String(), nil
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
