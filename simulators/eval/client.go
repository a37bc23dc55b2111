package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client reads work orders and assets from the platform's REST API
// (contract section 4) with a bearer token.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client for the API at addr (a URL, or host:port as
// in PDM_HTTP_ADDR, taken as http). hc may be nil (a client with a 30 s
// timeout).
func NewClient(addr, token string, hc *http.Client) (*Client, error) {
	if addr == "" {
		return nil, fmt.Errorf("no API address")
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("API address %q: want a URL or host:port", addr)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimSuffix(u.String(), "/"), token: token, http: hc}, nil
}

// Asset is what the evaluation needs of an asset.
type Asset struct {
	ID       string `json:"id"`
	Code     string `json:"code"`
	SiteID   string `json:"site_id"`
	SiteCode string `json:"site_code"`
	Type     string `json:"type"`
}

// orderJSON is the contract's work-order JSON, as far as needed.
type orderJSON struct {
	ID                 string          `json:"id"`
	Number             string          `json:"number"`
	AssetID            string          `json:"asset_id"`
	Source             string          `json:"source"`
	FailureMode        string          `json:"failure_mode"`
	Status             string          `json:"status"`
	CreatedAt          time.Time       `json:"created_at"`
	UpdatedAt          time.Time       `json:"updated_at"`
	DetectedAt         *time.Time      `json:"detected_at"`
	PredictedFailureAt *time.Time      `json:"predicted_failure_at"`
	CompletedAt        *time.Time      `json:"completed_at"`
	ClosedAt           *time.Time      `json:"closed_at"`
	Evidence           json.RawMessage `json:"evidence"`
}

// Assets lists every asset (following cursors).
func (c *Client) Assets(ctx context.Context) ([]Asset, error) {
	return list[Asset](ctx, c, "/api/v1/assets", nil)
}

// eventJSON is an entry of a work order's history, as far as needed.
type eventJSON struct {
	ID   int64           `json:"id"`
	Type string          `json:"type"`
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data"`
}

// signalJSON is a signal attached to a work order, as far as needed.
type signalJSON struct {
	ID         int64           `json:"id"`
	Kind       string          `json:"kind"`
	DetectedAt time.Time       `json:"detected_at"`
	Prediction json.RawMessage `json:"prediction"`
	Evidence   json.RawMessage `json:"evidence"`
}

// detailJSON is GET /work-orders/{id}, as far as needed.
type detailJSON struct {
	Events  []eventJSON  `json:"events"`
	Signals []signalJSON `json:"signals"`
}

// Orders lists every work order (following cursors) and returns them with
// asset codes resolved through assets; orders of assets not in assets are
// returned with an empty AssetCode. For the trend orders of those assets
// it reads the order's history (GET /work-orders/{id}) to find the
// prediction the order was raised with (see raisedPrediction).
func (c *Client) Orders(ctx context.Context, assets []Asset) ([]Order, error) {
	raw, err := list[orderJSON](ctx, c, "/api/v1/work-orders", nil)
	if err != nil {
		return nil, err
	}
	codes := map[string]string{}
	for _, a := range assets {
		codes[a.ID] = a.Code
	}
	out := make([]Order, 0, len(raw))
	for _, o := range raw {
		ord := o.order(codes[o.AssetID])
		if ord.AssetCode != "" && ord.Source == "trend" && o.ID != "" {
			var d detailJSON
			if err := c.get(ctx, "/api/v1/work-orders/"+url.PathEscape(o.ID), &d); err != nil {
				return nil, err
			}
			if t, ok := d.raisedPrediction(); ok {
				ord.PredictedFailureAt = t
			}
		}
		out = append(out, ord)
	}
	return out, nil
}

