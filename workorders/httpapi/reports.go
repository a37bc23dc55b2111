package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/rules"
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

// Bounds of a report's repeat window (repeat_window).
const (
	minRepeatWindow = 24 * time.Hour
	maxRepeatWindow = 365 * 24 * time.Hour
)

// reportParamSchema declares the reports' and exports' own query
// parameters, so that the request check names every bad one at once.
func reportParamSchema(name string) *schema {
	switch name {
	case "format":
		return &schema{Type: "string", Enum: []string{string(reports.CSV), string(reports.XLSX)}}
	case "repeat_window":
		return &schema{Type: "string", Format: "duration", MaxLength: 64, check: checkRepeatWindow}
	case "status":
		var st []string
		for _, v := range workorders.Statuses() {
			st = append(st, string(v))
		}
		return &schema{Type: "string", Enum: st}
	case "source":
		var src []string
		for _, v := range []workorders.Source{workorders.SourceThreshold, workorders.SourceTrend, workorders.SourceEvent,
			workorders.SourceManual, workorders.SourceSchedule, workorders.SourceRequest} {
			src = append(src, string(v))
		}
		return &schema{Type: "string", Enum: src}
	}
	return nil
}

// repeatWindow parses a repeat window: a duration such as 30d or 720h,
// from 1 day to 365 days ("" is the default, 30 days).
func repeatWindow(v string) (time.Duration, string) {
	if v == "" {
		return 0, ""
	}
	rd, err := rules.ParseDuration(v)
	if err != nil {
		return 0, "must be a duration such as 30d or 720h"
	}
	d := time.Duration(rd)
	if d < minRepeatWindow || d > maxRepeatWindow {
		return 0, "must be from 1d to 365d"
	}
	return d, ""
}

func checkRepeatWindow(v string) string {
	_, msg := repeatWindow(v)
	return msg
}

func exportFormat(c *gin.Context) (reports.Format, error) {
	switch f := reports.Format(c.DefaultQuery("format", "csv")); f {
	case reports.CSV, reports.XLSX:
		return f, nil
	}
	return "", workorders.Invalid("format", "must be csv or xlsx")
}

// checkPeriod names a period whose ends are well-formed but out of order
// or too far apart (Route.Check: reported with the parameters' own
// problems).
func checkPeriod(c *gin.Context, p *workorders.Problems) {
	from, err := queryTime(c, "from")
	to, err2 := queryTime(c, "to")
	if err != nil || err2 != nil {
		return
	}
	f := workorders.KPIFilter{From: from, To: to}
	if err := p.AddErr(f.Validate(time.Now().UTC())); err != nil {
		p.Add("from", "%s", err)
	}
}

// checkExportPeriod names an export's from that is not before its to
// (either may be left out).
func checkExportPeriod(c *gin.Context, p *workorders.Problems) {
	from, err := queryTime(c, "from")
	to, err2 := queryTime(c, "to")
	if err == nil && err2 == nil && !from.IsZero() && !to.IsZero() && !to.After(from) {
		p.AddSemantic("from", "must be before to")
	}
}

// reportFilter reads a report's filter; with export, its format too. Every
// problem is named at once (the period's order and length once its ends
// are well-formed).
func (s *Server) reportFilter(c *gin.Context, export bool) (reports.Filter, reports.Format, error) {
	var p workorders.Problems
	var format reports.Format
	if export {
		var err error
		if format, err = exportFormat(c); err != nil {
			p.Add("format", "must be csv or xlsx")
		}
	}
	from, err := queryTime(c, "from")
	if err != nil {
		p.Add("from", "must be an RFC 3339 time")
	}
	to, err2 := queryTime(c, "to")
	if err2 != nil {
		p.Add("to", "must be an RFC 3339 time")
	}
	window, msg := repeatWindow(c.Query("repeat_window"))
	if msg != "" {
		p.Add("repeat_window", "%s", msg)
	}
	f := reports.Filter{SiteID: c.Query("site_id"), From: from, To: to, RepeatWindow: window}
	if err == nil && err2 == nil {
		if err := p.AddErr(f.Validate(time.Now().UTC())); err != nil {
			return f, format, err
		}
	}
	return f, format, p.Err()
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
		{"failure-modes", "failure-modes", "Top failure modes by site and asset type in the period, with the repeats: failures of the same asset and mode within repeat_window (default 30d, 1d to 365d) of the one before", "FailureModeReportList",
			func(ctx context.Context, f reports.Filter) (any, error) { return st.FailureModes(ctx, f) }},
		{"repeat-failures", "repeat-failures", "Assets that failed the same way again within repeat_window (default 30d, 1d to 365d), most repeats first", "RepeatFailureReportList",
			func(ctx context.Context, f reports.Filter) (any, error) { return st.RepeatFailures(ctx, f) }},
		{"engineers", "engineers", "Engineers' performance: jobs completed, first-time fix, MTTR, SLA, CSAT", "EngineerReportList",
			func(ctx context.Context, f reports.Filter) (any, error) { return st.Engineers(ctx, f) }},
		{"channels", "channels", "Customers' requests by channel: how many, open, merged, rejected, median time to review", "ChannelReportList",
			func(ctx context.Context, f reports.Filter) (any, error) { return st.Channels(ctx, f) }},
	} {
		run := func(c *gin.Context) (any, bool) {
			f, _, err := s.reportFilter(c, false)
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
			Response: r.schema, Query: []string{"site_id", "from", "to", "repeat_window"}, Check: checkPeriod}, func(c *gin.Context) {
			if items, ok := run(c); ok {
				c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": ""})
			}
		})
		s.handle(Route{Method: "GET", Path: "/reports/" + r.path + "/export", Roles: readers(), Tag: "reports",
			Summary: r.summary + ", as CSV or XLSX (format=csv|xlsx)", Response: "Binary",
			Query: []string{"site_id", "from", "to", "repeat_window", "format"}, Check: checkPeriod}, func(c *gin.Context) {
			f, format, err := s.reportFilter(c, true)
			if err != nil {
				s.fail(c, err)
				return
			}
			items, err := r.run(c.Request.Context(), f)
			if err != nil {
				s.fail(c, err)
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
		Response: "Binary", Query: []string{"format", "site_id", "asset_id", "status", "source", "priority", "from", "to"}, Check: checkExportPeriod},
		exp("work-orders", reports.OrderColumns, st.StreamOrders))
	s.handle(Route{Method: "GET", Path: "/exports/requests", Roles: readers(), Tag: "reports",
		Summary:  "Every customer's request matching the filters, newest first, as CSV or XLSX, streamed",
		Response: "Binary", Query: []string{"format", "site_id", "asset_id", "status", "source", "priority", "from", "to"}, Check: checkExportPeriod},
		exp("requests", reports.RequestColumns, st.StreamRequests))
}
