package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/labels"
	"github.com/openpdm/pdm/workorders/mailin"
	"github.com/openpdm/pdm/workorders/notify"
	"github.com/openpdm/pdm/workorders/requests"
)

// enableCustomers builds customers' requests and the notifier, and hooks
// the notifier to the life cycle after whatever is already hooked there.
func (c *core) enableCustomers(cfg Config, log *slog.Logger) {
	c.publicURL = strings.TrimRight(cfg.PublicURL, "/")
	if c.publicURL == "" {
		// Links in emails must be absolute: without PDM_PUBLIC_URL they
		// point at the API's own address.
		c.publicURL = defaultPublicURL(cfg.HTTPAddr)
		log.Info("PDM_PUBLIC_URL not set; links in messages use the API's address", "public_url", c.publicURL)
	}
	c.reqs = requests.New(c.store, c.svc, log.With("component", "requests"), time.Now)
	senders := map[string]notify.Sender{notify.ChanWeCom: &notify.Chat{}, notify.ChanDingTalk: &notify.Chat{},
		notify.ChanSlack: &notify.Chat{}}
	mbs, _ := mailin.ParseMailboxes(cfg.MailMailboxes) // checked by parseConfig
	if cfg.SMTPAddr != "" {
		s := &notify.SMTP{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom}
		if cfg.MailAddr != "" && len(mbs) > 0 {
			// Customers' answers to notifications go to the intake and
			// become comments on their order.
			s.ReplyTo = mbs[0].Address
		}
		senders[notify.ChanEmail] = s
	}
	c.notifier = notify.New(c.store, senders, log.With("component", "notify"), time.Now)
	c.notifier.PublicURL = c.publicURL
	c.notifier.MailDomain = mailDomain(cfg.SMTPFrom)
	// Events that tell someone something are recorded with the event in
	// its transaction; the notifier's relay renders them.
	c.notifier.Pending = c.store
	c.notifier.Templates = c.store
	if cfg.MailAddr != "" {
		intake := mailin.NewIntake(c.store, c.reqs, c.svc, log.With("component", "mailin"))
		c.mail = mailin.NewServer(mailin.Config{Addr: cfg.MailAddr, Domain: mailDomain(mbs[0].Address), Mailboxes: mbs,
			MaxMessageBytes: int64(cfg.MailMaxBytes), PerSenderPerHour: float64(cfg.MailPerHour)}, intake,
			log.With("component", "mailin"))
	}
	prev := c.svc.AfterTransition
	c.svc.AfterTransition = func(ctx context.Context, o workorders.Order, e workorders.Event) {
		if prev != nil {
			prev(ctx, o, e)
		}
		c.notifier.Poke()
	}
	c.reqs.OnCreated = func(context.Context, requests.Created, requests.Record) { c.notifier.Poke() }
}

// defaultPublicURL is http://host:port of the API's listen address (this
// machine's name when it listens on every interface).
func defaultPublicURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://localhost"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "localhost"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// mailDomain is the domain part of an address (localhost when none).
func mailDomain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return strings.Trim(addr[i+1:], "<> ")
	}
	return "localhost"
}

// requestsConfig wires customers' requests and status links into the API.
func (c *core) requestsConfig(log *slog.Logger) httpapi.RequestsConfig {
	if c.reqs == nil {
		c.reqs = requests.New(c.store, c.svc, log.With("component", "requests"), time.Now)
	}
	rc := httpapi.RequestsConfig{Service: c.reqs, PublicURL: c.publicURL, Notify: c.store, Templates: c.store, Reports: c.store,
		Labels: labels.New(labels.FindFonts(c.jobs.LabelFont, log.With("component", "labels")))}
	if c.notifier != nil {
		rc.NotifyChanged = func() {
			c.notifier.InvalidateSubscriptions()
			c.notifier.InvalidateTemplates()
		}
	}
	return rc
}

// publicPages answers a request form of an unknown site or asset
// (/r/{site} or /r/{site}/{asset}) with the form page and status 404, so
// that the page shows "not found" and crawlers and scripts see it too.
func publicPages(reqs *requests.Service, next http.Handler) http.Handler {
	if reqs == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/r/")
		if !ok || r.Method != http.MethodGet || strings.Contains(rest, ".") {
			next.ServeHTTP(w, r)
			return
		}
		site, asset, _ := strings.Cut(strings.Trim(rest, "/"), "/")
		if _, err := reqs.Form(r.Context(), site, asset); errors.Is(err, workorders.ErrNotFound) || strings.Contains(asset, "/") {
			next.ServeHTTP(notFoundWriter{ResponseWriter: w, status: http.StatusNotFound}, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// notFoundWriter replaces a success status with its own.
type notFoundWriter struct {
	http.ResponseWriter
	status int
}

func (s notFoundWriter) WriteHeader(code int) {
	if code == http.StatusOK {
		code = s.status
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s notFoundWriter) Write(b []byte) (int, error) { return s.ResponseWriter.Write(b) }
