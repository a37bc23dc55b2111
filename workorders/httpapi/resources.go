package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

type userIn struct {
	Name string          `json:"name" schema:"required,minLength=1,maxLength=200"`
	Role workorders.Role `json:"role" schema:"required"`
}

// Token is a newly issued bearer token (shown once).
type Token struct {
	Token     string     `json:"token" schema:"required"`
	ExpiresAt *time.Time `json:"expires_at"`
}

type tokenIn struct {
	// ExpiresIn: the token's lifetime (none: until revoked).
	ExpiresIn rules.Duration `json:"expires_in"`
	// Replace revokes the user's other tokens (rotation).
	Replace bool `json:"replace"`
}

// CreatedUser is the answer to POST /users: the token is shown only here.
type CreatedUser struct {
	workorders.User
	Token string `json:"token"`
}

func (s *Server) userRoutes() {
	var st userService = s.svc
	s.handle(Route{Method: "POST", Path: "/users", Roles: admins(), Tag: "users", Summary: "Create a user; the token is shown once",
		Body: "UserInput", Response: "CreatedUser", Status: http.StatusCreated}, func(c *gin.Context) {
		var in userIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		u, tok, err := st.CreateUser(c.Request.Context(), in.Name, in.Role)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, CreatedUser{User: u, Token: tok})
	})
	s.handle(Route{Method: "GET", Path: "/users", Roles: admins(), Tag: "users", Summary: "List users",
		Response: "UserList", Query: []string{"limit", "cursor"}}, func(c *gin.Context) {
		p, err := page(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := st.ListUsers(c.Request.Context(), p)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, list(items, next))
	})
	s.handle(Route{Method: "GET", Path: "/users/:id", Roles: admins(), Tag: "users", Summary: "Get a user", Response: "User"},
		func(c *gin.Context) {
			u, err := st.GetUser(c.Request.Context(), c.Param("id"))
			if err != nil {
				s.fail(c, err)
				return
			}
			c.JSON(http.StatusOK, u)
		})
	s.handle(Route{Method: "POST", Path: "/users/:id/tokens", Roles: admins(), Tag: "users",
		Summary: "Issue another token for a user, shown once; optional expires_in; replace: true rotates (revokes the user's other tokens on every replica within a second)",
		Body:    "TokenInput", Response: "Token", Status: http.StatusCreated}, func(c *gin.Context) {
		var in tokenIn
		if c.Request.ContentLength != 0 {
			if err := s.decode(c, &in); err != nil && !isEmptyBody(err) {
				s.fail(c, err)
				return
			}
		}
		o := workorders.TokenOptions{Replace: in.Replace}
		if in.ExpiresIn > 0 {
			t := time.Now().Add(in.ExpiresIn.D()).UTC()
			o.ExpiresAt = &t
		}
		tok, err := st.NewUserToken(c.Request.Context(), c.Param("id"), o)
		if err != nil {
			s.fail(c, err)
			return
		}
		if in.Replace {
			s.ForgetTokens()
		}
		c.JSON(http.StatusCreated, Token{Token: tok, ExpiresAt: o.ExpiresAt})
	})
	s.handle(Route{Method: "GET", Path: "/users/:id/tokens", Roles: admins(), Tag: "users",
		Summary: "A user's tokens: created, expires and last used (never the secrets)", Response: "TokenInfoList"}, func(c *gin.Context) {
		items, err := st.ListTokens(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, list(items, ""))
	})
	s.handle(Route{Method: "DELETE", Path: "/users/:id/tokens", Roles: admins(), Tag: "users",
		Summary: "Revoke every token of a user (every replica forgets them within a second)", Status: http.StatusNoContent},
		func(c *gin.Context) {
			if _, err := st.RevokeTokens(c.Request.Context(), c.Param("id")); err != nil {
				s.fail(c, err)
				return
			}
			s.ForgetTokens()
			c.Status(http.StatusNoContent)
		})
	s.handle(Route{Method: "GET", Path: "/me", Roles: anyRole(), Tag: "users", Summary: "The calling user", Response: "User"},
		func(c *gin.Context) { c.JSON(http.StatusOK, userOf(c)) })
}

type siteIn struct {
	Code     string               `json:"code" schema:"required,pattern=^[A-Za-z0-9_-]{1,64}$"`
	Name     string               `json:"name" schema:"required,minLength=1,maxLength=200"`
	Location *workorders.Location `json:"location"`
}

