package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

type slaIn struct {
	Response    rules.Duration `json:"response" schema:"required"`
	Resolution  rules.Duration `json:"resolution" schema:"required"`
	PauseOnHold *bool          `json:"pause_on_hold"`
	AtRisk      float64        `json:"at_risk" schema:"min=0,max=1"`
}

func (s *Server) slaRoutes() {
	var st slaService = s.svc
	s.handle(Route{Method: "GET", Path: "/sla-policies", Roles: readers(), Tag: "sla", Summary: "List SLA policies",
		Response: "SLAPolicyList"}, func(c *gin.Context) {
		items, err := st.ListSLAPolicies(c.Request.Context())
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, list(items, ""))
	})
	s.handle(Route{Method: "PUT", Path: "/sla-policies/:priority", Roles: planners(), Tag: "sla",
		Summary: "Set the SLA policy of a priority (response = to accepted, resolution = to completed)",
		Body:    "SLAPolicyInput", Response: "SLAPolicy"}, func(c *gin.Context) {
		var in slaIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		p := workorders.SLAPolicy{Priority: workorders.Priority(c.Param("priority")), Response: in.Response,
			Resolve: in.Resolution, PauseOnHold: in.PauseOnHold == nil || *in.PauseOnHold, AtRisk: in.AtRisk}
		out, err := st.PutSLAPolicy(c.Request.Context(), p)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, out)
	})
	s.handle(Route{Method: "DELETE", Path: "/sla-policies/:priority", Roles: planners(), Tag: "sla",
		Summary: "Delete the SLA policy of a priority", Status: http.StatusNoContent}, func(c *gin.Context) {
		if err := st.DeleteSLAPolicy(c.Request.Context(), workorders.Priority(c.Param("priority"))); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
}

type webhookIn struct {
	URL        string   `json:"url" schema:"required,minLength=1,maxLength=2000"`
	Secret     string   `json:"secret" schema:"required,minLength=8,maxLength=200"`
	EventTypes []string `json:"event_types" schema:"maxItems=50"`
	Active     *bool    `json:"active"`
}

// webhookOut hides the secret.
func webhookOut(w workorders.Webhook) workorders.Webhook {
	w.Secret = ""
	return w
}

func (s *Server) webhookRoutes() {
	var st webhookService = s.svc
	s.handle(Route{Method: "GET", Path: "/webhooks", Roles: admins(), Tag: "webhooks", Summary: "List webhook subscriptions",
		Response: "WebhookList"}, func(c *gin.Context) {
		items, err := st.ListWebhooks(c.Request.Context())
		if err != nil {
			s.fail(c, err)
			return
		}
		for i := range items {
			items[i] = webhookOut(items[i])
		}
		c.JSON(http.StatusOK, list(items, ""))
	})
	s.handle(Route{Method: "POST", Path: "/webhooks", Roles: admins(), Tag: "webhooks",
		Summary: "Subscribe a URL to work-order events (empty event_types: all)", Body: "WebhookInput", Response: "Webhook",
		Status: http.StatusCreated}, func(c *gin.Context) {
		var in webhookIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		w, err := st.CreateWebhook(c.Request.Context(), workorders.Webhook{URL: in.URL, Secret: in.Secret,
			EventTypes: in.EventTypes, Active: in.Active == nil || *in.Active})
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, webhookOut(w))
	})
	s.handle(Route{Method: "GET", Path: "/webhooks/:id", Roles: admins(), Tag: "webhooks", Summary: "Get a webhook",
		Response: "Webhook"}, func(c *gin.Context) {
		w, err := st.GetWebhook(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, webhookOut(w))
	})
	s.handle(Route{Method: "PUT", Path: "/webhooks/:id", Roles: admins(), Tag: "webhooks",
		Summary: "Replace a webhook (secret kept when omitted)", Body: "WebhookInput", Response: "Webhook"}, func(c *gin.Context) {
		var in webhookIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		old, err := st.GetWebhook(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		w := workorders.Webhook{ID: old.ID, URL: in.URL, Secret: in.Secret, EventTypes: in.EventTypes, Active: old.Active}
		if w.Secret == "" {
			w.Secret = old.Secret
		}
		if in.Active != nil {
			w.Active = *in.Active
		}
		out, err := st.UpdateWebhook(c.Request.Context(), w)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, webhookOut(out))
	})
	s.handle(Route{Method: "DELETE", Path: "/webhooks/:id", Roles: admins(), Tag: "webhooks", Summary: "Delete a webhook",
		Status: http.StatusNoContent}, func(c *gin.Context) {
		if err := st.DeleteWebhook(c.Request.Context(), c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	s.handle(Route{Method: "GET", Path: "/webhooks/:id/deliveries", Roles: admins(), Tag: "webhooks",
		Summary: "A webhook's deliveries (outbox) and their state", Response: "DeliveryList", Query: []string{"limit", "cursor"}},
		func(c *gin.Context) {
			p, err := page(c)
			if err != nil {
				s.fail(c, err)
				return
			}
			items, next, err := st.ListDeliveries(c.Request.Context(), c.Param("id"), p)
			if err != nil {
				s.fail(c, err)
				return
			}
			c.JSON(http.StatusOK, list(items, next))
		})
	s.handle(Route{Method: "GET", Path: "/webhooks/:id/log", Roles: admins(), Tag: "webhooks",
		Summary: "A webhook's delivery log (every attempt)", Response: "DeliveryAttemptList", Query: []string{"limit", "cursor"}},
		func(c *gin.Context) {
			p, err := page(c)
			if err != nil {
				s.fail(c, err)
				return
			}
			items, next, err := st.ListAttempts(c.Request.Context(), c.Param("id"), p)
			if err != nil {
				s.fail(c, err)
				return
			}
			c.JSON(http.StatusOK, list(items, next))
		})
}
