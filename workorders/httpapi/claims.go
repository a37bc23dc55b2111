package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/claims"
)

// ClaimService serves dispatch policies and claim mode (claims.Claims).
type ClaimService interface {
	Offers(ctx context.Context, userID string) ([]claims.Offer, error)
	Claim(ctx context.Context, u workorders.User, orderID string) (workorders.Order, error)
	// DirectTransfer reports whether engineers may transfer o without approval.
	DirectTransfer(ctx context.Context, o workorders.Order) (bool, error)
}

type dispatchPolicyIn struct {
	SiteID   *string              `json:"site_id" schema:"format=uuid"`
	Priority *workorders.Priority `json:"priority" schema:"enum=P1|P2|P3|P4"`
	Mode     claims.Mode          `json:"mode" schema:"required,enum=auto|manual|claim"`
	RadiusKm float64              `json:"radius_km" schema:"min=0,max=20000"`
	Transfer claims.Transfer      `json:"transfer" schema:"enum=approval|direct"`
}

func withClaimSchemas(m map[string]any) map[string]any {
	m["DispatchPolicy"] = claims.Policy{}
	m["DispatchPolicyInput"] = dispatchPolicyIn{}
	m["Offer"] = claims.Offer{}
	return m
}

// claimRoutes: dispatch policies, offers and claims.
func (s *Server) claimRoutes() {
	cl, st := s.cfg.Claims, s.cfg.Policies
	if cl == nil || st == nil {
		return
	}
	s.handle(Route{Method: "GET", Path: "/dispatch-policies", Roles: readers(), Tag: "dispatch",
		Summary:  "Dispatch policies per site and priority (auto, manual, claim; the most specific applies)",
		Response: "DispatchPolicyList"}, func(c *gin.Context) {
		ps, err := st.DispatchPolicies(c.Request.Context())
		s.ok(c, http.StatusOK, list(ps, ""), err)
	})
	s.handle(Route{Method: "PUT", Path: "/dispatch-policies", Roles: planners(), Tag: "dispatch",
		Summary: "Set the policy of a site and priority (null: any): auto (the optimizer), manual (planners) or claim (engineers within radius_km claim)",
		Body:    "DispatchPolicyInput", Response: "DispatchPolicy"}, func(c *gin.Context) {
		var in dispatchPolicyIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		p := claims.Policy{SiteID: in.SiteID, Priority: in.Priority, Mode: in.Mode, RadiusKm: in.RadiusKm, Transfer: in.Transfer}
		if err := p.Validate(); err != nil {
			s.fail(c, err)
			return
		}
		p, err := st.PutDispatchPolicy(c.Request.Context(), p)
		s.ok(c, http.StatusOK, p, err)
	})
	s.handle(Route{Method: "GET", Path: "/me/offers", Roles: fieldRoles(), Tag: "engineers",
		Summary:  "Orders in claim mode the calling engineer may claim now (qualified, on shift, within the radius), most urgent and nearest first",
		Response: "OfferList"}, func(c *gin.Context) {
		items, err := cl.Offers(c.Request.Context(), userOf(c).ID)
		s.ok(c, http.StatusOK, list(items, ""), err)
	})
	s.handle(Route{Method: "POST", Path: "/work-orders/:id/claim", Roles: fieldRoles(), Tag: "work-orders",
		Summary:  "Claim an order offered in claim mode: the first claim wins (200), later ones get 409",
		Response: "WorkOrder"}, func(c *gin.Context) {
		o, err := cl.Claim(c.Request.Context(), userOf(c), c.Param("id"))
		s.ok(c, http.StatusOK, o, err)
	})
}
