package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type splitIn struct {
	AssetID string `json:"asset_id" schema:"required,minLength=1"`
}

// groupingRoutes: a planner splits an asset linked to an order ("one
// cause, one order") out into its own order.
func (s *Server) groupingRoutes() {
	s.handle(Route{Method: "POST", Path: "/work-orders/:id/split", Roles: planners(), Tag: "work-orders",
		Summary: "Split an asset linked to this order (event linked) out into an auto order of its own",
		Body:    "SplitInput", Response: "WorkOrder", Status: http.StatusCreated}, func(c *gin.Context) {
		var in splitIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		o, err := s.svc.SplitOrder(c.Request.Context(), actorOf(c), c.Param("id"), in.AssetID)
		s.ok(c, http.StatusCreated, o, err)
	})
}
