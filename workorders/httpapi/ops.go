package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
)

// OpsConfig wires dispatch, inventory, KPIs, knowledge and preventive
// schedules into the API. With Store nil none of their routes exist.
type OpsConfig struct {
	// Store is the ops store (postgres.Ops).
	Store     OpsStore
	Dispatch  *workorders.DispatchRunner
	Inventory *workorders.Inventory
	KPIs      workorders.KPIStore
	Knowledge *workorders.Knowledge
	Schedules *workorders.Scheduler
}

// withOpsSchemas adds the ops resources' schemas to the document's.
func withOpsSchemas(m map[string]any) map[string]any {
	for k, v := range map[string]any{
		"Engineer":         workorders.Engineer{},
		"EngineerInput":    engineerIn{},
		"LocationInput":    workorders.Location{},
		"DispatchPlan":     workorders.Plan{},
		"DispatchRun":      workorders.DispatchRun{},
		"Part":             workorders.Part{},
		"PartInput":        partIn{},
		"StockLocation":    workorders.StockLocation{},
		"StockLocationIn":  locationIn{},
		"Stock":            workorders.StockRow{},
		"StockPolicyInput": policyIn{},
		"StockChangeInput": workorders.StockChange{},
		"Movement":         workorders.Movement{},
		"PurchaseRequest":  workorders.PurchaseRequest{},
		"PurchaseInput":    purchaseIn{},
		"ReceiveInput":     receiveIn{},
		"PartsState":       workorders.PartsState{},
		"KPIs":             workorders.KPIs{},
		"KnowledgeArticle": workorders.Article{},
		"ArticleInput":     articleIn{},
		"ResolutionInput":  resolutionIn{},
		"Schedule":         workorders.Schedule{},
		"ScheduleInput":    workorders.Schedule{},
		"Occurrence":       workorders.Occurrence{},
		"ScheduleRun":      workorders.ScheduleRunResult{},
	} {
		m[k] = v
	}
	return m
}

// knowledgeSuggester adapts the knowledge base to the order detail.
type knowledgeSuggester struct{ kb *workorders.Knowledge }

func (k knowledgeSuggester) SuggestArticles(ctx context.Context, o workorders.Order, limit int) ([]Article, error) {
	as, err := k.kb.Suggest(ctx, o, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Article, 0, len(as))
	for _, a := range as {
		out = append(out, Article{ID: a.ID, Title: a.Title, FailureModes: a.FailureModes, Score: a.Score})
	}
	return out, nil
}

// opsRoutes registers engineers, dispatch, parts, stock locations, stock,
// movements, purchase requests, KPIs, knowledge and schedules.
func (s *Server) opsRoutes() {
	o := s.cfg.Ops
	if o.Store == nil {
		return
	}
	if s.cfg.Articles == nil && o.Knowledge != nil {
		s.cfg.Articles = knowledgeSuggester{o.Knowledge}
	}
	s.engineerRoutes(o)
	if o.Dispatch != nil {
		s.dispatchRoutes(o)
	}
	s.inventoryRoutes(o)
	if o.KPIs != nil {
		s.kpiRoutes(o)
	}
	if o.Knowledge != nil {
		s.knowledgeRoutes(o)
	}
	if o.Schedules != nil {
		s.scheduleRoutes(o)
	}
}

// ok writes v or the error.
func (s *Server) ok(c *gin.Context, status int, v any, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(status, v)
}

