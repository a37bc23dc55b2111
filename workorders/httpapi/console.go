package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/workorders"
)

// ConsoleConfig is what the web console needs to know about this
// installation (GET /config).
type ConsoleConfig struct {
	// MapTilesURL is a tile server URL template ({z}/{x}/{y}); empty means
	// the console's offline base layer only (PDM_MAP_TILES_URL).
	MapTilesURL string `json:"map_tiles_url"`
	// MapTilesAttribution is shown on the map when tiles are used.
	MapTilesAttribution string `json:"map_tiles_attribution"`
	// DispatchRebalance is propose (the board shows the optimizer's moves
	// of assigned, not yet accepted orders for approval), auto (they
	// happen on their own) or off (PDM_DISPATCH_REBALANCE).
	DispatchRebalance string `json:"dispatch_rebalance" schema:"enum=|propose|auto|off"`
}

// JobRun says a background job ran on demand.
type JobRun struct {
	Job string    `json:"job"`
	Ran bool      `json:"ran"`
	At  time.Time `json:"at"`
}

type checkIn struct {
	OrderID    string `json:"order_id" schema:"required,format=uuid"`
	EngineerID string `json:"engineer_id" schema:"required,format=uuid"`
}

type applyIn struct {
	Jobs []checkIn `json:"jobs" schema:"required,maxItems=5000"`
}

// consoleSchemas are the schemas of this file's routes.
func consoleSchemas(m map[string]any) map[string]any {
	for k, v := range map[string]any{
		"ConsoleConfig":      ConsoleConfig{},
		"DispatchBoard":      workorders.Board{},
		"AssignmentCheckIn":  checkIn{},
		"AssignmentCheck":    workorders.AssignmentCheck{},
		"DispatchApplyInput": applyIn{},
		"JobRun":             JobRun{},
		"Rebalance":          workorders.Rebalance{},
	} {
		m[k] = v
	}
	return m
}

func (s *Server) consoleRoutes() {
	s.handle(Route{Method: "GET", Path: "/config", Roles: anyRole(), Tag: "console",
		Summary: "What the console needs to know about this installation (map tiles)", Response: "ConsoleConfig"},
		func(c *gin.Context) { c.JSON(http.StatusOK, s.cfg.Console) })
	if inv := s.cfg.Ops.Inventory; inv != nil {
		s.handle(Route{Method: "POST", Path: "/stock/reorder/run", Roles: planners(), Tag: "inventory",
			Summary:  "Run the reorder job now (purchase requests for stock projected below its reorder point); 409 while it runs elsewhere",
			Response: "JobRun"}, func(c *gin.Context) {
			ran, err := s.svc.Store.WithLock(c.Request.Context(), workorders.LockReorder, inv.RunReorder)
			if err == nil && !ran {
				err = fmt.Errorf("%w: the reorder job is running on another replica; retry shortly", workorders.ErrConflict)
			}
			s.ok(c, http.StatusOK, JobRun{Job: "reorder", Ran: ran, At: time.Now().UTC()}, err)
		})
	}
	d := s.cfg.Ops.Dispatch
	if d == nil {
		return
	}
	s.handle(Route{Method: "GET", Path: "/dispatch/board", Roles: readers(), Tag: "dispatch",
		Summary:  "The dispatch board: engineers with state, position and their jobs as a timed chain; approved orders nobody holds",
		Response: "DispatchBoard"}, func(c *gin.Context) {
		b, err := d.Board(c.Request.Context())
		s.ok(c, http.StatusOK, b, err)
	})
	s.handle(Route{Method: "POST", Path: "/dispatch/check", Roles: planners(), Tag: "dispatch",
		Summary: "What assigning an order to an engineer would violate (skills, shift, SLA, parts, capacity); changes nothing",
		Body:    "AssignmentCheckIn", Response: "AssignmentCheck"}, func(c *gin.Context) {
		var in checkIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		out, err := d.Check(c.Request.Context(), in.OrderID, in.EngineerID)
		s.ok(c, http.StatusOK, out, err)
	})
	s.handle(Route{Method: "POST", Path: "/dispatch/preview", Roles: planners(), Tag: "dispatch",
		Summary: "What a dispatch run would assign now, with costs and reasons; changes nothing", Response: "DispatchRun"},
		func(c *gin.Context) {
			run, err := d.Preview(c.Request.Context())
			s.ok(c, http.StatusOK, run, err)
		})
	s.handle(Route{Method: "POST", Path: "/dispatch/apply", Roles: planners(), Tag: "dispatch",
		Summary: "Apply a previewed plan: assign each order to its engineer unless it changed meanwhile (then skipped)",
		Body:    "DispatchApplyInput", Response: "DispatchRun"}, func(c *gin.Context) {
		var in applyIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		pairs := make([][2]string, len(in.Jobs))
		for i, j := range in.Jobs {
			pairs[i] = [2]string{j.OrderID, j.EngineerID}
		}
		run, ran, err := d.Apply(c.Request.Context(), actorOf(c), pairs)
		if err == nil && !ran {
			err = fmt.Errorf("%w: a dispatch run is in progress; retry shortly", workorders.ErrConflict)
		}
		s.ok(c, http.StatusOK, run, err)
	})
	s.handle(Route{Method: "POST", Path: "/dispatch/rebalance/preview", Roles: planners(), Tag: "dispatch",
		Summary: "Re-plan the dispatcher's assigned, not yet accepted orders with the waiting ones: the moves that lower " +
			"the total cost, with the cost before and after; changes nothing", Response: "Rebalance"},
		func(c *gin.Context) {
			rb, err := d.Rebalance(c.Request.Context())
			s.ok(c, http.StatusOK, rb, err)
		})
	s.handle(Route{Method: "POST", Path: "/dispatch/rebalance/apply", Roles: planners(), Tag: "dispatch",
		Summary: "Apply proposed moves: reassign each order to its engineer unless it was accepted or changed meanwhile (then skipped)",
		Body:    "DispatchApplyInput", Response: "DispatchRun"}, func(c *gin.Context) {
		var in applyIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		moves := make([][2]string, len(in.Jobs))
		for i, j := range in.Jobs {
			moves[i] = [2]string{j.OrderID, j.EngineerID}
		}
		run, ran, err := d.ApplyMoves(c.Request.Context(), actorOf(c), moves)
		if err == nil && !ran {
			err = fmt.Errorf("%w: a dispatch run is in progress; retry shortly", workorders.ErrConflict)
		}
		s.ok(c, http.StatusOK, run, err)
	})
}
