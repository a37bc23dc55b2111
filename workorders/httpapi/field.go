package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
)

// FieldConfig wires what the engineers' app needs beyond the ticket core:
// location history and arrival estimates.
type FieldConfig struct {
	Locations LocationStore
	// ETA estimates an engineer's (user id) arrival at an order's asset.
	ETA func(ctx context.Context, o workorders.Order, userID string, now time.Time) (workorders.ETA, error)
	// Mentions finds the comments that mention a user (postgres.Store).
	Mentions interface {
		Mentions(ctx context.Context, userID string, limit int) ([]workorders.MentionItem, error)
	}
}

// LocationStore keeps engineers' location history (postgres.Ops).
type LocationStore interface {
	EngineerByUser(ctx context.Context, userID string) (workorders.Engineer, error)
	GetEngineer(ctx context.Context, id string) (workorders.Engineer, error)
	// AddEngineerLocations stores a batch and returns how many points were new.
	AddEngineerLocations(ctx context.Context, engineerID string, pts []workorders.LocationPoint) (int, error)
	EngineerLocations(ctx context.Context, engineerID string, from, to time.Time, limit int) ([]workorders.LocationPoint, error)
}

type locationBatchIn struct {
	Points []workorders.LocationPoint `json:"points" schema:"required,maxItems=2000"`
}

// LocationBatchResult answers a location batch.
type LocationBatchResult struct {
	Received int                 `json:"received"`
	Stored   int                 `json:"stored"`
	Engineer workorders.Engineer `json:"engineer"`
}

func withFieldSchemas(m map[string]any) map[string]any {
	m["LocationBatchInput"] = locationBatchIn{}
	m["LocationBatchResult"] = LocationBatchResult{}
	m["LocationPoint"] = workorders.LocationPoint{}
	m["ETA"] = workorders.ETA{}
	m["CommentInput"] = commentIn{}
	m["SplitInput"] = splitIn{}
	m["Event"] = workorders.Event{}
	m["Mention"] = workorders.MentionItem{}
	return m
}

type commentIn struct {
	Text string `json:"text" schema:"required,minLength=1,maxLength=4000"`
}

