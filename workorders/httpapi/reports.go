package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/reports"
)

// ReportsStore is what the reports' routes read: the aggregates and the
// streamed lists (workorders/postgres implements both).
type ReportsStore interface {
	reports.Store
	reports.Streamer
}

func withReportSchemas(m map[string]any) map[string]any {
	m["FailureModeReport"] = reports.FailureMode{}
	m["RepeatFailureReport"] = reports.RepeatFailure{}
	m["EngineerReport"] = reports.Engineer{}
	m["ChannelReport"] = reports.Channel{}
	return m
}

func exportFormat(c *gin.Context) (reports.Format, error) {
	switch f := reports.Format(c.DefaultQuery("format", "csv")); f {
	case reports.CSV, reports.XLSX:
		return f, nil
	}
	return "", workorders.Invalid("format", "must be csv or xlsx")
}

func (s *Server) reportFilter(c *gin.Context) (reports.Filter, error) {
	var p workorders.Problems
	from, err := queryTime(c, "from")
	if err != nil {
		p.Add("from", "must be an RFC 3339 time")
	}
	to, err := queryTime(c, "to")
	if err != nil {
		p.Add("to", "must be an RFC 3339 time")
	}
	if err := p.Err(); err != nil {
		return reports.Filter{}, err
	}
	f := reports.Filter{SiteID: c.Query("site_id"), From: from, To: to}
	return f, f.Validate(time.Now().UTC())
}

// attachmentHeaders names the download.
func attachmentHeaders(c *gin.Context, name string, f reports.Format) {
	c.Header("Content-Type", f.ContentType())
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.%s"`, name, time.Now().UTC().Format("20060102-150405"), f))
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-Type-Options", "nosniff")
}

func (s *Server) reportRoutes(st ReportsStore) {
	if st == nil {
		return
	}
	type report struct {
		path, name, summary, schema string
		run                         func(ctx context.Context, f reports.Filter) (any, error)
	}
	for _, r := range []report{
		{"failure-modes", "failure-modes", "Top failure modes by site and asset type in the period (repeats within 30 days counted)", "FailureModeReportList",
			func(ctx context.Context, f reports.Filter) (any, error) { return st.FailureModes(ctx, f) }},
		{"repeat-failures", "repeat-failures", "Assets that failed the same way again within 30 days, most repeats first", "RepeatFailureReportList",
			func(ctx context.Context, f reports.Filter) (any, error) { return st.RepeatFailures(ctx, f) }},
		{"engineers", "engineers", "Engineers' performance: jobs completed, first-time fix, MTTR, SLA, CSAT", "EngineerReportList",
			func(ctx context.Context, f reports.Filter) (any, error) { return st.Engineers(ctx, f) }},
		{"channels", "channels", "Customers' requests by channel: how many, open, merged, rejected, median time to review", "ChannelReportList",
			func(ctx context.Context, f reports.Filter) (any, error) { return st.Channels(ctx, f) }},
	} {
		run := func(c *gin.Context) (any, bool) {
			f, err := s.reportFilter(c)
			if err != nil {
				s.fail(c, err)
				return nil, false
			}
			items, err := r.run(c.Request.Context(), f)
			if err != nil {
				s.fail(c, err)
				return nil, false
			}
			return items, true
		}
		s.handle(Route{Method: "GET", Path: "/reports/" + r.path, Roles: readers(), Tag: "reports", Summary: r.summary,
			Response: r.schema, Query: []string{"site_id", "from", "to"}}, func(c *gin.Context) {
			if items, ok := run(c); ok {
				c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": ""})
			}
		})
		s.handle(Route{Method: "GET", Path: "/reports/" + r.path + "/export", Roles: readers(), Tag: "reports",
			Summary: r.summary + ", as CSV or XLSX (format=csv|xlsx)", Response: "Binary",
			Query: []string{"site_id", "from", "to", "format"}}, func(c *gin.Context) {
			format, err := exportFormat(c)
			if err != nil {
				s.fail(c, err)
				return
			}
			items, ok := run(c)
			if !ok {
				return
			}
			attachmentHeaders(c, r.name, format)
			c.Status(http.StatusOK)
			if _, err := reports.Write(c.Writer, format, r.name, reports.Table(items)); err != nil {
				s.log.WarnContext(c.Request.Context(), "report export", "report", r.name, "err", err)
			}
		})
	}

	exp := func(name string, cols []string, stream func(ctx context.Context, q reports.OrderQuery, each func([]any) error) error) gin.HandlerFunc {
		return func(c *gin.Context) {
			format, err := exportFormat(c)
			var p workorders.Problems
			if err != nil {
				p.Add("format", "must be csv or xlsx")
			}
			q := reports.OrderQuery{SiteID: c.Query("site_id"), AssetID: c.Query("asset_id"), Status: c.Query("status"),
				Source: c.Query("source"), Priority: c.Query("priority")}
			if q.Status != "" && !workorders.Status(q.Status).Valid() {
				p.Add("status", "not a work-order status")
			}
			if q.Source != "" && !workorders.Source(q.Source).Valid() {
				p.Add("source", "not a work-order source")
			}
			if q.Priority != "" && !workorders.Priority(q.Priority).Valid() {
				p.Add("priority", "must be P1, P2, P3 or P4")
			}
			if q.From, err = queryTime(c, "from"); err != nil {
				p.Add("from", "must be an RFC 3339 time")
			}
			if q.To, err = queryTime(c, "to"); err != nil {
				p.Add("to", "must be an RFC 3339 time")
			}
			for _, k := range []string{"site_id", "asset_id"} {
				if v := c.Query(k); v != "" && !uuidRE.MatchString(v) {
					p.Add(k, "not a valid UUID")
				}
			}
			if err := p.Err(); err != nil {
				s.fail(c, err)
				return
			}
			// The header goes out with the first row: an error before it is
			// still an ordinary error answer.
			var w *reports.Writer
			err = stream(c.Request.Context(), q, func(row []any) error {
				if w == nil {
					attachmentHeaders(c, name, format)
					c.Status(http.StatusOK)
					if w, err = reports.NewWriter(c.Writer, format, name, cols); err != nil {
						return err
					}
				}
				return w.Row(row)
			})
			if err == nil && w == nil {
				attachmentHeaders(c, name, format)
				c.Status(http.StatusOK)
				w, err = reports.NewWriter(c.Writer, format, name, cols)
			}
			if err == nil {
				err = w.Close()
			}
			if err != nil {
				if w == nil {
					s.fail(c, err)
					return
				}
				// Mid-stream: the client sees a cut file; say so in the log.
				s.log.WarnContext(c.Request.Context(), "export cut short", "export", name, "rows", w.Rows(), "err", err)
			}
		}
	}
	s.handle(Route{Method: "GET", Path: "/exports/work-orders", Roles: readers(), Tag: "reports",
		Summary:  "Every work order matching the filters (created in [from, to)), newest first, as CSV or XLSX, streamed: any number of rows in constant memory",
		Response: "Binary", Query: []string{"format", "site_id", "asset_id", "status", "source", "priority", "from", "to"}},
		exp("work-orders", reports.OrderColumns, st.StreamOrders))
	s.handle(Route{Method: "GET", Path: "/exports/requests", Roles: readers(), Tag: "reports",
		Summary:  "Every customer's request matching the filters, newest first, as CSV or XLSX, streamed",
		Response: "Binary", Query: []string{"format", "site_id", "asset_id", "status", "source", "priority", "from", "to"}},
		exp("requests", reports.RequestColumns, st.StreamRequests))
}
