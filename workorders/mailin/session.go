package mailin

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/openpdm/pdm/workorders"
)

// session is one SMTP conversation.
type session struct {
	s      *Server
	remote string
	from   string
	bounce bool
	to     []Mailbox
}

func smtpErr(code int, enh smtp.EnhancedCode, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

func (ss *session) Reset() { ss.from, ss.bounce, ss.to = "", false, nil }

func (ss *session) Logout() error { return nil }

// Mail checks the sender's rate; a bounce (empty sender) is taken in and
// dropped later.
func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.Reset()
	from = strings.ToLower(strings.TrimSpace(from))
	if from == "" {
		ss.bounce = true
		return nil
	}
	if len(from) > 254 || !strings.Contains(from, "@") {
		return smtpErr(553, smtp.EnhancedCode{5, 1, 7}, "bad sender address")
	}
	if !ss.s.perSender.Allow(from) {
		return smtpErr(450, smtp.EnhancedCode{4, 7, 1}, "too many messages from this sender; try again later")
	}
	if !ss.s.global.Allow() {
		return smtpErr(421, smtp.EnhancedCode{4, 7, 0}, "too many messages right now; try again later")
	}
	ss.from = from
	return nil
}

// Rcpt accepts the configured mailboxes only (no relaying).
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	mb, ok := ss.s.mailbox(to)
	if !ok {
		return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "no such mailbox here")
	}
	ss.to = append(ss.to, mb)
	return nil
}

// Data stores the message before answering 250: a bad message is refused
// for good (5xx, the sender's server tells them why), a failure to store
// it is temporary (4xx, the sender's server retries).
func (ss *session) Data(r io.Reader) error {
	m, err := Parse(r)
	if _, cerr := io.Copy(io.Discard, r); cerr != nil {
		var se *smtp.SMTPError
		if errors.As(cerr, &se) {
			return se // too large
		}
	}
	if err != nil {
		return smtpErr(554, smtp.EnhancedCode{5, 6, 0}, "not a readable email message")
	}
	if ss.bounce {
		m.Auto = true
	}
	if m.FromAddr == "" {
		m.FromAddr = ss.from
	}
	if len(ss.to) == 0 {
		return smtpErr(554, smtp.EnhancedCode{5, 5, 1}, "no valid recipients")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := ss.s.intake.Take(ctx, ss.to[0], m)
	var ve *workorders.ValidationError
	switch {
	case err == nil:
		ss.s.log.InfoContext(ctx, "mail received", "kind", res.Kind, "order_id", res.OrderID, "from", m.FromAddr,
			"remote", ss.remote)
		return nil
	case errors.As(err, &ve):
		return smtpErr(550, smtp.EnhancedCode{5, 6, 0}, "message refused: "+oneLine(err.Error()))
	case errors.Is(err, workorders.ErrNotFound):
		return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "this mailbox's site does not exist")
	default:
		ss.s.log.WarnContext(ctx, "mail intake failed", "from", m.FromAddr, "err", err)
		return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "could not store the message now; try again later")
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return truncate(s, 400)
}