func (s *Server) noContent(c *gin.Context, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// ---- engineers ----

type engineerIn struct {
	Name        string                 `json:"name" schema:"required,minLength=1,maxLength=200"`
	UserID      *string                `json:"user_id" schema:"format=uuid"`
	SiteID      *string                `json:"site_id" schema:"format=uuid"`
	Skills      workorders.SkillLevels `json:"skills"`
	Home        *workorders.Location   `json:"home"`
	Location    *workorders.Location   `json:"location"`
	TimeZone    string                 `json:"time_zone" schema:"maxLength=64"`
	Shifts      []dispatch.Shift       `json:"shifts" schema:"maxItems=50"`
	TimeOff     []dispatch.Interval    `json:"time_off" schema:"maxItems=200"`
	MaxOpenJobs int                    `json:"max_open_jobs" schema:"min=0,max=1000"`
	Active      *bool                  `json:"active"`
}

func (in engineerIn) engineer() (workorders.Engineer, error) {
	if in.Home == nil {
		return workorders.Engineer{}, workorders.Invalid("home", "required: {lat, lon}")
	}
	e := workorders.Engineer{Name: in.Name, UserID: in.UserID, SiteID: in.SiteID, Skills: in.Skills, Home: *in.Home,
		Location: in.Location, TimeZone: in.TimeZone, Shifts: in.Shifts, TimeOff: in.TimeOff, MaxOpenJobs: in.MaxOpenJobs,
		Active: in.Active == nil || *in.Active}
	return e, workorders.ValidateEngineer(&e)
}

func (s *Server) engineerRoutes(o OpsConfig) {
	var st engineerStore = o.Store
	s.handle(Route{Method: "GET", Path: "/engineers", Roles: anyRole(), Tag: "engineers", Summary: "List engineers",
		Response: "EngineerList", Query: []string{"limit", "cursor"}}, func(c *gin.Context) {
		p, err := page(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := st.ListEngineers(c.Request.Context(), p)
		for i := range items {
			items[i] = redactEngineer(c, items[i])
		}
		s.ok(c, http.StatusOK, list(items, next), err)
	})
	s.handle(Route{Method: "POST", Path: "/engineers", Roles: planners(), Tag: "engineers",
		Summary: "Create an engineer (skills with levels, home, shifts, time off, max open jobs, user_id); a van comes with it",
		Body:    "EngineerInput", Response: "Engineer", Status: http.StatusCreated}, func(c *gin.Context) {
		var in engineerIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		e, err := in.engineer()
		if err != nil {
			s.fail(c, err)
			return
		}
		e, err = st.CreateEngineer(c.Request.Context(), e)
		if err == nil && o.Dispatch != nil {
			o.Dispatch.Kick("engineer added")
		}
		s.ok(c, http.StatusCreated, e, err)
	})
	s.handle(Route{Method: "GET", Path: "/engineers/:id", Roles: anyRole(), Tag: "engineers", Summary: "Get an engineer",
		Response: "Engineer"}, func(c *gin.Context) {
		e, err := st.GetEngineer(c.Request.Context(), c.Param("id"))
		s.ok(c, http.StatusOK, redactEngineer(c, e), err)
	})
	s.handle(Route{Method: "PUT", Path: "/engineers/:id", Roles: planners(), Tag: "engineers", Summary: "Replace an engineer",
		Body: "EngineerInput", Response: "Engineer"}, func(c *gin.Context) {
		var in engineerIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		e, err := in.engineer()
		if err != nil {
			s.fail(c, err)
			return
		}
		e.ID = c.Param("id")
		e, err = st.UpdateEngineer(c.Request.Context(), e)
		if err == nil && o.Dispatch != nil {
			o.Dispatch.Kick("engineer changed")
		}
		s.ok(c, http.StatusOK, e, err)
	})
	s.handle(Route{Method: "DELETE", Path: "/engineers/:id", Roles: planners(), Tag: "engineers",
		Summary: "Delete an engineer whose van has no stock history (else deactivate)", Status: http.StatusNoContent},
		func(c *gin.Context) { s.noContent(c, st.DeleteEngineer(c.Request.Context(), c.Param("id"))) })
	s.handle(Route{Method: "GET", Path: "/me/engineer", Roles: fieldRoles(), Tag: "engineers",
		Summary: "The calling user's engineer record", Response: "Engineer"}, func(c *gin.Context) {
		e, err := st.EngineerByUser(c.Request.Context(), userOf(c).ID)
		s.ok(c, http.StatusOK, e, err)
	})
	s.handle(Route{Method: "POST", Path: "/me/location", Roles: fieldRoles(), Tag: "engineers",
		Summary: "Report the calling engineer's current location {lat, lon}", Body: "LocationInput", Response: "Engineer"},
		func(c *gin.Context) {
			var in workorders.Location
			if err := s.decode(c, &in); err != nil {
				s.fail(c, err)
				return
			}
			ctx := c.Request.Context()
			e, err := st.EngineerByUser(ctx, userOf(c).ID)
			if err != nil {
				s.fail(c, fmt.Errorf("no engineer record for this user: %w", err))
				return
			}
			if in.Lat < -90 || in.Lat > 90 || in.Lon < -180 || in.Lon > 180 {
				s.fail(c, workorders.Unprocessable("location", "lat must be -90..90 and lon -180..180"))
				return
			}
			e, err = st.SetEngineerLocation(ctx, e.ID, in, time.Now().UTC())
			s.ok(c, http.StatusOK, e, err)
		})
}

// ---- dispatch ----

func (s *Server) dispatchRoutes(o OpsConfig) {
	s.handle(Route{Method: "POST", Path: "/dispatch/run", Roles: planners(), Tag: "dispatch",
		Summary: "Assign every approved, unassigned order now (409 while another replica runs)", Response: "DispatchRun"},
		func(c *gin.Context) {
			run, ran, err := o.Dispatch.Run(c.Request.Context(), "api")
			if err == nil && !ran {
				err = fmt.Errorf("%w: a dispatch run is in progress; retry shortly", workorders.ErrConflict)
			}
			s.ok(c, http.StatusOK, run, err)
		})
	s.handle(Route{Method: "GET", Path: "/dispatch/plan", Roles: readers(), Tag: "dispatch",
		Summary: "Current assignments with travel and SLA slack per job, and the last run's explanations", Response: "DispatchPlan"},
		func(c *gin.Context) {
			p, err := o.Dispatch.CurrentPlan(c.Request.Context())
			s.ok(c, http.StatusOK, p, err)
		})
}

// ---- inventory ----

type partIn struct {
	SKU      string  `json:"sku" schema:"required,pattern=^[A-Za-z0-9._-]{1,64}$"`
	Name     string  `json:"name" schema:"required,minLength=1,maxLength=200"`
	Unit     string  `json:"unit" schema:"maxLength=32"`
	UnitCost float64 `json:"unit_cost" schema:"min=0,max=1e9"`
	LeadTime string  `json:"lead_time" schema:"maxLength=64"`
}

func (in partIn) part() (workorders.Part, error) {
	p := workorders.Part{SKU: in.SKU, Name: in.Name, Unit: in.Unit, UnitCost: in.UnitCost}
	if in.LeadTime != "" {
		d, err := rules.ParseDuration(in.LeadTime)
		if err != nil {
			return p, workorders.Invalid("lead_time", "%v", err)
		}
		p.LeadTime = d
	}
	return p, workorders.ValidatePart(&p)
}

type locationIn struct {
	Code     string               `json:"code" schema:"required,pattern=^[A-Za-z0-9._-]{1,64}$"`
	Name     string               `json:"name" schema:"required,minLength=1,maxLength=200"`
	SiteID   *string              `json:"site_id" schema:"format=uuid"`
	Location *workorders.Location `json:"location"`
}

type policyIn struct {
	LocationID   string `json:"location_id" schema:"required,format=uuid"`
	SKU          string `json:"sku" schema:"required,pattern=^[A-Za-z0-9._-]{1,64}$"`
	ReorderPoint int    `json:"reorder_point" schema:"min=0,max=1000000"`
	ReorderQty   int    `json:"reorder_qty" schema:"min=0,max=1000000"`
}

type purchaseIn struct {
	SKU        string `json:"sku" schema:"required,pattern=^[A-Za-z0-9._-]{1,64}$"`
	LocationID string `json:"location_id" schema:"required,format=uuid"`
	Qty        int    `json:"qty" schema:"required,min=1,max=1000000"`
	Note       string `json:"note" schema:"maxLength=4000"`
}

type receiveIn struct {
	Qty int `json:"qty" schema:"min=0,max=1000000"`
}

func (s *Server) inventoryRoutes(o OpsConfig) {
	st := o.Store
	// parts
	s.handle(Route{Method: "GET", Path: "/parts", Roles: anyRole(), Tag: "inventory", Summary: "List the parts catalogue by SKU",
		Response: "PartList", Query: []string{"limit", "cursor"}}, func(c *gin.Context) {
		p, err := page(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := st.ListParts(c.Request.Context(), p)
		s.ok(c, http.StatusOK, list(items, next), err)
	})
	s.handle(Route{Method: "POST", Path: "/parts", Roles: planners(), Tag: "inventory", Summary: "Add a part",
		Body: "PartInput", Response: "Part", Status: http.StatusCreated}, func(c *gin.Context) {
		var in partIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		p, err := in.part()
		if err != nil {
			s.fail(c, err)
			return
		}
		p, err = st.CreatePart(c.Request.Context(), p)
		s.ok(c, http.StatusCreated, p, err)
	})
	s.handle(Route{Method: "GET", Path: "/parts/:id", Roles: anyRole(), Tag: "inventory", Summary: "Get a part by id or SKU",
		Response: "Part"}, func(c *gin.Context) {
		p, err := st.GetPart(c.Request.Context(), c.Param("id"))
		s.ok(c, http.StatusOK, p, err)
	})
	s.handle(Route{Method: "PUT", Path: "/parts/:id", Roles: planners(), Tag: "inventory", Summary: "Replace a part",
		Body: "PartInput", Response: "Part"}, func(c *gin.Context) {
		var in partIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		p, err := in.part()
		if err != nil {
			s.fail(c, err)
			return
		}
		p.ID = c.Param("id")
		p, err = st.UpdatePart(c.Request.Context(), p)
		s.ok(c, http.StatusOK, p, err)
	})
	s.handle(Route{Method: "DELETE", Path: "/parts/:id", Roles: planners(), Tag: "inventory",
		Summary: "Delete a part without stock history", Status: http.StatusNoContent},
		func(c *gin.Context) { s.noContent(c, st.DeletePart(c.Request.Context(), c.Param("id"))) })

	// stock locations
	s.handle(Route{Method: "GET", Path: "/stock-locations", Roles: anyRole(), Tag: "inventory",
		Summary: "List warehouses and vans", Response: "StockLocationList", Query: []string{"kind", "limit", "cursor"}},
		func(c *gin.Context) {
			p, err := page(c)
			if err != nil {
				s.fail(c, err)
				return
			}
			kind := c.Query("kind")
			if kind != "" && kind != workorders.LocationWarehouse && kind != workorders.LocationVan {
				s.fail(c, workorders.Invalid("kind", "must be warehouse or van"))
				return
			}
			items, next, err := st.ListStockLocations(c.Request.Context(), kind, p)
			s.ok(c, http.StatusOK, list(s.redactVans(c, items), next), err)
		})
	s.handle(Route{Method: "POST", Path: "/stock-locations", Roles: planners(), Tag: "inventory",
		Summary: "Create a warehouse (vans come with their engineer)", Body: "StockLocationIn", Response: "StockLocation",
		Status: http.StatusCreated}, func(c *gin.Context) {
		var in locationIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		l := workorders.StockLocation{Code: in.Code, Name: in.Name, Kind: workorders.LocationWarehouse, SiteID: in.SiteID, Location: in.Location}
		if err := workorders.ValidateStockLocation(&l); err != nil {
			s.fail(c, err)
			return
		}
		l, err := st.CreateStockLocation(c.Request.Context(), l)
		s.ok(c, http.StatusCreated, l, err)
	})
	s.handle(Route{Method: "GET", Path: "/stock-locations/:id", Roles: anyRole(), Tag: "inventory",
		Summary: "Get a stock location", Response: "StockLocation"}, func(c *gin.Context) {
		l, err := st.GetStockLocation(c.Request.Context(), c.Param("id"))
		s.ok(c, http.StatusOK, s.redactVans(c, []workorders.StockLocation{l})[0], err)
	})
	s.handle(Route{Method: "PUT", Path: "/stock-locations/:id", Roles: planners(), Tag: "inventory",
		Summary: "Replace a stock location's code, name, site and position", Body: "StockLocationIn", Response: "StockLocation"},
		func(c *gin.Context) {
			var in locationIn
			if err := s.decode(c, &in); err != nil {
				s.fail(c, err)
				return
			}
			ctx := c.Request.Context()
			cur, err := st.GetStockLocation(ctx, c.Param("id"))
			if err != nil {
				s.fail(c, err)
				return
			}
			cur.Code, cur.Name, cur.SiteID, cur.Location = in.Code, in.Name, in.SiteID, in.Location
			if err := workorders.ValidateStockLocation(&cur); err != nil {
				s.fail(c, err)
				return
			}
			l, err := st.UpdateStockLocation(ctx, cur)
			s.ok(c, http.StatusOK, l, err)
		})
	s.handle(Route{Method: "DELETE", Path: "/stock-locations/:id", Roles: planners(), Tag: "inventory",
		Summary: "Delete a warehouse without stock history", Status: http.StatusNoContent},
		func(c *gin.Context) { s.noContent(c, st.DeleteStockLocation(c.Request.Context(), c.Param("id"))) })

	// stock, policy, ledger
	s.handle(Route{Method: "GET", Path: "/stock", Roles: anyRole(), Tag: "inventory",
		Summary:  "Stock per location and part: on_hand, reserved, available, reorder point and quantity, expected demand from predictions, suggested order",
		Response: "StockList", Query: []string{"location_id", "part_id", "sku", "below_reorder", "limit", "cursor"}},
		func(c *gin.Context) {
			p, err := page(c)
			if err != nil {
				s.fail(c, err)
				return
			}
			f := workorders.StockFilter{LocationID: c.Query("location_id"), PartID: c.Query("part_id"), SKU: c.Query("sku"), Page: p}
			if v := c.Query("below_reorder"); v != "" {
				b, err := strconv.ParseBool(v)
				if err != nil {
					s.fail(c, workorders.Invalid("below_reorder", "must be true or false"))
					return
				}
				f.BelowReorder = b
			}
			var items []workorders.StockRow
			var next string
			if o.Inventory != nil {
				items, next, err = o.Inventory.Stock(c.Request.Context(), f)
			} else {
				items, next, err = st.ListStock(c.Request.Context(), f)
			}
			s.ok(c, http.StatusOK, list(items, next), err)
		})
	s.handle(Route{Method: "PUT", Path: "/stock/policy", Roles: planners(), Tag: "inventory",
		Summary: "Set the reorder point and quantity of a part at a location", Body: "StockPolicyInput", Response: "Stock"},
		func(c *gin.Context) {
			var in policyIn
			if err := s.decode(c, &in); err != nil {
				s.fail(c, err)
				return
			}
			if in.ReorderPoint < 0 || in.ReorderQty < 0 {
				s.fail(c, workorders.Unprocessable("reorder_point", "reorder point and quantity must not be negative"))
				return
			}
			row, err := st.SetStockPolicy(c.Request.Context(), in.LocationID, in.SKU, in.ReorderPoint, in.ReorderQty)
			s.ok(c, http.StatusOK, row, err)
		})
	s.handle(Route{Method: "GET", Path: "/stock/movements", Roles: anyRole(), Tag: "inventory",
		Summary: "The stock ledger, newest first", Response: "MovementList",
		Query: []string{"location_id", "part_id", "order_id", "kind", "limit", "cursor"}}, func(c *gin.Context) {
		p, err := page(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := st.ListMovements(c.Request.Context(), workorders.MovementFilter{LocationID: c.Query("location_id"),
			PartID: c.Query("part_id"), OrderID: c.Query("order_id"), Kind: c.Query("kind"), Page: p})
		s.ok(c, http.StatusOK, list(items, next), err)
	})
	s.handle(Route{Method: "POST", Path: "/stock/movements", Roles: planners(), Tag: "inventory",
		Summary: "Book a receipt, an adjustment (signed qty) or a transfer (to_location_id); 409 when stock would go negative",
		Body:    "StockChangeInput", Response: "MovementList", Status: http.StatusCreated}, func(c *gin.Context) {
		var in workorders.StockChange
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		if err := workorders.ValidateStockChange(in); err != nil {
			s.fail(c, err)
			return
		}
		in.Actor = userOf(c).Name
		ctx := c.Request.Context()
		moves, err := st.ApplyStockChange(ctx, in)
		if err == nil && o.Inventory != nil {
			if _, rerr := o.Inventory.ResumeWaiting(ctx); rerr != nil {
				s.log.WarnContext(ctx, "resume waiting orders", "err", rerr)
			}
		}
		s.ok(c, http.StatusCreated, list(moves, ""), err)
	})
	s.handle(Route{Method: "GET", Path: "/work-orders/:id/parts", Roles: anyRole(), Tag: "inventory",
		Summary: "What an order holds: reservations, or shortages while waiting", Response: "PartsState"},
		func(c *gin.Context) {
			ord, err := s.ownOrder(c, c.Param("id"))
			if err != nil {
				s.fail(c, err)
				return
			}
			ps, err := st.OrderPartsState(c.Request.Context(), ord.ID)
			if err != nil && isNotFound(err) {
				ps, err = workorders.PartsState{OrderID: ord.ID, State: "none", Reservations: []workorders.Allocation{},
					Shortages: []workorders.ShortageAt{}}, nil
			}
			s.ok(c, http.StatusOK, ps, err)
		})

	// purchase requests
	s.handle(Route{Method: "GET", Path: "/purchase-requests", Roles: anyRole(), Tag: "inventory",
		Summary: "List purchase requests, newest first", Response: "PurchaseRequestList",
		Query: []string{"status", "part_id", "location_id", "limit", "cursor"}}, func(c *gin.Context) {
		p, err := page(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := st.ListPurchaseRequests(c.Request.Context(), workorders.PurchaseFilter{Status: c.Query("status"),
			PartID: c.Query("part_id"), LocationID: c.Query("location_id"), Page: p})
		s.ok(c, http.StatusOK, list(items, next), err)
	})
	s.handle(Route{Method: "POST", Path: "/purchase-requests", Roles: planners(), Tag: "inventory",
		Summary: "Raise a purchase request (409 when one is open for the part and location)", Body: "PurchaseInput",
		Response: "PurchaseRequest", Status: http.StatusCreated}, func(c *gin.Context) {
		var in purchaseIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		if in.Qty <= 0 {
			s.fail(c, workorders.Unprocessable("qty", "must be positive"))
			return
		}
		ctx := c.Request.Context()
		p, err := st.GetPart(ctx, in.SKU)
		if err != nil {
			s.fail(c, workorders.Unprocessable("sku", "no part %q in the catalogue", in.SKU))
			return
		}
		pr, created, err := st.EnsurePurchaseRequest(ctx, p.ID, in.LocationID, in.Qty, workorders.PRReasonManual, in.Note)
		if err == nil && !created {
			err = fmt.Errorf("%w: purchase request %s is open for this part and location", workorders.ErrConflict, pr.ID)
		}
		s.ok(c, http.StatusCreated, pr, err)
	})
	s.handle(Route{Method: "GET", Path: "/purchase-requests/:id", Roles: anyRole(), Tag: "inventory",
		Summary: "Get a purchase request", Response: "PurchaseRequest"}, func(c *gin.Context) {
		pr, err := st.GetPurchaseRequest(c.Request.Context(), c.Param("id"))
		s.ok(c, http.StatusOK, pr, err)
	})
	s.handle(Route{Method: "POST", Path: "/purchase-requests/:id/receive", Roles: planners(), Tag: "inventory",
		Summary: "Book the delivery (qty, default the requested quantity) and resume orders waiting for it",
		Body:    "ReceiveInput", Response: "PurchaseRequest"}, func(c *gin.Context) {
		var in receiveIn
		if c.Request.ContentLength != 0 {
			if err := s.decode(c, &in); err != nil {
				s.fail(c, err)
				return
			}
		}
		var (
			pr  workorders.PurchaseRequest
			err error
		)
		if o.Inventory != nil {
			pr, err = o.Inventory.Receive(c.Request.Context(), c.Param("id"), in.Qty, userOf(c).Name)
		} else {
			pr, err = st.ReceivePurchaseRequest(c.Request.Context(), c.Param("id"), in.Qty, userOf(c).Name)
		}
		s.ok(c, http.StatusOK, pr, err)
	})
	for _, a := range []struct{ action, status, summary string }{
		{"order", workorders.PROrdered, "Mark an open purchase request as ordered"},
		{"cancel", workorders.PRCancelled, "Cancel an open or ordered purchase request"},
	} {
		s.handle(Route{Method: "POST", Path: "/purchase-requests/:id/" + a.action, Roles: planners(), Tag: "inventory",
			Summary: a.summary, Response: "PurchaseRequest"}, func(c *gin.Context) {
			pr, err := st.SetPurchaseRequestStatus(c.Request.Context(), c.Param("id"), a.status)
			s.ok(c, http.StatusOK, pr, err)
		})
	}
}

func isNotFound(err error) bool {
	status, _ := statusOf(err)
	return status == http.StatusNotFound
}

// ---- KPIs ----

func (s *Server) kpiRoutes(o OpsConfig) {
	s.handle(Route{Method: "GET", Path: "/kpis", Roles: readers(), Tag: "kpis",
		Summary:  "MTTR, MTBF per asset and fleet, SLA compliance, first-time fix, backlog by status and age, utilisation, parts consumption, prediction lead time, precision and false alarms per rule",
		Response: "KPIs", Query: []string{"site_id", "from", "to"}}, func(c *gin.Context) {
		from, to, err := queryRange(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		f := workorders.KPIFilter{SiteID: c.Query("site_id"), From: from, To: to}
		if err := f.Validate(time.Now().UTC()); err != nil {
			s.fail(c, err)
			return
		}
		k, err := o.KPIs.KPIs(c.Request.Context(), f)
		s.ok(c, http.StatusOK, k, err)
	})
}

// ---- knowledge ----

type articleIn struct {
	Title        string   `json:"title" schema:"required,minLength=1,maxLength=300"`
	Body         string   `json:"body" schema:"required,maxLength=100000"`
	FailureModes []string `json:"failure_modes" schema:"maxItems=50"`
	AssetTypes   []string `json:"asset_types" schema:"maxItems=50"`
	Tags         []string `json:"tags" schema:"maxItems=50"`
}

type resolutionIn struct {
	Title string   `json:"title" schema:"maxLength=300"`
	Tags  []string `json:"tags" schema:"maxItems=50"`
}

func (s *Server) knowledgeRoutes(o OpsConfig) {
	kb := o.Knowledge
	s.handle(Route{Method: "GET", Path: "/knowledge", Roles: anyRole(), Tag: "knowledge",
		Summary:  "Search articles (q: Chinese or English, trigram matching) or list them; failure_mode filters",
		Response: "KnowledgeArticleList", Query: []string{"q", "failure_mode", "limit", "cursor"}}, func(c *gin.Context) {
		p, err := page(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		ctx := c.Request.Context()
		if q := c.Query("q"); q != "" {
			items, err := kb.Search(ctx, q, c.Query("failure_mode"), p.Limit)
			s.ok(c, http.StatusOK, list(items, ""), err)
			return
		}
		items, next, err := kb.Store().ListArticles(ctx, c.Query("failure_mode"), p)
		s.ok(c, http.StatusOK, list(items, next), err)
	})
	s.handle(Route{Method: "POST", Path: "/knowledge", Roles: fieldRoles(), Tag: "knowledge", Summary: "Write an article",
		Body: "ArticleInput", Response: "KnowledgeArticle", Status: http.StatusCreated}, func(c *gin.Context) {
		var in articleIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		u := userOf(c)
		a := workorders.Article{Title: in.Title, Body: in.Body, FailureModes: in.FailureModes, AssetTypes: in.AssetTypes,
			Tags: in.Tags, CreatedBy: &u.ID}
		if err := workorders.ValidateArticle(&a); err != nil {
			s.fail(c, err)
			return
		}
		a, err := kb.Store().CreateArticle(c.Request.Context(), a)
		s.ok(c, http.StatusCreated, a, err)
	})
	s.handle(Route{Method: "GET", Path: "/knowledge/:id", Roles: anyRole(), Tag: "knowledge", Summary: "Get an article",
		Response: "KnowledgeArticle"}, func(c *gin.Context) {
		a, err := kb.Store().GetArticle(c.Request.Context(), c.Param("id"))
		s.ok(c, http.StatusOK, a, err)
	})
	s.handle(Route{Method: "PUT", Path: "/knowledge/:id", Roles: planners(), Tag: "knowledge", Summary: "Replace an article",
		Body: "ArticleInput", Response: "KnowledgeArticle"}, func(c *gin.Context) {
		var in articleIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		a := workorders.Article{ID: c.Param("id"), Title: in.Title, Body: in.Body, FailureModes: in.FailureModes,
			AssetTypes: in.AssetTypes, Tags: in.Tags}
		if err := workorders.ValidateArticle(&a); err != nil {
			s.fail(c, err)
			return
		}
		a, err := kb.Store().UpdateArticle(c.Request.Context(), a)
		s.ok(c, http.StatusOK, a, err)
	})
	s.handle(Route{Method: "DELETE", Path: "/knowledge/:id", Roles: planners(), Tag: "knowledge", Summary: "Delete an article",
		Status: http.StatusNoContent}, func(c *gin.Context) {
		s.noContent(c, kb.Store().DeleteArticle(c.Request.Context(), c.Param("id")))
	})
	s.handle(Route{Method: "GET", Path: "/work-orders/:id/knowledge", Roles: anyRole(), Tag: "knowledge",
		Summary: "Articles suggested for an order", Response: "KnowledgeArticleList", Query: []string{"limit"}},
		func(c *gin.Context) {
			p, err := page(c)
			if err != nil {
				s.fail(c, err)
				return
			}
			ord, err := s.ownOrder(c, c.Param("id"))
			if err != nil {
				s.fail(c, err)
				return
			}
			items, err := kb.Suggest(c.Request.Context(), ord, p.Limit)
			s.ok(c, http.StatusOK, list(items, ""), err)
		})
	s.handle(Route{Method: "POST", Path: "/work-orders/:id/knowledge", Roles: fieldRoles(), Tag: "knowledge",
		Summary: "Save a completed order's resolution as an article (once per order)", Body: "ResolutionInput",
		Response: "KnowledgeArticle", Status: http.StatusCreated}, func(c *gin.Context) {
		var in resolutionIn
		if c.Request.ContentLength != 0 {
			if err := s.decode(c, &in); err != nil {
				s.fail(c, err)
				return
			}
		}
		ord, err := s.ownOrder(c, c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		a, err := kb.SaveResolution(c.Request.Context(), ord.ID, actorOf(c), in.Title, in.Tags)
		s.ok(c, http.StatusCreated, a, err)
	})
}

// ---- preventive schedules ----

func (s *Server) scheduleRoutes(o OpsConfig) {
	sc := o.Schedules
	s.handle(Route{Method: "GET", Path: "/schedules", Roles: anyRole(), Tag: "schedules",
		Summary: "List preventive schedules", Response: "ScheduleList", Query: []string{"limit", "cursor"}}, func(c *gin.Context) {
		p, err := page(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := sc.Store().ListSchedules(c.Request.Context(), p)
		s.ok(c, http.StatusOK, list(items, next), err)
	})
	s.handle(Route{Method: "POST", Path: "/schedules", Roles: planners(), Tag: "schedules",
		Summary: "Create a calendar (every) or meter (every_hours of meter_metric, counter or above idle_above) schedule for an asset or asset type",
		Body:    "ScheduleInput", Response: "Schedule", Status: http.StatusCreated}, func(c *gin.Context) {
		var in workorders.Schedule
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		in.Active = true
		if err := workorders.ValidateSchedule(&in); err != nil {
			s.fail(c, err)
			return
		}
		out, err := sc.Store().CreateSchedule(c.Request.Context(), in)
		s.ok(c, http.StatusCreated, out, err)
	})
	s.handle(Route{Method: "GET", Path: "/schedules/:id", Roles: anyRole(), Tag: "schedules", Summary: "Get a schedule",
		Response: "Schedule"}, func(c *gin.Context) {
		out, err := sc.Store().GetSchedule(c.Request.Context(), c.Param("id"))
		s.ok(c, http.StatusOK, out, err)
	})
	s.handle(Route{Method: "PUT", Path: "/schedules/:id", Roles: planners(), Tag: "schedules", Summary: "Replace a schedule",
		Body: "ScheduleInput", Response: "Schedule"}, func(c *gin.Context) {
		var in workorders.Schedule
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		if err := workorders.ValidateSchedule(&in); err != nil {
			s.fail(c, err)
			return
		}
		in.ID = c.Param("id")
		out, err := sc.Store().UpdateSchedule(c.Request.Context(), in)
		s.ok(c, http.StatusOK, out, err)
	})
	s.handle(Route{Method: "DELETE", Path: "/schedules/:id", Roles: planners(), Tag: "schedules", Summary: "Delete a schedule",
		Status: http.StatusNoContent}, func(c *gin.Context) {
		s.noContent(c, sc.Store().DeleteSchedule(c.Request.Context(), c.Param("id")))
	})
	s.handle(Route{Method: "GET", Path: "/schedules/:id/occurrences", Roles: anyRole(), Tag: "schedules",
		Summary: "Occurrences a schedule produced, with their orders", Response: "OccurrenceList", Query: []string{"limit", "cursor"}},
		func(c *gin.Context) {
			p, err := page(c)
			if err != nil {
				s.fail(c, err)
				return
			}
			items, next, err := sc.Store().ListOccurrences(c.Request.Context(), c.Param("id"), p)
			s.ok(c, http.StatusOK, list(items, next), err)
		})
	s.handle(Route{Method: "POST", Path: "/schedules/run", Roles: planners(), Tag: "schedules",
		Summary: "Produce due preventive orders now (the scheduler job does this periodically; 409 while another run holds the lock)", Response: "ScheduleRun"},
		func(c *gin.Context) {
			res, err := sc.Run(c.Request.Context())
			s.ok(c, http.StatusOK, res, err)
		})
}
