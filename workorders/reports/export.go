package reports

import (
	"archive/zip"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"
)

// Format is an export's file format.
type Format string

// Formats.
const (
	CSV  Format = "csv"
	XLSX Format = "xlsx"
)

// ContentType returns the format's media type.
func (f Format) ContentType() string {
	if f == XLSX {
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/csv; charset=utf-8"
}

// Rows is a table read one row at a time: Next returns the next row's
// values, or io.EOF after the last. Values are strings, numbers, bools,
// times, nil, or pointers to those.
type Rows interface {
	Columns() []string
	Next() ([]any, error)
}

// Write writes all of rows in format to w; see Writer.
func Write(w io.Writer, format Format, sheet string, rows Rows) (int, error) {
	ew, err := NewWriter(w, format, sheet, rows.Columns())
	if err != nil {
		return 0, err
	}
	for {
		vals, err := rows.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return ew.n, err
		}
		if err := ew.Row(vals); err != nil {
			return ew.n, err
		}
	}
	return ew.n, ew.Close()
}

// Writer writes a table in a format as its rows come: CSV row by row
// (UTF-8 with a byte-order mark, so that Excel reads Chinese correctly),
// XLSX through excelize's stream writer (which keeps at most a chunk of
// rows in memory and the rest in a temporary file until Close zips them).
type Writer struct {
	format Format
	w      io.Writer
	cw     *csv.Writer
	rec    []string
	f      *excelize.File
	sw     *excelize.StreamWriter
	cells  []any
	cols   int
	n      int
}

// NewWriter starts a table with its header row.
func NewWriter(w io.Writer, format Format, sheet string, cols []string) (*Writer, error) {
	ew := &Writer{format: format, w: w, cols: len(cols)}
	if format != XLSX {
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return nil, err
		}
		ew.cw = csv.NewWriter(w)
		ew.rec = make([]string, len(cols))
		return ew, ew.cw.Write(cols)
	}
	ew.f = excelize.NewFile()
	if sheet == "" {
		sheet = "Sheet1"
	}
	if err := ew.f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	sw, err := ew.f.NewStreamWriter(sheet)
	if err != nil {
		return nil, err
	}
	ew.sw = sw
	head := make([]any, len(cols))
	for i, c := range cols {
		head[i] = c
	}
	ew.cells = make([]any, len(cols))
	return ew, sw.SetRow("A1", head)
}

// Rows returns how many rows were written (the header not counted).
func (ew *Writer) Rows() int { return ew.n }

// Row writes one row.
func (ew *Writer) Row(vals []any) error {
	if ew.cw != nil {
		for i := range ew.rec {
			ew.rec[i] = ""
			if i < len(vals) {
				ew.rec[i] = text(vals[i])
			}
		}
		if err := ew.cw.Write(ew.rec); err != nil {
			return err
		}
		ew.n++
		if ew.n%1000 == 0 {
			ew.cw.Flush()
			return ew.cw.Error()
		}
		return nil
	}
	if ew.n+2 > maxXLSXRows {
		return fmt.Errorf("more than %d rows: narrow the filter or export CSV", maxXLSXRows-1)
	}
	for i := range ew.cells {
		ew.cells[i] = nil
		if i < len(vals) {
			ew.cells[i] = cell(vals[i])
		}
	}
	name, _ := excelize.CoordinatesToCellName(1, ew.n+2)
	if err := ew.sw.SetRow(name, ew.cells); err != nil {
		return err
	}
	ew.n++
	return nil
}

// Close finishes the table (for XLSX: writes the whole file).
func (ew *Writer) Close() error {
	if ew.cw != nil {
		ew.cw.Flush()
		return ew.cw.Error()
	}
	defer ew.f.Close()
	if err := ew.sw.Flush(); err != nil {
		return err
	}
	// excelize assembles the zip in a bytes.Buffer before writing it out
	// (the whole file in memory); its zip writer goes straight to w
	// instead, so the buffer stays empty and the sheet streams from the
	// stream writer's temporary file into w.
	ew.f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(ew.w) })
	return ew.f.Write(io.Discard)
}

// text renders one value for CSV. Text that a spreadsheet would take for a
// formula (=, +, -, @ first) is prefixed with ' (CSV injection).
func text(v any) string {
	switch x := deref(v).(type) {
	case nil:
		return ""
	case string:
		if x != "" && (x[0] == '=' || x[0] == '+' || x[0] == '-' || x[0] == '@' || x[0] == '\t' || x[0] == '\r') {
			return "'" + x
		}
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

func deref(v any) any {
	switch x := v.(type) {
	case *string:
		if x == nil {
			return nil
		}
		return *x
	case *float64:
		if x == nil {
			return nil
		}
		return *x
	case *int:
		if x == nil {
			return nil
		}
		return *x
	case *time.Time:
		if x == nil {
			return nil
		}
		return *x
	}
	return v
}

// maxXLSXRows is a worksheet's row limit (the header included).
const maxXLSXRows = 1_048_576

func cell(v any) any {
	switch x := deref(v).(type) {
	case nil:
		return nil
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case float64, int, int64, bool:
		return x
	default:
		return fmt.Sprint(x)
	}
}

// Slice is a Rows over values already in memory (a report's aggregates).
type Slice struct {
	Cols []string
	Data [][]any
	i    int
}

// Columns implements Rows.
func (s *Slice) Columns() []string { return s.Cols }

// Next implements Rows.
func (s *Slice) Next() ([]any, error) {
	if s.i >= len(s.Data) {
		return nil, io.EOF
	}
	s.i++
	return s.Data[s.i-1], nil
}

// Table returns a report's items as rows for export.
func Table(items any) *Slice {
	switch v := items.(type) {
	case []FailureMode:
		s := &Slice{Cols: []string{"site", "asset_type", "failure_mode", "orders", "repeats", "assets"}}
		for _, x := range v {
			s.Data = append(s.Data, []any{x.SiteName, x.AssetType, x.FailureMode, x.Orders, x.Repeats, x.Assets})
		}
		return s
	case []RepeatFailure:
		s := &Slice{Cols: []string{"site", "asset_code", "asset_name", "asset_type", "failure_mode", "orders", "repeats", "first_at", "last_at"}}
		for _, x := range v {
			s.Data = append(s.Data, []any{x.SiteName, x.AssetCode, x.AssetName, x.AssetType, x.FailureMode, x.Orders, x.Repeats, x.FirstAt, x.LastAt})
		}
		return s
	case []Engineer:
		s := &Slice{Cols: []string{"engineer", "jobs", "first_time_fix", "first_time_fix_rate", "mttr_hours", "repair_hours",
			"sla_completed", "sla_on_time", "sla_rate", "csat_responses", "csat_average", "csat"}}
		for _, x := range v {
			s.Data = append(s.Data, []any{x.Name, x.Jobs, x.FirstTimeFix, x.FTFRate, x.MTTRHours, x.RepairHours, x.SLACompleted,
				x.SLAOnTime, x.SLARate, x.CSATResponses, x.CSATAverage, x.CSAT})
		}
		return s
	case []Channel:
		s := &Slice{Cols: []string{"channel", "requests", "open", "merged", "rejected", "review_hours"}}
		for _, x := range v {
			s.Data = append(s.Data, []any{x.Channel, x.Requests, x.Open, x.Merged, x.Rejected, x.ReviewHours})
		}
		return s
	}
	return &Slice{}
}