// raisedPrediction finds the predicted failure time the order had when it
// was raised: the one in its created event's data (the workorders core
// writes the creating signal's evidence there), else the prediction of the
// order's earliest signal that has one.
func (d detailJSON) raisedPrediction() (time.Time, bool) {
	var created *eventJSON
	for i, e := range d.Events {
		if e.Type != "created" {
			continue
		}
		if created == nil || e.At.Before(created.At) || (e.At.Equal(created.At) && e.ID < created.ID) {
			created = &d.Events[i]
		}
	}
	if created != nil {
		if t, ok := findTime(created.Data, "predicted_failure_at"); ok {
			return t, true
		}
	}
	var first *signalJSON
	var at time.Time
	for i, s := range d.Signals {
		t, ok := findTime(s.Prediction, "predicted_failure_at")
		if !ok {
			t, ok = findTime(s.Evidence, "predicted_failure_at")
		}
		if !ok {
			continue
		}
		if first == nil || s.DetectedAt.Before(first.DetectedAt) || (s.DetectedAt.Equal(first.DetectedAt) && s.ID < first.ID) {
			first, at = &d.Signals[i], t
		}
	}
	return at, first != nil
}

// SiteOrders reads the assets of the site with code site and their orders.
func (c *Client) SiteOrders(ctx context.Context, site string) ([]Order, error) {
	all, err := c.Assets(ctx)
	if err != nil {
		return nil, err
	}
	var assets []Asset
	for _, a := range all {
		if a.SiteCode == site {
			assets = append(assets, a)
		}
	}
	if len(assets) == 0 {
		return nil, fmt.Errorf("no assets of site %q registered at %s (run pdm-sim provision, or pdm-sim fleet with a token, first)", site, c.base)
	}
	orders, err := c.Orders(ctx, assets)
	if err != nil {
		return nil, err
	}
	kept := orders[:0]
	for _, o := range orders {
		if o.AssetCode != "" {
			kept = append(kept, o)
		}
	}
	return kept, nil
}

var terminal = map[string]bool{"completed": true, "verified": true, "closed": true, "rejected": true, "cancelled": true}

func (o orderJSON) order(code string) Order {
	out := Order{Number: o.Number, AssetCode: code, Source: o.Source, FailureMode: o.FailureMode,
		Status: o.Status, CreatedAt: o.CreatedAt}
	if out.Number == "" {
		out.Number = o.ID
	}
	if o.DetectedAt != nil {
		out.DetectedAt = *o.DetectedAt
	}
	if t, ok := findTime(o.Evidence, "predicted_failure_at"); ok {
		out.PredictedFailureAt = t
	} else if o.PredictedFailureAt != nil {
		out.PredictedFailureAt = *o.PredictedFailureAt
	}
	out.LatestPredictedFailureAt = out.PredictedFailureAt
	if terminal[o.Status] {
		switch {
		case o.CompletedAt != nil:
			out.ClosedAt = *o.CompletedAt
		case o.ClosedAt != nil:
			out.ClosedAt = *o.ClosedAt
		default:
			out.ClosedAt = o.UpdatedAt
		}
	}
	return out
}

// findTime looks for key in a JSON document, breadth first, and parses its
// value as an RFC 3339 time.
func findTime(doc json.RawMessage, key string) (time.Time, bool) {
	if len(doc) == 0 {
		return time.Time{}, false
	}
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		return time.Time{}, false
	}
	queue := []any{root}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x[key].(string); ok {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					return t, true
				}
			}
			for _, c := range x {
				queue = append(queue, c)
			}
		case []any:
			queue = append(queue, x...)
		}
	}
	return time.Time{}, false
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// list follows a contract list endpoint's cursors to the end.
func list[T any](ctx context.Context, c *Client, path string, q url.Values) ([]T, error) {
	var out []T
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 100000 {
			return nil, fmt.Errorf("GET %s: too many pages", path)
		}
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("limit", "200")
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		var p page[T]
		if err := c.get(ctx, path+"?"+v.Encode(), &p); err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.NextCursor == "" || p.NextCursor == cursor {
			return out, nil
		}
		cursor = p.NextCursor
	}
}

func (c *Client) get(ctx context.Context, pathQuery string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+pathQuery, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", pathQuery, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", pathQuery, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %w", pathQuery, apiError(resp, body))
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: %w", pathQuery, err)
	}
	return nil
}

// apiError turns an error answer into an error with the contract's code
// and message when the body has them.
func apiError(resp *http.Response, body []byte) error {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return fmt.Errorf("%s: %s (%s)", resp.Status, e.Error.Message, e.Error.Code)
	}
	return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body[:min(len(body), 200)]))
}
