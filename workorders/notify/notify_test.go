package notify_test

import (
	"context"
	"errors"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/notify"
	"github.com/openpdm/pdm/workorders/postgres/pgtest"
	"github.com/openpdm/pdm/workorders/requests"
)

// mailbox is a real SMTP server (emersion/go-smtp) that keeps what it gets.
type mailbox struct {
	mu   sync.Mutex // guards msgs
	msgs []mail
}

type mail struct {
	from string
	to   []string
	data string
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{box: m}, nil }

type session struct {
	box *mailbox
	cur mail
}

func (s *session) Reset()        { s.cur = mail{} }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "nobody@") {
		return &smtp.SMTPError{Code: 550, Message: "no such user"}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = string(b)
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, s.cur)
	s.box.mu.Unlock()
	return nil
}

func (m *mailbox) all() []mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mail(nil), m.msgs...)
}

func startSMTP(t *testing.T) (*mailbox, string) {
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return box, ln.Addr().String()
}

func TestOutboxSendsEmailAndChatAndRetriesAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, _ := pgtest.MigratedStore(t)
	svc := workorders.NewService(store, nil, nil)
	site, err := svc.CreateSite(ctx, workorders.Site{Code: "S1", Name: "Plant 1"})
	require.NoError(t, err)
	asset, err := svc.CreateAsset(ctx, workorders.Asset{SiteID: site.ID, Code: "P-1", Type: "pump", Name: "Feed pump", Criticality: 3})
	require.NoError(t, err)

	box, addr := startSMTP(t)
	var slackMu sync.Mutex
	var slackBodies []string
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		slackMu.Lock()
		slackBodies = append(slackBodies, string(b))
		slackMu.Unlock()
	}))
	defer slack.Close()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(500)
	}))
	defer hanging.Close()
	defer close(release)

	for _, s := range []notify.Subscription{
		{Channel: notify.ChanSlack, Target: slack.URL, Locale: "en", Active: true},
		{Channel: notify.ChanWeCom, Target: hanging.URL, Locale: "zh-CN", Active: true},
		{Channel: notify.ChanEmail, Target: "nobody@example.com", Locale: "en", Active: true},
	} {
		_, err := store.CreateSubscription(ctx, s)
		require.NoError(t, err)
	}
	n := notify.New(store, map[string]notify.Sender{
		notify.ChanEmail: &notify.SMTP{Addr: addr, From: "pdm@example.com"},
		notify.ChanSlack: &notify.Chat{}, notify.ChanWeCom: &notify.Chat{},
	}, nil, nil)
	n.PublicURL = "https://pdm.example.com"
	n.SendTimeout = 2 * time.Second
	reqs := requests.New(store, svc, nil, nil)
	reqs.OnCreated = func(ctx context.Context, c requests.Created, _ requests.Record) {
		n.RequestCreated(ctx, c.Order)
	}
	svc.AfterTransition = n.AfterTransition

	created, err := reqs.Create(ctx, workorders.System("t"), requests.Input{Channel: requests.ChannelForm, SiteCode: "S1",
		AssetCode: "P-1", Description: "Pump <b>leaks</b>", Requester: requests.Requester{Email: "li@example.com", Locale: "zh-CN"}})
	require.NoError(t, err)
	require.Equal(t, asset.ID, created.Order.AssetID)

	start := time.Now()
	_, err = n.SendDue(ctx)
	require.NoError(t, err)
	took := time.Since(start)

	// The customer's email arrived, in Chinese, plain and HTML, escaped.
	msgs := box.all()
	require.Len(t, msgs, 1, "only the customer's email; the refused address is not delivered")
	require.Equal(t, []string{"li@example.com"}, msgs[0].to)
	require.Contains(t, msgs[0].data, "Subject: =?utf-8?")
	require.Contains(t, msgs[0].data, "text/plain")
	require.Contains(t, msgs[0].data, "text/html")
	body := decodeQP(msgs[0].data)
	require.Contains(t, body, "https://pdm.example.com"+created.StatusURL)
	require.Contains(t, body, "&lt;b&gt;leaks&lt;/b&gt;", "HTML is escaped")
	require.Contains(t, body, "您好")
	// The planners' Slack got the new proposed order.
	slackMu.Lock()
	require.Len(t, slackBodies, 1)
	require.Contains(t, slackBodies[0], `"text":`)
	require.Contains(t, slackBodies[0], created.Order.Number)
	slackMu.Unlock()
	require.Less(t, took, 4*time.Second, "the hanging webhook costs its own timeout only")

	out, err := store.Outbox(ctx, "", 10)
	require.NoError(t, err)
	byTarget := map[string]notify.Message{}
	for _, m := range out {
		byTarget[m.Target] = m
	}
	require.Equal(t, notify.StatusSent, byTarget["li@example.com"].Status)
	require.Equal(t, notify.StatusSent, byTarget[slack.URL].Status)
	require.Equal(t, notify.StatusPending, byTarget[hanging.URL].Status, "retried later")
	require.Equal(t, 1, byTarget[hanging.URL].Attempts)
	require.Equal(t, notify.StatusFailed, byTarget["nobody@example.com"].Status, "a refused address is not retried")

	// Nothing is due now: the failed webhook waits for its backoff.
	sent, err := n.SendDue(ctx)
	require.NoError(t, err)
	require.Zero(t, sent)

	// Completion: the customer is asked to rate with one-click links.
	eng, _, err := svc.CreateUser(ctx, "Wang Wei", workorders.RoleEngineer)
	require.NoError(t, err)
	admin := workorders.System("t")
	for _, a := range []workorders.ActionRequest{{Action: workorders.ActApprove}, {Action: workorders.ActAssign, AssigneeID: eng.ID},
		{Action: workorders.ActAccept}, {Action: workorders.ActStart}, {Action: workorders.ActComplete, Resolution: "fixed"}} {
		a.Actor = admin
		_, err := svc.Act(ctx, created.Order.ID, a)
		require.NoError(t, err, a.Action)
	}
	_, err = n.SendDue(ctx)
	require.NoError(t, err)
	msgs = box.all()
	require.Len(t, msgs, 3, "received, assigned, completed")
	// Assigned and completed leave in one round and may arrive either way round.
	var assigned, completed string
	for _, m := range msgs[1:] {
		b := decodeQP(m.data)
		if strings.Contains(b, "?rate=5") {
			completed = b
		} else {
			assigned = b
		}
	}
	require.NotEmpty(t, completed, "the completion email asks for a rating")
	require.Contains(t, assigned, "Wang", "the engineer's first name")
	require.NotContains(t, assigned, "Wei", "never the family name")
}

