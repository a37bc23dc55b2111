package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// outbox is a real SMTP server (emersion/go-smtp) standing in for the
// relay pdm sends notifications through; it keeps every message.
type outbox struct {
	mu   sync.Mutex // guards msgs
	msgs []string
}

func (o *outbox) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &outboxSession{o: o}, nil }

func (o *outbox) find(to string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.msgs {
		if strings.Contains(m, "\r\nTo: "+to+"\r\n") {
			return m
		}
	}
	return ""
}

type outboxSession struct{ o *outbox }

func (s *outboxSession) Reset()                                 {}
func (s *outboxSession) Logout() error                          { return nil }
func (s *outboxSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *outboxSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *outboxSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.o.mu.Lock()
	s.o.msgs = append(s.o.msgs, "\r\n"+string(b))
	s.o.mu.Unlock()
	return nil
}

// sendMail delivers msg with net/smtp, retrying while the listener is
// still starting.
func sendMail(t *testing.T, addr, from, to string, msg string) {
	t.Helper()
	var err error
	for range 100 {
		err = smtp.SendMail(addr, nil, from, []string{to}, []byte(strings.ReplaceAll(msg, "\n", "\r\n")))
		var op *net.OpError
		if err == nil || !errors.As(err, &op) || op.Op != "dial" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err, "send to %s", addr)
}

var mailMessageID = regexp.MustCompile(`(?m)^Message-ID: <([^>]+)>`)

// TestEmailIntakeInServe runs the email loop through a real `pdm serve`
// with PDM_MAIL_ADDR set: a customer's email to the site's mailbox (with
// the asset as sub-address) becomes a request with channel email on that
// asset; pdm answers through its SMTP relay (a real SMTP server here) with
// the administrators' template and Reply-To the mailbox; the customer's
// reply to that answer becomes a comment on the same order, not a new
// request. The asset labels it serves draw Chinese names.
func TestEmailIntakeInServe(t *testing.T) {
	env := newTestEnv(t)
	token := "mail-admin-" + env.ID + "-0123456789abcdef"
	relay := &outbox{}
	srv := gosmtp.NewServer(relay)
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	mailAddr := freeAddr(t)
	api, _ := startServe(t, env, token, "--mail-addr", mailAddr, "--mail-mailboxes", "service@pdm.example.com=S1",
		"--smtp-addr", l.Addr().String(), "--smtp-from", "pdm@pdm.example.com", "--public-url", "https://pdm.example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var site, pump idCode
	require.NoError(t, api.do(ctx, "POST", "/sites", map[string]any{"code": "S1", "name": "Plant 1"}, &site))
	require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": "P-1", "type": "pump",
		"name": "Feed pump 1", "criticality": 3}, &pump))
	// The customers' answer uses the administrators' template.
	require.NoError(t, api.do(ctx, "PUT", "/notifications/templates/request_received/en/email", map[string]any{
		"subject": "Ticket {{.Number}}: {{.Title}}", "text": "We have your request about {{.AssetName}}.\n\n{{.Link}}"}, nil))

	sendMail(t, mailAddr, "li@customer.example", "service+P-1@pdm.example.com", "From: Li Lei <li@customer.example>\n"+
		"To: service+P-1@pdm.example.com\nSubject: Pump leaks oil\nMessage-ID: <first.1@customer.example>\n"+
		"Content-Type: text/plain; charset=utf-8\n\nOil under the feed pump since this morning.\n")

	var orders listOf[orderJSON]
	eventually(t, 20*time.Second, "the email's order", func() bool {
		require.NoError(t, api.do(ctx, "GET", "/work-orders?source=request", nil, &orders))
		return len(orders.Items) == 1
	})
	o := orders.Items[0]
	require.Equal(t, "Pump leaks oil", o.Title)
	require.Equal(t, pump.ID, o.AssetID, "the sub-address names the asset")
	require.Equal(t, "proposed", o.Status)
	var req struct {
		Channel   string `json:"channel"`
		Requester struct {
			Name  string `json:"name"`
			Email string `json:"email"`
		} `json:"requester"`
	}
	require.NoError(t, api.do(ctx, "GET", "/work-orders/"+o.ID+"/request", nil, &req))
	require.Equal(t, "email", req.Channel)
	require.Equal(t, "li@customer.example", req.Requester.Email)
	require.Equal(t, "Li Lei", req.Requester.Name)

	// pdm answers through the relay.
	var answer string
	eventually(t, 30*time.Second, "the answer to li@customer.example", func() bool {
		answer = relay.find("li@customer.example")
		return answer != ""
	})
	require.Contains(t, answer, "Reply-To: service@pdm.example.com")
	require.Contains(t, answer, "Subject: Ticket "+o.Number+": Pump leaks oil")
	ids := mailMessageID.FindStringSubmatch(answer)
	require.Len(t, ids, 2, answer)

	// The customer replies to the answer: a comment on the same order.
	sendMail(t, mailAddr, "li@customer.example", "service@pdm.example.com", "From: Li Lei <li@customer.example>\n"+
		"To: service@pdm.example.com\nSubject: Re: Ticket "+o.Number+"\nMessage-ID: <reply.2@customer.example>\n"+
		"In-Reply-To: <"+ids[1]+">\nReferences: <first.1@customer.example> <"+ids[1]+">\n"+
		"Content-Type: text/plain; charset=utf-8\n\nIt is the pump near gate 3.\n\nOn Monday, pdm wrote:\n> We have your request\n")
	var detail struct {
		Events []struct {
			Type string `json:"type"`
			Note string `json:"note"`
		} `json:"events"`
	}
	eventually(t, 20*time.Second, "the reply as a comment", func() bool {
		require.NoError(t, api.do(ctx, "GET", "/work-orders/"+o.ID, nil, &detail))
		for _, e := range detail.Events {
			if e.Type == "comment" && e.Note == "It is the pump near gate 3." {
				return true
			}
		}
		return false
	})
	require.NoError(t, api.do(ctx, "GET", "/work-orders?source=request", nil, &orders))
	require.Len(t, orders.Items, 1, fmt.Sprintf("a reply is no new request: %+v", orders.Items))

	// serve draws labels with the system's fonts: a Chinese name is not
	// the row of question marks the built-in face would draw.
	label := func(name, code string) image.Image {
		var a idCode
		require.NoError(t, api.do(ctx, "POST", "/assets", map[string]any{"site_id": site.ID, "code": code, "type": "pump",
			"name": name, "criticality": 3}, &a))
		req, err := http.NewRequestWithContext(ctx, "GET", api.base+"/assets/"+a.ID+"/label", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		img, err := png.Decode(resp.Body)
		require.NoError(t, err)
		return img
	}
	zh, marks := label("离心泵", "P-2"), label("???", "P-3")
	differ := 0
	for y := 360; y < 380; y++ { // the name's line (workorders/labels)
		for x := 0; x < zh.Bounds().Dx(); x++ {
			if zh.At(x, y) != marks.At(x, y) {
				differ++
			}
		}
	}
	require.Greater(t, differ, 50, "the Chinese name is drawn with glyphs")
}
