package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/workorders"
)

type helperIn struct {
	UserID string `json:"user_id" schema:"required,format=uuid"`
	Note   string `json:"note" schema:"maxLength=4000"`
}

type transferIn struct {
	ToUserID string `json:"to_user_id" schema:"required,format=uuid"`
	Note     string `json:"note" schema:"maxLength=4000"`
}

type decisionIn struct {
	Note string `json:"note" schema:"maxLength=4000"`
}

func withCollaborationSchemas(m map[string]any) map[string]any {
	m["HelperInput"] = helperIn{}
	m["TransferInput"] = transferIn{}
	m["TransferDecisionInput"] = decisionIn{}
	m["TransferRequest"] = workorders.TransferRequest{}
	return m
}

// collaborationRoutes: helpers on a job and transfers to another engineer.
func (s *Server) collaborationRoutes() {
	s.handle(Route{Method: "POST", Path: "/work-orders/:id/helpers", Roles: fieldRoles(), Tag: "work-orders",
		Summary: "Ask a colleague (an engineer's user_id) to help on a job: they see it in their jobs and may comment and attach photos",
		Body:    "HelperInput", Response: "WorkOrder"}, func(c *gin.Context) {
		var in helperIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		o, err := s.svc.AddHelper(c.Request.Context(), actorOf(c), c.Param("id"), in.UserID, in.Note)
		s.ok(c, http.StatusOK, o, err)
	})
	s.handle(Route{Method: "DELETE", Path: "/work-orders/:id/helpers/:user_id", Roles: fieldRoles(), Tag: "work-orders",
		Summary:  "Take a helper off a job (its engineer, a planner, or the helper leaving)",
		Response: "WorkOrder"}, func(c *gin.Context) {
		o, err := s.svc.RemoveHelper(c.Request.Context(), actorOf(c), c.Param("id"), c.Param("user_id"))
		s.ok(c, http.StatusOK, o, err)
	})
	s.handle(Route{Method: "POST", Path: "/work-orders/:id/transfer", Roles: fieldRoles(), Tag: "work-orders",
		Summary: "Transfer a job to another engineer: at once for planners or where the dispatch policy says transfer=direct; otherwise a request (transfer_request) a planner approves",
		Body:    "TransferInput", Response: "WorkOrder"}, func(c *gin.Context) {
		var in transferIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		ctx := c.Request.Context()
		direct := userOf(c).Role != workorders.RoleEngineer
		if !direct && s.cfg.Claims != nil {
			o, err := s.ownOrder(c, c.Param("id"))
			if err != nil {
				s.fail(c, err)
				return
			}
			if direct, err = s.cfg.Claims.DirectTransfer(ctx, o); err != nil {
				s.fail(c, err)
				return
			}
		}
		o, err := s.svc.Transfer(ctx, actorOf(c), c.Param("id"), in.ToUserID, in.Note, direct)
		s.ok(c, http.StatusOK, o, err)
	})
	for _, d := range []struct {
		path, summary string
		approve       bool
	}{
		{"approve", "Approve a job's pending transfer: the job changes engineer", true},
		{"reject", "Reject a job's pending transfer: the job stays with its engineer", false},
	} {
		s.handle(Route{Method: "POST", Path: "/work-orders/:id/transfer/" + d.path, Roles: planners(), Tag: "work-orders",
			Summary: d.summary, Body: "TransferDecisionInput", Response: "WorkOrder"}, func(c *gin.Context) {
			var in decisionIn
			if c.Request.ContentLength != 0 {
				if err := s.decode(c, &in); err != nil && !isEmptyBody(err) {
					s.fail(c, err)
					return
				}
			}
			o, err := s.svc.DecideTransfer(c.Request.Context(), actorOf(c), c.Param("id"), d.approve, in.Note)
			s.ok(c, http.StatusOK, o, err)
		})
	}
}
