package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/labels"
)

// labelRoutes serves printable QR labels pointing at assets' request
// forms (/r/{site}/{asset}).
func (s *Server) labelRoutes() {
	var st labelSource = s.svc
	rend := s.cfg.Requests.Labels
	if rend == nil {
		rend = labels.New(nil)
	}
	base := func(c *gin.Context) string {
		if u := strings.TrimRight(s.cfg.Requests.PublicURL, "/"); u != "" {
			return u
		}
		scheme := "http"
		if c.Request.TLS != nil {
			scheme = "https"
		}
		return scheme + "://" + c.Request.Host
	}
	label := func(c *gin.Context, a workorders.Asset, siteName string) labels.Label {
		return labels.Label{Code: a.Code, Name: a.Name, Site: siteName,
			URL: base(c) + "/r/" + url.PathEscape(a.SiteCode) + "/" + url.PathEscape(a.Code)}
	}
	s.handle(Route{Method: "GET", Path: "/assets/:id/label", Roles: readers(), Tag: "assets",
		Summary:  "A printable label for the asset: QR code of its request form with code and name (format=png or pdf)",
		Response: "Binary", Query: []string{"format"}}, func(c *gin.Context) {
		format := c.DefaultQuery("format", "png")
		if format != "png" && format != "pdf" {
			s.fail(c, workorders.Invalid("format", "must be png or pdf"))
			return
		}
		a, err := st.GetAsset(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		site, err := st.GetSite(c.Request.Context(), a.SiteID)
		if err != nil {
			s.fail(c, err)
			return
		}
		l := label(c, a, site.Name)
		var b []byte
		ct := "image/png"
		if format == "pdf" {
			b, err = rend.PDF([]labels.Label{l})
			ct = "application/pdf"
		} else {
			b, err = rend.PNG(l)
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Content-Disposition", `inline; filename="label-`+safeName(a.Code)+`.`+format+`"`)
		c.Data(http.StatusOK, ct, b)
	})
	s.handle(Route{Method: "GET", Path: "/sites/:id/labels", Roles: readers(), Tag: "sites",
		Summary: "A PDF sheet of labels for every asset of the site (12 per A4 page)", Response: "Binary"}, func(c *gin.Context) {
		ctx := c.Request.Context()
		site, err := st.GetSite(ctx, c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		var ls []labels.Label
		p := workorders.Page{Limit: 500}
		for {
			as, next, err := st.ListAssets(ctx, workorders.AssetFilter{SiteID: site.ID, Page: p})
			if err != nil {
				s.fail(c, err)
				return
			}
			for _, a := range as {
				if !strings.HasPrefix(a.Code, "_") {
					ls = append(ls, label(c, a, site.Name))
				}
			}
			if next == "" || len(ls) > 10000 {
				break
			}
			p.Cursor = next
		}
		b, err := rend.PDF(ls)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Content-Disposition", `inline; filename="labels-`+safeName(site.Code)+`.pdf"`)
		c.Data(http.StatusOK, "application/pdf", b)
	})
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