// fieldRoutes: batched location updates, location history, ETA.
func (s *Server) fieldRoutes() {
	f := s.cfg.Field
	if f.Locations != nil {
		s.handle(Route{Method: "POST", Path: "/me/locations", Roles: fieldRoles(), Tag: "engineers",
			Summary: "Report a batch of the calling engineer's positions {points: [{at, lat, lon, accuracy_m}]} (buffered offline); the newest becomes the current location",
			Body:    "LocationBatchInput", Response: "LocationBatchResult"}, func(c *gin.Context) {
			var in locationBatchIn
			if err := s.decode(c, &in); err != nil {
				s.fail(c, err)
				return
			}
			if err := workorders.ValidateLocationBatch(in.Points, time.Now()); err != nil {
				s.fail(c, err)
				return
			}
			ctx := c.Request.Context()
			e, err := f.Locations.EngineerByUser(ctx, userOf(c).ID)
			if err != nil {
				s.fail(c, fmt.Errorf("no engineer record for this user: %w", err))
				return
			}
			n, err := f.Locations.AddEngineerLocations(ctx, e.ID, in.Points)
			if err != nil {
				s.fail(c, err)
				return
			}
			e, err = f.Locations.GetEngineer(ctx, e.ID)
			s.ok(c, http.StatusOK, LocationBatchResult{Received: len(in.Points), Stored: n, Engineer: e}, err)
		})
		s.handle(Route{Method: "GET", Path: "/me/locations", Roles: fieldRoles(), Tag: "engineers",
			Summary: "The calling engineer's own location history, oldest first", Response: "LocationPointList",
			Query: []string{"from", "to", "limit"}}, func(c *gin.Context) {
			e, err := f.Locations.EngineerByUser(c.Request.Context(), userOf(c).ID)
			if err != nil {
				s.fail(c, fmt.Errorf("no engineer record for this user: %w", err))
				return
			}
			s.locationHistory(c, f, e.ID)
		})
		s.handle(Route{Method: "GET", Path: "/engineers/:id/locations", Roles: planners(), Tag: "engineers",
			Summary: "An engineer's location history, oldest first (planners only)", Response: "LocationPointList",
			Query: []string{"from", "to", "limit"}}, func(c *gin.Context) {
			if _, err := f.Locations.GetEngineer(c.Request.Context(), c.Param("id")); err != nil {
				s.fail(c, err)
				return
			}
			s.locationHistory(c, f, c.Param("id"))
		})
	}
	s.handle(Route{Method: "POST", Path: "/work-orders/:id/comments", Roles: fieldRoles(), Tag: "work-orders",
		Summary: "Comment on an order (an engineer's note); @name mentions are listed in the event for notification",
		Body:    "CommentInput", Response: "Event", Status: http.StatusCreated}, func(c *gin.Context) {
		var in commentIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		var st orderService = s.svc
		ev, err := st.Comment(c.Request.Context(), actorOf(c), c.Param("id"), in.Text)
		s.ok(c, http.StatusCreated, ev, err)
	})
	if f.Mentions != nil {
		s.handle(Route{Method: "GET", Path: "/me/mentions", Roles: anyRole(), Tag: "engineers",
			Summary:  "Comments that @mention the calling user, newest first, with the order they are on",
			Response: "MentionList", Query: []string{"limit"}}, func(c *gin.Context) {
			p, err := page(c)
			if err != nil {
				s.fail(c, err)
				return
			}
			items, err := f.Mentions.Mentions(c.Request.Context(), userOf(c).ID, p.Limit)
			s.ok(c, http.StatusOK, list(items, ""), err)
		})
	}
	if f.ETA != nil {
		s.handle(Route{Method: "GET", Path: "/work-orders/:id/eta", Roles: anyRole(), Tag: "work-orders",
			Summary: "When the order's engineer should reach the asset, from their last reported location", Response: "ETA"},
			func(c *gin.Context) {
				o, err := s.ownOrder(c, c.Param("id"))
				if err != nil {
					s.fail(c, err)
					return
				}
				if o.AssigneeID == nil {
					s.fail(c, fmt.Errorf("%w: order %s has no engineer", workorders.ErrNotFound, o.Number))
					return
				}
				eta, err := f.ETA(c.Request.Context(), o, *o.AssigneeID, time.Now())
				s.ok(c, http.StatusOK, eta, err)
			})
	}
}

func (s *Server) locationHistory(c *gin.Context, f FieldConfig, engineerID string) {
	from, to, err := queryRange(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p, err := page(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	pts, err := f.Locations.EngineerLocations(c.Request.Context(), engineerID, from, to, p.Limit)
	s.ok(c, http.StatusOK, list(pts, ""), err)
}

// Privacy: an engineer sees colleagues' names and skills, never their home
// or their live position (nor a van's position, which starts at home).

// redactEngineer hides e's home and position from an engineer other than e.
func redactEngineer(c *gin.Context, e workorders.Engineer) workorders.Engineer {
	u := userOf(c)
	if u.Role != workorders.RoleEngineer || (e.UserID != nil && *e.UserID == u.ID) {
		return e
	}
	e.Home = workorders.Location{}
	e.Location, e.LocationAt = nil, nil
	e.TimeOff = []dispatch.Interval{}
	return e
}

// redactVan hides a van's position from engineers other than its own.
func (s *Server) redactVans(c *gin.Context, ls []workorders.StockLocation) []workorders.StockLocation {
	u := userOf(c)
	if u.Role != workorders.RoleEngineer {
		return ls
	}
	mine := ""
	if s.cfg.Ops.Store != nil {
		if e, err := s.cfg.Ops.Store.EngineerByUser(c.Request.Context(), u.ID); err == nil {
			mine = e.ID
		}
	}
	for i, l := range ls {
		if l.Kind == workorders.LocationVan && (l.EngineerID == nil || *l.EngineerID != mine) {
			ls[i].Location = nil
		}
	}
	return ls
}
