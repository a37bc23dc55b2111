package mailin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime"
	"net"
	"net/smtp"
	"regexp"
	"strings"
	"sync"
	"testing"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/mailin"
	"github.com/openpdm/pdm/workorders/notify"
	"github.com/openpdm/pdm/workorders/postgres"
	"github.com/openpdm/pdm/workorders/postgres/pgtest"
	"github.com/openpdm/pdm/workorders/requests"
)

// outbox is a real SMTP server (go-smtp) standing for the relay pdm's
// notifications leave through; it keeps what it gets.
type outbox struct {
	mu   sync.Mutex // guards msgs
	msgs []string
}

func (o *outbox) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &outSession{o: o}, nil }

type outSession struct{ o *outbox }

func (s *outSession) Reset()                                 {}
func (s *outSession) Logout() error                          { return nil }
func (s *outSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *outSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *outSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.o.mu.Lock()
	s.o.msgs = append(s.o.msgs, string(b))
	s.o.mu.Unlock()
	return err
}

func (o *outbox) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.msgs...)
}

func listen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

type env struct {
	store *postgres.Store
	svc   *workorders.Service
	reqs  *requests.Service
	n     *notify.Notifier
	out   *outbox
	addr  string
	asset workorders.Asset
}

func setup(t *testing.T, cfg mailin.Config) env {
	t.Helper()
	ctx := context.Background()
	store, _ := pgtest.MigratedStore(t)
	svc := workorders.NewService(store, nil, nil)
	site, err := svc.CreateSite(ctx, workorders.Site{Code: "S1", Name: "Plant 1"})
	require.NoError(t, err)
	asset, err := svc.CreateAsset(ctx, workorders.Asset{SiteID: site.ID, Code: "P-1", Type: "pump", Name: "Feed pump", Criticality: 3})
	require.NoError(t, err)

	out := &outbox{}
	relay := gosmtp.NewServer(out)
	relay.Domain = "localhost"
	rl := listen(t)
	go func() { _ = relay.Serve(rl) }()
	t.Cleanup(func() { _ = relay.Close() })

	reqs := requests.New(store, svc, nil, nil)
	n := notify.New(store, map[string]notify.Sender{
		notify.ChanEmail: &notify.SMTP{Addr: rl.Addr().String(), From: "pdm@pdm.example.com", ReplyTo: "service@pdm.example.com"},
	}, nil, nil)
	n.MailDomain = "pdm.example.com"
	reqs.OnCreated = func(ctx context.Context, c requests.Created, _ requests.Record) { n.RequestCreated(ctx, c.Order) }
	svc.AfterTransition = n.AfterTransition

	if cfg.Mailboxes == nil {
		cfg.Mailboxes, err = mailin.ParseMailboxes("service@pdm.example.com=S1, pump@pdm.example.com=S1/P-1")
		require.NoError(t, err)
	}
	srv := mailin.NewServer(cfg, mailin.NewIntake(store, reqs, svc, nil), nil)
	ml := listen(t)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ml) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return env{store: store, svc: svc, reqs: reqs, n: n, out: out, addr: ml.Addr().String(), asset: asset}
}

func pngBytes(t *testing.T) []byte {
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 4))))
	return b.Bytes()
}

// message builds a multipart email with a GBK body and subject (as Chinese
// mail clients often send) and the given attachments.
func message(t *testing.T, from, to, subject, body, msgID string, headers map[string]string, files map[string][]byte) []byte {
	t.Helper()
	gbk := func(s string) []byte {
		b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
		require.NoError(t, err)
		return b
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\n", from, to)
	fmt.Fprintf(&b, "Subject: =?GBK?B?%s?=\r\n", base64.StdEncoding.EncodeToString(gbk(subject)))
	fmt.Fprintf(&b, "Message-ID: <%s>\r\nMIME-Version: 1.0\r\n", msgID)
	for k, v := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=\"BOUND\"\r\n\r\n")
	b.WriteString("--BOUND\r\nContent-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(wrap(base64.StdEncoding.EncodeToString(gbk(body))))
	for name, data := range files {
		fmt.Fprintf(&b, "--BOUND\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
			mime.QEncoding.Encode("utf-8", name))
		b.WriteString(wrap(base64.StdEncoding.EncodeToString(data)))
	}
	b.WriteString("--BOUND--\r\n")
	return b.Bytes()
}

func wrap(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s + "\r\n")
	return b.String()
}

func plain(from, to, subject, body, msgID string, headers map[string]string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n", from, to, subject, msgID)
	for k, v := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n") + "\r\n")
	return b.Bytes()
}

func send(addr, from, to string, msg []byte) error {
	return smtp.SendMail(addr, nil, from, []string{to}, msg)
}

func requestsOf(t *testing.T, e env) []requests.Record {
	items, _, err := e.reqs.List(context.Background(), requests.Filter{Page: workorders.Page{Limit: 100}})
	require.NoError(t, err)
	return items
}

