package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/edge"
	"github.com/openpdm/pdm/workorders/gateways"
)

// gatewaySchemas are the schemas of this file's routes.
func gatewaySchemas(m map[string]any) map[string]any {
	m["Gateway"] = gateways.Gateway{}
	m["GatewayConfig"] = edge.Config{}
	return m
}

// gatewayRoutes: the edge gateways' status and their config (published on
// the retained config topic).
func (s *Server) gatewayRoutes() {
	gw := s.cfg.Gateways
	if gw == nil {
		return
	}
	s.handle(Route{Method: "GET", Path: "/gateways", Roles: readers(), Tag: "gateways",
		Summary:  "Every edge gateway: its retained status, the config the platform published and the agent's answer, the offline alert",
		Response: "GatewayList"}, func(c *gin.Context) {
		out, err := gw.Store.Gateways(c.Request.Context())
		s.ok(c, http.StatusOK, list(out, ""), err)
	})
	s.handle(Route{Method: "GET", Path: "/gateways/:id", Roles: readers(), Tag: "gateways",
		Summary: "One edge gateway", Response: "Gateway"}, func(c *gin.Context) {
		g, err := gw.Store.Gateway(c.Request.Context(), c.Param("id"))
		s.ok(c, http.StatusOK, g, err)
	})
	s.handle(Route{Method: "PUT", Path: "/gateways/:id/config", Roles: planners(), Tag: "gateways",
		Summary: "Validate a gateway's config (sources, sampling, local rules; the agent's JSON form) as the agent would " +
			"and publish it retained on pdm/v1/{site}/gateways/{gateway}/config; the agent's answer appears as config_state",
		Body: "GatewayConfig", Response: "Gateway"}, func(c *gin.Context) {
		var in edge.Config
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		g, err := gw.PutConfig(c.Request.Context(), c.Param("id"), in)
		if errors.Is(err, gateways.ErrBroker) {
			writeError(c, http.StatusServiceUnavailable, "unavailable", err.Error())
			return
		}
		s.ok(c, http.StatusOK, g, err)
	})
}
