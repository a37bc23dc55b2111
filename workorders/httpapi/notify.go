package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/notify"
)

// NotifyAdmin manages the planners' notification subscriptions and shows
// the outbox (postgres.Store implements it).
type NotifyAdmin interface {
	Subscriptions(ctx context.Context) ([]notify.Subscription, error)
	CreateSubscription(ctx context.Context, s notify.Subscription) (notify.Subscription, error)
	DeleteSubscription(ctx context.Context, id string) error
	Outbox(ctx context.Context, status string, limit int) ([]notify.Message, error)
}

func (s *Server) notifyRoutes(na NotifyAdmin, changed func()) {
	if na == nil {
		return
	}
	s.handle(Route{Method: "GET", Path: "/notifications/subscriptions", Roles: planners(), Tag: "notifications",
		Summary:  "Where planners' notifications go (email addresses, WeCom, DingTalk and Slack webhooks)",
		Response: "NotificationSubscriptionList"}, func(c *gin.Context) {
		subs, err := na.Subscriptions(c.Request.Context())
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, list(subs, ""))
	})
	s.handle(Route{Method: "POST", Path: "/notifications/subscriptions", Roles: admins(), Tag: "notifications",
		Summary: "Send notifications of some kinds (default: new proposed orders and SLA events) to an email address or chat webhook",
		Body:    "NotificationSubscription", Response: "NotificationSubscription", Status: http.StatusCreated}, func(c *gin.Context) {
		var in notify.Subscription
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		s.createSubscription(c, na, changed, in)
	})
	s.handle(Route{Method: "DELETE", Path: "/notifications/subscriptions/:id", Roles: admins(), Tag: "notifications",
		Summary: "Stop a subscription", Status: http.StatusNoContent}, func(c *gin.Context) {
		if err := na.DeleteSubscription(c.Request.Context(), c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		changed()
		c.Status(http.StatusNoContent)
	})
	s.personalNotifyRoutes(na, changed)
	s.handle(Route{Method: "GET", Path: "/notifications/outbox", Roles: admins(), Tag: "notifications",
		Summary:  "The latest notifications and their delivery state (status=pending, sent or failed)",
		Response: "NotificationList", Query: []string{"status"}}, func(c *gin.Context) {
		st := c.Query("status")
		switch st {
		case "", notify.StatusPending, notify.StatusSent, notify.StatusFailed:
		default:
			s.fail(c, workorders.Invalid("status", "must be pending, sent or failed"))
			return
		}
		ms, err := na.Outbox(c.Request.Context(), st, 200)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, list(ms, ""))
	})
}

