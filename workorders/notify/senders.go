package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTP sends email through an SMTP server (no authentication: a local
// relay; STARTTLS when the server offers it).
type SMTP struct {
	Addr string // host:port
	From string // pdm@example.com
	// Hello is the name given in HELO (default localhost).
	Hello string
	// ReplyTo, when set, is where replies go (the mail intake's mailbox,
	// so that a customer's answer becomes a comment on the order).
	ReplyTo string
}

// Send implements Sender.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello(cmp(s.Hello, "localhost")); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if err := c.Mail(s.From, nil); err != nil {
		return fmt.Errorf("smtp mail from: %w", err)
	}
	if err := c.Rcpt(m.Target, nil); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code >= 500 {
			return &PermanentError{Err: fmt.Errorf("smtp rcpt %s: %w", m.Target, err)}
		}
		return fmt.Errorf("smtp rcpt: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(compose(s.From, s.ReplyTo, m)); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	return c.Quit()
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Compose renders m as a MIME message: multipart/alternative with the
// plain text and the HTML, both quoted-printable UTF-8.
func Compose(from string, m Message) []byte { return compose(from, "", m) }

func compose(from, replyTo string, m Message) []byte {
	var rb [12]byte
	_, _ = rand.Read(rb[:])
	boundary := "pdm-" + hex.EncodeToString(rb[:])
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from)
	h("To", m.Target)
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", time.Now().UTC().Format(time.RFC1123Z))
	if replyTo != "" {
		h("Reply-To", replyTo)
	}
	if m.MessageID != "" {
		h("Message-ID", "<"+m.MessageID+">")
	} else {
		h("Message-ID", fmt.Sprintf("<pdm-%d-%s@%s>", m.ID, hex.EncodeToString(rb[:4]), domainOf(from)))
	}
	h("MIME-Version", "1.0")
	h("Auto-Submitted", "auto-generated")
	h("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	part := func(ct, body string) {
		b.WriteString("--" + boundary + "\r\n")
		h("Content-Type", ct+"; charset=utf-8")
		h("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		qp := quotedprintable.NewWriter(&b)
		_, _ = io.WriteString(qp, strings.ReplaceAll(body, "\n", "\r\n"))
		_ = qp.Close()
		b.WriteString("\r\n")
	}
	part("text/plain", m.Text)
	if m.HTML != "" {
		part("text/html", m.HTML)
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes()
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.Trim(addr[i+1:], "> ")
	}
	return "localhost"
}

// Chat posts to a chat webhook in the body its kind expects: WeCom and
// DingTalk {"msgtype":"text","text":{"content":...}}, Slack {"text":...}.
type Chat struct {
	Client *http.Client
}

// Send implements Sender.
func (c *Chat) Send(ctx context.Context, m Message) error {
	// Chat messages are rendered as one text (their template); messages
	// queued before chat templates existed carry a subject.
	content := m.Text
	if m.Subject != "" {
		content = m.Subject + "\n" + m.Text
	}
	var body any
	switch m.Channel {
	case ChanWeCom, ChanDingTalk:
		body = map[string]any{"msgtype": "text", "text": map[string]string{"content": content}}
	default:
		body = map[string]string{"text": content}
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Target, bytes.NewReader(b))
	if err != nil {
		return &PermanentError{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	hc := c.Client
	if hc == nil {
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