func detail(t *testing.T, e env, id string) workorders.OrderDetail {
	d, err := e.svc.OrderDetail(context.Background(), id)
	require.NoError(t, err)
	return d
}

func comments(d workorders.OrderDetail) []string {
	var out []string
	for _, ev := range d.Events {
		if ev.Type == workorders.EventComment {
			out = append(out, ev.Note)
		}
	}
	return out
}

var msgIDRE = regexp.MustCompile(`(?m)^Message-ID: <([^>]+)>`)

func TestEmailBecomesRequestAndRepliesBecomeComments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, mailin.Config{})

	// A customer writes to the site's mailbox, in GBK, with a photo, a PDF
	// and a file that is not kept.
	pdf := []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
	msg := message(t, "李雷 <li@customer.example>", "service@pdm.example.com", "回复: 水泵漏水", "二号泵漏水，请尽快处理。\n谢谢",
		"first.1@customer.example", nil, map[string][]byte{"泵.png": pngBytes(t), "report.pdf": pdf, "tool.exe": []byte("MZ\x90\x00binary")})
	require.NoError(t, send(e.addr, "li@customer.example", "service@pdm.example.com", msg))

	reqs := requestsOf(t, e)
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, requests.ChannelEmail, r.Channel)
	require.Equal(t, "li@customer.example", r.Requester.Email)
	require.Equal(t, "李雷", r.Requester.Name)
	require.Equal(t, "zh-CN", r.Requester.Locale)
	require.Equal(t, "水泵漏水", r.Order.Title, "reply prefix dropped, GBK decoded")
	require.Contains(t, r.Order.Description, "二号泵漏水")
	require.Equal(t, workorders.SourceRequest, r.Order.Source)
	require.Equal(t, workorders.StatusProposed, r.Order.Status)
	orderID := r.OrderID
	d := detail(t, e, orderID)
	kinds := map[string]string{}
	for _, a := range d.Attachments {
		kinds[a.Filename] = a.Kind + " " + a.ContentType
	}
	require.Equal(t, map[string]string{"泵.png": "photo image/png", "report.pdf": "document application/pdf"}, kinds)
	require.Len(t, comments(d), 1)
	require.Contains(t, comments(d)[0], "tool.exe", "the file not kept is named")

	// The same message delivered again changes nothing.
	require.NoError(t, send(e.addr, "li@customer.example", "service@pdm.example.com", msg))
	require.Len(t, requestsOf(t, e), 1)

	// pdm tells the customer; the email carries its own Message-ID and
	// asks for replies at the intake's mailbox.
	_, err := e.n.SendDue(ctx)
	require.NoError(t, err)
	var sent string
	for _, m := range e.out.all() {
		if strings.Contains(m, "To: li@customer.example") {
			sent = m
		}
	}
	require.NotEmpty(t, sent, "the requester was told")
	require.Contains(t, sent, "Reply-To: service@pdm.example.com")
	ids := msgIDRE.FindStringSubmatch(sent)
	require.Len(t, ids, 2)
	require.True(t, strings.HasSuffix(ids[1], "@pdm.example.com"))

	// The customer answers that email: the answer (without the quote)
	// becomes a comment on the same order.
	reply := plain("Li Lei <li@customer.example>", "service@pdm.example.com", "Re: received", "It is the pump near gate 3.\n\nOn Monday, pdm wrote:\n> Your request was received\n> more quoted text",
		"reply.2@customer.example", map[string]string{"In-Reply-To": "<" + ids[1] + ">", "References": "<first.1@customer.example> <" + ids[1] + ">"})
	require.NoError(t, send(e.addr, "li@customer.example", "service@pdm.example.com", reply))
	require.Len(t, requestsOf(t, e), 1, "a reply is no new request")
	cs := comments(detail(t, e, orderID))
	require.Len(t, cs, 2)
	require.Equal(t, "It is the pump near gate 3.", cs[1])

	// A follow-up in the thread of the customer's own first message (no
	// notification quoted) finds the order too.
	follow := plain("li@customer.example", "service@pdm.example.com", "Re: 水泵漏水", "> earlier\nNow it stopped.", "follow.3@customer.example",
		map[string]string{"References": "<first.1@customer.example>"})
	require.NoError(t, send(e.addr, "li@customer.example", "service@pdm.example.com", follow))
	cs = comments(detail(t, e, orderID))
	require.Len(t, cs, 3)
	require.Equal(t, "Now it stopped.", cs[2])
	require.Len(t, requestsOf(t, e), 1)

	// A reply naming a Message-ID pdm never sent is a new request, not a
	// comment on someone else's order.
	forged := plain("eve@evil.example", "service@pdm.example.com", "Re: your order", "spam", "forged.4@evil.example",
		map[string]string{"In-Reply-To": "<pdm.AAAAAAAAAAAAAAAAAAAAAA@pdm.example.com>"})
	require.NoError(t, send(e.addr, "eve@evil.example", "service@pdm.example.com", forged))
	require.Len(t, requestsOf(t, e), 2)
	require.Len(t, comments(detail(t, e, orderID)), 3)
}