// createSubscription checks a decoded subscription, fills its defaults,
// stores it and answers 201 (planners' and a user's own subscriptions alike).
func (s *Server) createSubscription(c *gin.Context, na NotifyAdmin, changed func(), in notify.Subscription) {
	if err := s.checkSubscription(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if in.Locale == "" {
		in.Locale = "en"
	}
	in.Active = true
	out, err := na.CreateSubscription(c.Request.Context(), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	changed()
	c.JSON(http.StatusCreated, out)
}

// checkSubscription validates a subscription's target, kinds and user
// (every problem at once).
func (s *Server) checkSubscription(c *gin.Context, in *notify.Subscription) error {
	var p workorders.Problems
	if in.Channel == notify.ChanEmail {
		if a, err := mail.ParseAddress(in.Target); err != nil || a.Address != in.Target {
			p.Add("target", "must be an email address")
		}
	} else if u, err := url.Parse(in.Target); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.Add("target", "must be the webhook's http(s) URL")
	}
	kinds := map[string]bool{notify.KindRequestReceived: true, notify.KindAssigned: true, notify.KindEnRoute: true,
		notify.KindCompleted: true, notify.KindNewProposed: true, notify.KindSLAAtRisk: true, notify.KindSLABreached: true,
		notify.KindTransferProposed: true, notify.KindMention: true, notify.KindHelpRequested: true,
		notify.KindTransferred: true, "*": true}
	for i, k := range in.Kinds {
		if !kinds[k] {
			p.Add("kinds["+strconv.Itoa(i)+"]", "unknown kind %q", k)
		}
	}
	if in.UserID != nil {
		if _, err := s.svc.Store.GetUser(c.Request.Context(), *in.UserID); err != nil {
			p.AddSemantic("user_id", "no such user")
		}
	}
	return p.Err()
}

// personalNotifyRoutes: each user's own subscriptions (where their
// mentions, help requests and transfers are sent).
func (s *Server) personalNotifyRoutes(na NotifyAdmin, changed func()) {
	mine := func(c *gin.Context) ([]notify.Subscription, error) {
		all, err := na.Subscriptions(c.Request.Context())
		out := []notify.Subscription{}
		for _, v := range all {
			if v.UserID != nil && *v.UserID == userOf(c).ID {
				out = append(out, v)
			}
		}
		return out, err
	}
	s.handle(Route{Method: "GET", Path: "/me/notification-subscriptions", Roles: anyRole(), Tag: "notifications",
		Summary:  "Where the calling user's own notifications (mentions, help requests, transfers) are sent",
		Response: "NotificationSubscriptionList"}, func(c *gin.Context) {
		subs, err := mine(c)
		s.ok(c, http.StatusOK, list(subs, ""), err)
	})
	s.handle(Route{Method: "POST", Path: "/me/notification-subscriptions", Roles: anyRole(), Tag: "notifications",
		Summary: "Send the calling user's own notifications (mentions, help requests, transfers; kinds narrow them) to an email address or chat webhook",
		Body:    "NotificationSubscription", Response: "NotificationSubscription", Status: http.StatusCreated}, func(c *gin.Context) {
		var in notify.Subscription
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		uid := userOf(c).ID
		in.UserID = &uid
		s.createSubscription(c, na, changed, in)
	})
	s.handle(Route{Method: "DELETE", Path: "/me/notification-subscriptions/:id", Roles: anyRole(), Tag: "notifications",
		Summary: "Stop one of the calling user's own subscriptions", Status: http.StatusNoContent}, func(c *gin.Context) {
		subs, err := mine(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		if !slices.ContainsFunc(subs, func(v notify.Subscription) bool { return v.ID == c.Param("id") }) {
			s.fail(c, fmt.Errorf("%w: no subscription %s of yours", workorders.ErrNotFound, c.Param("id")))
			return
		}
		if err := na.DeleteSubscription(c.Request.Context(), c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		changed()
		c.Status(http.StatusNoContent)
	})
}

// NotifyTemplates stores the administrators' notification templates
// (postgres.Store implements it); the defaults live in notify.
type NotifyTemplates interface {
	CustomTemplates(ctx context.Context) ([]notify.Template, error)
	PutTemplate(ctx context.Context, t notify.Template) error
	DeleteTemplate(ctx context.Context, kind, locale, channel string) error
}

// templateParamSchema declares the template routes' path parameters.
func templateParamSchema(name string) *schema {
	switch name {
	case "kind":
		return &schema{Type: "string", Enum: notify.Kinds()}
	case "locale":
		return &schema{Type: "string", Enum: notify.Locales()}
	case "channel":
		return &schema{Type: "string", Enum: []string{notify.TemplateEmail, notify.TemplateChat}}
	}
	return &schema{Type: "string", MaxLength: 64}
}

// withTemplateSchemas adds the templates' schemas to the document's.
func withTemplateSchemas(m map[string]any) map[string]any {
	m["NotificationTemplate"] = notify.Template{}
	m["NotificationTemplateInput"] = notify.TemplateParts{}
	m["NotificationPreview"] = notify.Rendered{}
	return m
}

// templateRoutes lets administrators edit what notifications say, per
// kind, locale and channel; planners read them and preview drafts.
func (s *Server) templateRoutes(nt NotifyTemplates, changed func()) {
	if nt == nil {
		return
	}
	const one = "/notifications/templates/:kind/:locale/:channel"
	s.handle(Route{Method: "GET", Path: "/notifications/templates", Roles: planners(), Tag: "notifications",
		Summary:  "What every kind of notification says, per locale and channel (email: subject, plain and HTML body; chat: text): the administrators' versions and the built-in defaults",
		Response: "NotificationTemplateList"}, func(c *gin.Context) {
		custom, err := nt.CustomTemplates(c.Request.Context())
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, list(notify.Templates(custom), ""))
	})
	// answer writes the path's template as it now stands (custom or default).
	answer := func(c *gin.Context) {
		custom, err := nt.CustomTemplates(c.Request.Context())
		if err != nil {
			s.fail(c, err)
			return
		}
		t, err := notify.LookupTemplate(custom, c.Param("kind"), c.Param("locale"), c.Param("channel"))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, t)
	}
	s.handle(Route{Method: "GET", Path: one, Roles: planners(), Tag: "notifications",
		Summary: "One notification template and its built-in default", Response: "NotificationTemplate"}, func(c *gin.Context) {
		answer(c)
	})
	s.handle(Route{Method: "PUT", Path: one, Roles: admins(), Tag: "notifications",
		Summary: "Replace a notification template (text/template; html is html/template): it is parsed and rendered against a sample order first, and every invalid part is named (400) with nothing stored",
		Body:    "NotificationTemplateInput", Response: "NotificationTemplate"}, func(c *gin.Context) {
		var in notify.TemplateParts
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		kind, locale, channel := c.Param("kind"), c.Param("locale"), c.Param("channel")
		if _, err := notify.CheckTemplate(kind, locale, channel, in); err != nil {
			s.fail(c, err)
			return
		}
		t := notify.Template{Kind: kind, Locale: locale, Channel: channel, TemplateParts: in, BasedOn: notify.DefaultVersion}
		if err := nt.PutTemplate(c.Request.Context(), t); err != nil {
			s.fail(c, err)
			return
		}
		changed()
		answer(c)
	})
	s.handle(Route{Method: "DELETE", Path: one, Roles: admins(), Tag: "notifications",
		Summary: "Reset a notification template to the built-in default (answers the default)", Response: "NotificationTemplate"}, func(c *gin.Context) {
		err := nt.DeleteTemplate(c.Request.Context(), c.Param("kind"), c.Param("locale"), c.Param("channel"))
		if err != nil && !errors.Is(err, workorders.ErrNotFound) {
			s.fail(c, err)
			return
		}
		changed()
		answer(c)
	})
	s.handle(Route{Method: "POST", Path: one + "/preview", Roles: planners(), Tag: "notifications",
		Summary: "Render a draft template against a sample order without storing it; every invalid part is named (400)",
		Body:    "NotificationTemplateInput", Response: "NotificationPreview"}, func(c *gin.Context) {
		var in notify.TemplateParts
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		r, err := notify.CheckTemplate(c.Param("kind"), c.Param("locale"), c.Param("channel"), in)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, r)
	})
}