func (s *Server) siteRoutes() {
	var st siteService = s.svc
	s.handle(Route{Method: "GET", Path: "/sites", Roles: anyRole(), Tag: "sites", Summary: "List sites",
		Response: "SiteList", Query: []string{"limit", "cursor"}}, func(c *gin.Context) {
		p, err := page(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := st.ListSites(c.Request.Context(), p)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, list(items, next))
	})
	s.handle(Route{Method: "POST", Path: "/sites", Roles: planners(), Tag: "sites", Summary: "Create a site",
		Body: "SiteInput", Response: "Site", Status: http.StatusCreated}, func(c *gin.Context) {
		var in siteIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		v, err := st.CreateSite(c.Request.Context(), workorders.Site{Code: in.Code, Name: in.Name, Location: in.Location})
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, v)
	})
	s.handle(Route{Method: "GET", Path: "/sites/:id", Roles: anyRole(), Tag: "sites", Summary: "Get a site", Response: "Site"},
		func(c *gin.Context) {
			v, err := st.GetSite(c.Request.Context(), c.Param("id"))
			if err != nil {
				s.fail(c, err)
				return
			}
			c.JSON(http.StatusOK, v)
		})
	s.handle(Route{Method: "PUT", Path: "/sites/:id", Roles: planners(), Tag: "sites", Summary: "Replace a site",
		Body: "SiteInput", Response: "Site"}, func(c *gin.Context) {
		var in siteIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		v, err := st.UpdateSite(c.Request.Context(), workorders.Site{ID: c.Param("id"), Code: in.Code, Name: in.Name, Location: in.Location})
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	})
	s.handle(Route{Method: "DELETE", Path: "/sites/:id", Roles: planners(), Tag: "sites", Summary: "Delete a site without assets",
		Status: http.StatusNoContent}, func(c *gin.Context) {
		if err := st.DeleteSite(c.Request.Context(), c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
}

type assetIn struct {
	SiteID      string               `json:"site_id" schema:"required,format=uuid"`
	Code        string               `json:"code" schema:"required,pattern=^[A-Za-z0-9_-]{1,64}$"`
	Type        string               `json:"type" schema:"required,minLength=1,maxLength=64"`
	Name        string               `json:"name" schema:"required,minLength=1,maxLength=200"`
	Criticality int                  `json:"criticality" schema:"min=1,max=5"`
	Location    *workorders.Location `json:"location"`
	ParentID    *string              `json:"parent_id" schema:"format=uuid"`
	Area        string               `json:"area" schema:"maxLength=100"`
}

func (in assetIn) asset(id string) workorders.Asset {
	return workorders.Asset{ID: id, SiteID: in.SiteID, Code: in.Code, Type: in.Type, Name: in.Name,
		Criticality: in.Criticality, Location: in.Location, ParentID: in.ParentID, Area: strings.TrimSpace(in.Area)}
}

func (s *Server) assetRoutes() {
	var st assetService = s.svc
	s.handle(Route{Method: "GET", Path: "/assets", Roles: anyRole(), Tag: "assets", Summary: "List or find assets",
		Response: "AssetList", Query: []string{"site_id", "code", "type", "area", "limit", "cursor"}}, func(c *gin.Context) {
		p, err := page(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := st.ListAssets(c.Request.Context(), workorders.AssetFilter{
			SiteID: c.Query("site_id"), Code: c.Query("code"), Type: c.Query("type"), Area: c.Query("area"), Page: p})
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, list(items, next))
	})
	s.handle(Route{Method: "POST", Path: "/assets", Roles: planners(), Tag: "assets", Summary: "Create an asset",
		Body: "AssetInput", Response: "Asset", Status: http.StatusCreated}, func(c *gin.Context) {
		var in assetIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		v, err := st.CreateAsset(c.Request.Context(), in.asset(""))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, v)
	})
	s.handle(Route{Method: "GET", Path: "/assets/:id", Roles: anyRole(), Tag: "assets", Summary: "Get an asset", Response: "Asset"},
		func(c *gin.Context) {
			v, err := st.GetAsset(c.Request.Context(), c.Param("id"))
			if err != nil {
				s.fail(c, err)
				return
			}
			c.JSON(http.StatusOK, v)
		})
	s.handle(Route{Method: "PUT", Path: "/assets/:id", Roles: planners(), Tag: "assets", Summary: "Replace an asset",
		Body: "AssetInput", Response: "Asset"}, func(c *gin.Context) {
		var in assetIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		v, err := st.UpdateAsset(c.Request.Context(), in.asset(c.Param("id")))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	})
	s.handle(Route{Method: "DELETE", Path: "/assets/:id", Roles: planners(), Tag: "assets", Summary: "Delete an asset without work orders",
		Status: http.StatusNoContent}, func(c *gin.Context) {
		if err := st.DeleteAsset(c.Request.Context(), c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	s.handle(Route{Method: "GET", Path: "/assets/:id/telemetry", Roles: anyRole(), Tag: "assets",
		Summary: "Read an asset's telemetry", Response: "TelemetryList", Query: []string{"metric", "from", "to", "every", "max_points"}}, s.telemetry)
	s.handle(Route{Method: "GET", Path: "/assets/:id/health", Roles: anyRole(), Tag: "assets",
		Summary: "Latest value, rule state and prediction per metric", Response: "AssetHealth"}, s.health)
}

// ruleIn is a rule as posted; enabled defaults to true on create.
type ruleIn struct {
	rules.Rule
	Enabled *bool `json:"enabled"`
}

func (s *Server) ruleRoutes() {
	var st ruleService = s.svc
	s.handle(Route{Method: "GET", Path: "/rules", Roles: readers(), Tag: "rules", Summary: "List rules",
		Response: "RuleList", Query: []string{"limit", "cursor"}}, func(c *gin.Context) {
		p, err := page(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := st.ListRules(c.Request.Context(), p)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, list(items, next))
	})
	s.handle(Route{Method: "POST", Path: "/rules", Roles: planners(), Tag: "rules", Summary: "Create a rule",
		Body: "Rule", Response: "Rule", Status: http.StatusCreated}, func(c *gin.Context) {
		var in ruleIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		r := in.Rule
		r.ID = ""
		r.Enabled = in.Enabled == nil || *in.Enabled
		v, err := st.CreateRule(c.Request.Context(), r)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, v)
	})
	s.handle(Route{Method: "GET", Path: "/rules/:id", Roles: readers(), Tag: "rules", Summary: "Get a rule", Response: "Rule"},
		func(c *gin.Context) {
			v, err := st.GetRule(c.Request.Context(), c.Param("id"))
			if err != nil {
				s.fail(c, err)
				return
			}
			c.JSON(http.StatusOK, v)
		})
	s.handle(Route{Method: "PUT", Path: "/rules/:id", Roles: planners(), Tag: "rules",
		Summary: "Replace a rule (enabled kept when omitted)", Body: "Rule", Response: "Rule"}, func(c *gin.Context) {
		var in ruleIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		old, err := st.GetRule(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		r := in.Rule
		r.ID = old.ID
		r.Enabled = old.Enabled
		if in.Enabled != nil {
			r.Enabled = *in.Enabled
		}
		v, err := st.UpdateRule(c.Request.Context(), r)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	})
	s.handle(Route{Method: "DELETE", Path: "/rules/:id", Roles: planners(), Tag: "rules", Summary: "Delete a rule",
		Status: http.StatusNoContent}, func(c *gin.Context) {
		if err := st.DeleteRule(c.Request.Context(), c.Param("id")); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	s.handle(Route{Method: "POST", Path: "/rules/:id/backtest", Roles: planners(), Tag: "rules",
		Summary: "Replay history through a saved rule, changing nothing", Body: "BacktestInput", Response: "BacktestResult"},
		s.backtestSaved)
	s.handle(Route{Method: "POST", Path: "/rules/backtest", Roles: planners(), Tag: "rules",
		Summary: "Replay history through a draft rule, changing nothing", Body: "DraftBacktestInput", Response: "BacktestResult"},
		s.backtestDraft)
}

func (s *Server) signalRoutes() {
	var st signalReader = s.svc
	s.handle(Route{Method: "GET", Path: "/signals", Roles: readers(), Tag: "signals", Summary: "List signals, newest first",
		Response: "SignalList", Query: []string{"asset_id", "rule_id", "kind", "level", "limit", "cursor"}}, func(c *gin.Context) {
		p, err := page(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		items, next, err := st.ListSignals(c.Request.Context(), workorders.SignalFilter{AssetID: c.Query("asset_id"),
			RuleID: c.Query("rule_id"), Kind: c.Query("kind"), Level: c.Query("level"), Page: p})
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, list(items, next))
	})
	s.handle(Route{Method: "GET", Path: "/signals/:id", Roles: readers(), Tag: "signals", Summary: "Get a signal with its evidence",
		Response: "Signal"}, func(c *gin.Context) {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			s.fail(c, workorders.ErrNotFound)
			return
		}
		v, err := st.GetSignal(c.Request.Context(), id)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	})
}
