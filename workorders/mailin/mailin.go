// Package mailin takes customers' requests in by email: pdm listens for
// SMTP itself (emersion/go-smtp), so any mail server (or a customer's
// client, through an MX record) delivers straight into the ticket core
// without a mailbox to poll. A message to a configured mailbox becomes a
// request of that mailbox's site (sender, subject, body and pictures;
// other attachments are kept on the order); a reply in the thread of a
// request or of a notification (In-Reply-To or References naming a message
// pdm received or sent) becomes a comment on the same order. Messages are
// bounded in size, senders in rate, and robots (bounces, auto-replies,
// bulk mail) are dropped. A message is accepted (250) only once it is
// stored, so a relay retries what failed.
package mailin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/time/rate"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/keyrate"
	"github.com/openpdm/pdm/workorders/requests"
)

// Mailbox says where the mail to one address goes: a site, and
// optionally one asset of it.
type Mailbox struct {
	Address string
	Site    string
	Asset   string
}

// ParseMailboxes reads "address=SITE[/ASSET]" entries separated by commas
// (the PDM_MAIL_MAILBOXES setting). A sub-address names an asset as well:
// mail to service+P-101@example.com goes to asset P-101 of service's site.
func ParseMailboxes(s string) ([]Mailbox, error) {
	var out []Mailbox
	seen := map[string]bool{}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		addr, target, ok := strings.Cut(e, "=")
		site, asset, _ := strings.Cut(strings.TrimSpace(target), "/")
		addr = strings.ToLower(strings.TrimSpace(addr))
		a, err := mail.ParseAddress(addr)
		if !ok || err != nil || a.Address != addr || strings.Contains(addr, "+") || !codeOK(site) || (asset != "" && !codeOK(asset)) {
			return nil, fmt.Errorf("mailbox %q: want address=SITE or address=SITE/ASSET (an address without +, codes of [A-Za-z0-9_-])", e)
		}
		if seen[addr] {
			return nil, fmt.Errorf("mailbox %s given twice", addr)
		}
		seen[addr] = true
		out = append(out, Mailbox{Address: addr, Site: site, Asset: asset})
	}
	return out, nil
}