func decodeQP(s string) string {
	_, body, _ := strings.Cut(s, "\r\n\r\n")
	b, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
	return string(b)
}

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {20, 2 * time.Hour}} {
		if got := notify.Backoff(tt.n); got != tt.want {
			t.Errorf("Backoff(%d): got %s, want %s", tt.n, got, tt.want)
		}
	}
	var perm *notify.PermanentError
	require.True(t, errors.As(error(&notify.PermanentError{Err: io.EOF}), &perm))
}

// A comment's @mention reaches the mentioned user's own email (and only
// theirs: not the author, not planners' subscriptions, not an unmentioned
// colleague), and the comment is in the mentioned user's mentions.
func TestMentionNotifiesTheMentionedUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, _ := pgtest.MigratedStore(t)
	svc := workorders.NewService(store, nil, nil)
	site, err := svc.CreateSite(ctx, workorders.Site{Code: "S1", Name: "Plant 1"})
	require.NoError(t, err)
	asset, err := svc.CreateAsset(ctx, workorders.Asset{SiteID: site.ID, Code: "P-1", Type: "pump", Name: "Feed pump", Criticality: 3})
	require.NoError(t, err)
	li, _, err := svc.CreateUser(ctx, "Li Na", workorders.RoleEngineer)
	require.NoError(t, err)
	zhang, _, err := svc.CreateUser(ctx, "Zhang Wei", workorders.RoleEngineer)
	require.NoError(t, err)
	other, _, err := svc.CreateUser(ctx, "Chen Jie", workorders.RoleEngineer)
	require.NoError(t, err)
	box, addr := startSMTP(t)
	for _, s := range []notify.Subscription{
		{UserID: &zhang.ID, Channel: notify.ChanEmail, Target: "zhang@example.com", Locale: "zh-CN", Active: true},
		{UserID: &li.ID, Channel: notify.ChanEmail, Target: "li@example.com", Locale: "en", Active: true},
		{UserID: &other.ID, Channel: notify.ChanEmail, Target: "chen@example.com", Locale: "en", Active: true},
		{Channel: notify.ChanEmail, Target: "planners@example.com", Locale: "en", Active: true},
	} {
		_, err := store.CreateSubscription(ctx, s)
		require.NoError(t, err)
	}
	n := notify.New(store, map[string]notify.Sender{notify.ChanEmail: &notify.SMTP{Addr: addr, From: "pdm@example.com"}}, nil, nil)
	n.PublicURL = "https://pdm.example.com"
	svc.AfterTransition = n.AfterTransition

	o, err := svc.CreateOrder(ctx, workorders.System("t"), workorders.NewOrder{AssetID: asset.ID, Title: "Seal leaks", Priority: "P2"})
	require.NoError(t, err)
	admin := workorders.System("t")
	for _, a := range []workorders.ActionRequest{{Action: workorders.ActAssign, AssigneeID: li.ID}} {
		a.Actor = admin
		_, err := svc.Act(ctx, o.ID, a)
		require.NoError(t, err, a.Action)
	}
	_, err = n.SendDue(ctx)
	require.NoError(t, err)
	before := len(box.all())

	actor := workorders.Actor{ID: &li.ID, Name: li.Name, Role: workorders.RoleEngineer}
	ev, err := svc.Comment(ctx, actor, o.ID, "@Zhang_Wei can you bring the <seal> kit? cc @li_na")
	require.NoError(t, err)
	require.Contains(t, string(ev.Data), zhang.ID)
	_, err = n.SendDue(ctx)
	require.NoError(t, err)
	msgs := box.all()[before:]
	require.Len(t, msgs, 1, "only the mentioned colleague, not the author herself")
	require.Equal(t, []string{"zhang@example.com"}, msgs[0].to)
	body := decodeQP(msgs[0].data)
	require.Contains(t, body, "提到了您")
	require.Contains(t, body, "Li Na")
	require.Contains(t, body, "&lt;seal&gt;", "HTML is escaped")
	require.Contains(t, body, "https://pdm.example.com/app/jobs/"+o.ID)

	ms, err := store.Mentions(ctx, zhang.ID, 10)
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, o.Number, ms[0].OrderNumber)
	require.False(t, ms[0].Visible, "not Zhang's job")
	ms, err = store.Mentions(ctx, other.ID, 10)
	require.NoError(t, err)
	require.Empty(t, ms)
}