func TestMailboxesAssetsAndRefusals(t *testing.T) {
	t.Parallel()
	e := setup(t, mailin.Config{MaxMessageBytes: 64 << 10, PerSenderPerHour: 1, SenderBurst: 3})

	// The asset's mailbox and a sub-address name the asset; an unknown
	// sub-address asset falls back to the site.
	require.NoError(t, send(e.addr, "a@c.example", "pump@pdm.example.com", plain("a@c.example", "pump@pdm.example.com", "Noise", "Loud noise", "m1@c.example", nil)))
	require.NoError(t, send(e.addr, "b@c.example", "Service+P-1@pdm.example.com", plain("b@c.example", "service+P-1@pdm.example.com", "Heat", "Hot", "m2@c.example", nil)))
	require.NoError(t, send(e.addr, "c@c.example", "service+NOPE@pdm.example.com", plain("c@c.example", "service+NOPE@pdm.example.com", "Other", "Something", "m3@c.example", nil)))
	got := map[string]string{}
	for _, r := range requestsOf(t, e) {
		got[r.Requester.Email] = r.Order.AssetID
	}
	require.Equal(t, e.asset.ID, got["a@c.example"])
	require.Equal(t, e.asset.ID, got["b@c.example"])
	require.NotEqual(t, e.asset.ID, got["c@c.example"])
	require.NotEmpty(t, got["c@c.example"], "filed against the site")

	// No relaying: an unknown mailbox is refused.
	err := send(e.addr, "a@c.example", "someone@elsewhere.example", plain("a@c.example", "x@y", "s", "b", "m4@c.example", nil))
	require.Error(t, err)
	require.Contains(t, err.Error(), "550")

	// Robots are taken in and dropped: no request.
	before := len(requestsOf(t, e))
	require.NoError(t, send(e.addr, "d@c.example", "service@pdm.example.com", plain("d@c.example", "service@pdm.example.com", "Out of office", "away", "m5@c.example",
		map[string]string{"Auto-Submitted": "auto-replied"})))
	require.Len(t, requestsOf(t, e), before)

	// Too large a message is refused.
	big := plain("d@c.example", "service@pdm.example.com", "Big", strings.Repeat(strings.Repeat("x", 70)+"\n", 1500), "m6@c.example", nil)
	err = send(e.addr, "d@c.example", "service@pdm.example.com", big)
	require.Error(t, err)
	require.Contains(t, err.Error(), "552")
	require.Len(t, requestsOf(t, e), before)

	// One sender cannot flood the queue: past its burst it is told to wait.
	var refused error
	for i := range 6 {
		refused = send(e.addr, "spam@c.example", "service@pdm.example.com",
			plain("spam@c.example", "service@pdm.example.com", "Buy", "now", fmt.Sprintf("s%d@c.example", i), nil))
		if refused != nil {
			break
		}
	}
	require.Error(t, refused)
	require.Contains(t, refused.Error(), "450")
	spam := 0
	for _, r := range requestsOf(t, e) {
		if r.Requester.Email == "spam@c.example" {
			spam++
		}
	}
	require.Equal(t, 3, spam, "the burst only")
}

func TestParseHTMLOnlyAndReply(t *testing.T) {
	raw := "From: =?utf-8?q?Zhang_San?= <z@x.example>\r\nSubject: =?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte("泵坏了")) +
		"?=\r\nMessage-ID: <a@b>\r\nIn-Reply-To: <p@q>\r\nReferences: <r1@x> <r2@x>\r\nContent-Type: text/html; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n<html><head><style>p{}</style></head><body><p>Pump &amp; motor</p><p>=E6=B3=B5</p></body></html>\r\n"
	m, err := mailin.Parse(strings.NewReader(raw))
	require.NoError(t, err)
	require.Equal(t, "a@b", m.MessageID)
	require.Equal(t, []string{"p@q", "r2@x", "r1@x"}, m.Refs)
	require.Equal(t, "Zhang San", m.FromName)
	require.Equal(t, "泵坏了", m.Subject)
	require.Equal(t, "Pump & motor\n泵", m.Text)
	require.False(t, m.Auto)

	require.Equal(t, "好的", mailin.Reply("好的\n\n在 2026年11月29日，pdm 写道：\n> 您的请求"))
	require.Equal(t, "ok", mailin.Reply("ok\n-----Original Message-----\nFrom: x"))

	_, err = mailin.ParseMailboxes("bad")
	require.Error(t, err)
	mbs, err := mailin.ParseMailboxes("A@B.example=S1/P-1")
	require.NoError(t, err)
	require.Equal(t, []mailin.Mailbox{{Address: "a@b.example", Site: "S1", Asset: "P-1"}}, mbs)
}