func codeOK(c string) bool {
	if c == "" || len(c) > 64 {
		return false
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Limits of intake.
const (
	// maxAttachment is the largest attachment kept.
	maxAttachment = requests.MaxPhotoBytes
	maxComment    = 4000
	maxBody       = 5000
)

// Config configures the listener.
type Config struct {
	// Addr is where to listen (host:port).
	Addr string
	// Domain is the name the server greets with.
	Domain    string
	Mailboxes []Mailbox
	// MaxMessageBytes bounds one message (default 25 MiB).
	MaxMessageBytes int64
	// PerSenderPerHour and SenderBurst limit messages per sender address
	// (default 20 an hour, 5 at once); GlobalPerMinute limits them across
	// all senders (default 120), so that spam cannot flood the queue.
	PerSenderPerHour float64
	SenderBurst      int
	GlobalPerMinute  float64
	// Timeout bounds reading a command or the message (default 2 min).
	Timeout time.Duration
}

// Store is the mail intake's memory of messages. Methods return
// workorders.ErrNotFound when nothing matches.
type Store interface {
	// MailThread returns the order a message with these ids (Message-IDs
	// of mail pdm received or sent) belongs to, following merges.
	MailThread(ctx context.Context, ids []string) (string, error)
	// RecordMail remembers a received message's id for its order; it
	// reports false when the id was already recorded.
	RecordMail(ctx context.Context, messageID, orderID, kind, sender string) (bool, error)
	// MailSeen reports whether a message id was already taken in.
	MailSeen(ctx context.Context, messageID string) (bool, error)
}

// creator files requests (requests.Service).
type creator interface {
	Create(ctx context.Context, actor workorders.Actor, in requests.Input) (requests.Created, error)
}

// orders comments on and attaches to orders (workorders.Service).
type orders interface {
	Comment(ctx context.Context, actor workorders.Actor, orderID, text string) (workorders.Event, error)
	AddAttachment(ctx context.Context, actor workorders.Actor, a workorders.Attachment) (workorders.AttachmentMeta, error)
}

// Intake turns messages into requests and comments.
type Intake struct {
	store    Store
	requests creator
	orders   orders
	log      *slog.Logger
}

// NewIntake returns an Intake.
func NewIntake(store Store, reqs creator, ords orders, log *slog.Logger) *Intake {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Intake{store: store, requests: reqs, orders: ords, log: log}
}

// Result says what became of a message.
type Result struct {
	// OrderID is the order it created or commented on ("" when dropped).
	OrderID string
	// Kind is "request", "reply", "duplicate" or "dropped".
	Kind string
}

// Take files one message sent to mailbox mb: a reply in a known thread
// becomes a comment, anything else a request. Bad content is a
// *workorders.ValidationError; other errors are worth a retry.
func (in *Intake) Take(ctx context.Context, mb Mailbox, m Message) (Result, error) {
	if m.Auto {
		in.log.InfoContext(ctx, "mail: dropped automatic message", "from", m.FromAddr, "message_id", m.MessageID)
		return Result{Kind: "dropped"}, nil
	}
	if m.FromAddr == "" {
		return Result{}, workorders.Invalid("from", "the message has no sender address")
	}
	if m.MessageID != "" {
		seen, err := in.store.MailSeen(ctx, m.MessageID)
		if err != nil {
			return Result{}, err
		}
		if seen {
			return Result{Kind: "duplicate"}, nil
		}
	}
	if len(m.Refs) > 0 {
		orderID, err := in.store.MailThread(ctx, m.Refs)
		switch {
		case err == nil:
			return in.reply(ctx, orderID, m)
		case !errors.Is(err, workorders.ErrNotFound):
			return Result{}, err
		}
	}
	return in.request(ctx, mb, m)
}

func sender(m Message) string {
	if m.FromName != "" {
		return truncate(m.FromName, 100) + " <" + m.FromAddr + ">"
	}
	return m.FromAddr
}

func (in *Intake) reply(ctx context.Context, orderID string, m Message) (Result, error) {
	actor := workorders.Actor{Name: truncate("email: "+sender(m), 200), Role: workorders.RoleViewer}
	text := Reply(m.Text)
	if text == "" && len(m.Attachments) == 0 {
		text = "(empty reply: " + truncate(m.Subject, 200) + ")"
	}
	if text != "" {
		if _, err := in.orders.Comment(ctx, actor, orderID, truncate(text, maxComment)); err != nil {
			return Result{}, fmt.Errorf("comment on %s: %w", orderID, err)
		}
	}
	if err := in.attach(ctx, actor, orderID, m.Attachments); err != nil {
		return Result{}, err
	}
	if err := in.record(ctx, m, orderID, "reply"); err != nil {
		return Result{}, err
	}
	in.log.InfoContext(ctx, "mail: reply", "order_id", orderID, "from", m.FromAddr)
	return Result{OrderID: orderID, Kind: "reply"}, nil
}

func (in *Intake) request(ctx context.Context, mb Mailbox, m Message) (Result, error) {
	req := requests.Input{Channel: requests.ChannelEmail, SiteCode: mb.Site, AssetCode: mb.Asset,
		Title: truncate(cleanSubject(m.Subject), 200), Description: truncate(m.Text, maxBody),
		Requester: requests.Requester{Name: truncate(m.FromName, 200), Email: m.FromAddr, Locale: locale(m)},
		MessageID: m.MessageID}
	var others []File
	for _, f := range m.Attachments {
		if photoType(f.Data) != "" && len(req.Photos) < requests.MaxPhotos {
			req.Photos = append(req.Photos, requests.Photo{Filename: f.Filename, Data: f.Data})
			continue
		}
		others = append(others, f)
	}
	if req.Title == "" && req.Description == "" {
		req.Title = "(no subject)"
	}
	c, err := in.requests.Create(ctx, workorders.Actor{Name: "email", Role: workorders.RoleViewer}, req)
	if errors.Is(err, workorders.ErrNotFound) && mb.Asset != "" {
		// An unknown asset of a known site: file it against the site.
		req.AssetCode = ""
		req.Description = strings.TrimSpace(req.Description + "\n\n(sent to asset " + mb.Asset + ", unknown at site " + mb.Site + ")")
		c, err = in.requests.Create(ctx, workorders.Actor{Name: "email", Role: workorders.RoleViewer}, req)
	}
	if err != nil {
		return Result{}, err
	}
	actor := workorders.Actor{Name: truncate("email: "+sender(m), 200), Role: workorders.RoleViewer}
	if err := in.attach(ctx, actor, c.Order.ID, others); err != nil {
		return Result{}, err
	}
	if err := in.record(ctx, m, c.Order.ID, "request"); err != nil {
		return Result{}, err
	}
	return Result{OrderID: c.Order.ID, Kind: "request"}, nil
}

// attach keeps pictures and PDFs (types sniffed from content); anything
// else is named in a comment but not kept.
func (in *Intake) attach(ctx context.Context, actor workorders.Actor, orderID string, files []File) error {
	var skipped []string
	for i, f := range files {
		name := cleanFilename(f.Filename, i)
		kind, ct := "photo", photoType(f.Data)
		if ct == "" && http.DetectContentType(f.Data) == "application/pdf" {
			kind, ct = "document", "application/pdf"
		}
		if ct == "" || len(f.Data) > maxAttachment || i >= 10 {
			skipped = append(skipped, name)
			continue
		}
		if _, err := in.orders.AddAttachment(ctx, actor, workorders.Attachment{AttachmentMeta: workorders.AttachmentMeta{
			OrderID: orderID, Kind: kind, Filename: name, ContentType: ct}, Data: f.Data}); err != nil {
			return fmt.Errorf("attach %s: %w", name, err)
		}
	}
	if len(skipped) > 0 {
		note := truncate("Attachments not kept (only pictures and PDFs up to 8 MiB, at most 10): "+strings.Join(skipped, ", "), maxComment)
		if _, err := in.orders.Comment(ctx, actor, orderID, note); err != nil {
			return fmt.Errorf("comment on %s: %w", orderID, err)
		}
	}
	return nil
}

func (in *Intake) record(ctx context.Context, m Message, orderID, kind string) error {
	if m.MessageID == "" {
		return nil
	}
	_, err := in.store.RecordMail(ctx, m.MessageID, orderID, kind, m.FromAddr)
	return err
}

func photoType(b []byte) string {
	switch ct := http.DetectContentType(b); ct {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		return ct
	}
	return ""
}

func cleanFilename(n string, i int) string {
	n = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, strings.TrimSpace(n))
	if n == "" {
		n = fmt.Sprintf("attachment-%d", i+1)
	}
	return truncate(n, 120)
}

// locale guesses the requester's language: Chinese when the subject or
// body holds Han characters.
func locale(m Message) string {
	for _, r := range m.Subject + m.Text {
		if r >= 0x4e00 && r <= 0x9fff {
			return "zh-CN"
		}
	}
	return "en"
}

// Server is the SMTP listener.
type Server struct {
	cfg       Config
	intake    *Intake
	log       *slog.Logger
	boxes     map[string]Mailbox
	perSender *keyrate.Limiter
	global    *rate.Limiter
	srv       *smtp.Server
}

// NewServer returns a listener that hands messages to intake.
func NewServer(cfg Config, intake *Intake, log *slog.Logger) *Server {
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 25 << 20
	}
	if cfg.PerSenderPerHour <= 0 {
		cfg.PerSenderPerHour = 20
	}
	if cfg.SenderBurst <= 0 {
		cfg.SenderBurst = 5
	}
	if cfg.GlobalPerMinute <= 0 {
		cfg.GlobalPerMinute = 120
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, intake: intake, log: log, boxes: map[string]Mailbox{},
		perSender: keyrate.New(rate.Limit(cfg.PerSenderPerHour/3600), cfg.SenderBurst),
		global:    rate.NewLimiter(rate.Limit(cfg.GlobalPerMinute/60), int(cfg.GlobalPerMinute/4)+1)}
	for _, mb := range cfg.Mailboxes {
		s.boxes[strings.ToLower(mb.Address)] = mb
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, remote: c.Conn().RemoteAddr().String()}, nil
	}))
	srv.Addr = cfg.Addr
	srv.Domain = cfg.Domain
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = 20
	srv.MaxLineLength = 10_000
	srv.ReadTimeout = cfg.Timeout
	srv.WriteTimeout = cfg.Timeout
	srv.ErrorLog = errorLog{log}
	s.srv = srv
	return s
}

// Serve accepts connections on l until ctx ends, then closes the listener
// and waits for the sessions in progress (at most 10 s).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("mail intake: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		_ = s.srv.Close()
	}
	<-errc
	return nil
}

// Run listens on the configured address and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("mail intake: %w", err)
	}
	s.log.InfoContext(ctx, "mail intake listening", "addr", l.Addr().String(), "mailboxes", len(s.boxes))
	return s.Serve(ctx, l)
}

// mailbox resolves a recipient, sub-addresses included.
func (s *Server) mailbox(to string) (Mailbox, bool) {
	orig := strings.Trim(strings.TrimSpace(to), "<>")
	addr := strings.ToLower(orig)
	if mb, ok := s.boxes[addr]; ok {
		return mb, true
	}
	local, domain, ok := strings.Cut(addr, "@")
	base, sub, plus := strings.Cut(local, "+")
	if !ok || !plus {
		return Mailbox{}, false
	}
	mb, found := s.boxes[base+"@"+domain]
	if !found {
		return Mailbox{}, false
	}
	// The sub-address keeps its case as written for the asset code lookup.
	if i := strings.IndexByte(orig, '+'); i >= 0 {
		if j := strings.LastIndexByte(orig, '@'); j > i {
			sub = orig[i+1 : j]
		}
	}
	if mb.Asset == "" && codeOK(sub) {
		mb.Asset = sub
	}
	return mb, true
}

type errorLog struct{ l *slog.Logger }

func (e errorLog) Printf(format string, v ...any) {
	e.l.Warn("mail intake: " + fmt.Sprintf(format, v...))
}
func (e errorLog) Println(v ...any) { e.l.Warn("mail intake: " + fmt.Sprint(v...)) }
