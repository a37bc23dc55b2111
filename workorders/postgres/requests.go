package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/requests"
)

var _ requests.Store = (*Store)(nil)

// unspecifiedAsset is the code of the asset a site-wide request is filed
// against until a planner sorts it out.
const unspecifiedAsset = "_unspecified"

// CreateRequest implements requests.Store.
func (s *Store) CreateRequest(ctx context.Context, o workorders.Order, ev workorders.Event, r requests.Record, token string,
	photos []workorders.Attachment) (workorders.Order, error) {
	var out workorders.Order
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = insertOrder(ctx, tx, o); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `insert into order_requests (order_id, channel, name, email, phone, locale, external_ref,
			client_ip, message_id) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, out.ID, r.Channel, r.Requester.Name,
			r.Requester.Email, r.Requester.Phone, r.Requester.Locale, r.ExternalRef, r.ClientIP, r.MessageID); err != nil {
			return err
		}
		if err = addStatusToken(ctx, tx, out.ID, token); err != nil {
			return err
		}
		for _, a := range photos {
			if _, err := tx.Exec(ctx, `insert into attachments (order_id, kind, filename, content_type, size, signer_name,
				data, created_by) values ($1, $2, $3, $4, $5, '', $6, $7)`,
				out.ID, a.Kind, a.Filename, a.ContentType, len(a.Data), a.Data, a.CreatedBy); err != nil {
				return err
			}
		}
		_, err = appendEvent(ctx, tx, out, ev)
		return err
	})
	if err != nil {
		return workorders.Order{}, translate(err)
	}
	out.StatusURL = "/s/" + token
	return out, nil
}

func addStatusToken(ctx context.Context, tx pgx.Tx, orderID, token string) error {
	if _, err := tx.Exec(ctx, `insert into status_tokens (token, order_id) values ($1, $2)`, token, orderID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `update work_orders set status_path = $2 where id = $1`, orderID, "/s/"+token)
	return err
}

// SiteAsset implements requests.Store.
func (s *Store) SiteAsset(ctx context.Context, siteCode, assetCode string) (requests.Form, error) {
	var f requests.Form
	err := s.pool.QueryRow(ctx, `select id, code, name from sites where code = $1`, siteCode).Scan(&f.SiteID, &f.SiteCode, &f.SiteName)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, fmt.Errorf("%w: no site %s", workorders.ErrNotFound, siteCode)
	}
	if err != nil {
		return f, translate(err)
	}
	f.Assets = []requests.FormAsset{}
	if assetCode != "" {
		err := s.pool.QueryRow(ctx, `select id, code, name from assets where site_id = $1 and code = $2`, f.SiteID, assetCode).
			Scan(&f.AssetID, &f.AssetCode, &f.AssetName)
		if errors.Is(err, pgx.ErrNoRows) {
			return f, fmt.Errorf("%w: no asset %s at site %s", workorders.ErrNotFound, assetCode, siteCode)
		}
		return f, translate(err)
	}
	rows, err := s.pool.Query(ctx, `select code, name, type from assets where site_id = $1 and code <> $2
		order by name, code limit 500`, f.SiteID, unspecifiedAsset)
	if err != nil {
		return f, translate(err)
	}
	f.Assets, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (requests.FormAsset, error) {
		var a requests.FormAsset
		return a, r.Scan(&a.Code, &a.Name, &a.Type)
	})
	if err != nil {
		return f, translate(err)
	}
	// The site's unspecified asset, created once.
	err = s.pool.QueryRow(ctx, `with ins as (
			insert into assets (site_id, code, type, name, criticality) values ($1, $2, 'unspecified', '(not specified)', 3)
			on conflict do nothing returning id)
		select id from ins union all select id from assets where site_id = $1 and code = $2 limit 1`,
		f.SiteID, unspecifiedAsset).Scan(&f.AssetID)
	return f, translate(err)
}

// PublicView implements requests.Store: the token's order, or the order
// its request was merged into (following at most five merges), with its
// customer-facing events, in one round trip.
func (s *Store) PublicView(ctx context.Context, token string) (requests.View, error) {
	var (
		f      requests.Facts
		events []byte
	)
	row := s.pool.QueryRow(ctx, `with recursive tok as (
			select t.order_id, coalesce(r.created_at, o.created_at) as submitted from status_tokens t
			join work_orders o on o.id = t.order_id left join order_requests r on r.order_id = t.order_id
			where t.token = $1 and t.revoked_at is null),
		chain (id, depth) as (
			select order_id, 0 from tok
			union all
			select r.merged_into, c.depth + 1 from chain c join order_requests r on r.order_id = c.id
			where r.merged_into is not null and c.depth < 5),
		target as (select id, depth from chain order by depth desc limit 1)
		select `+orderCols+`, tok.order_id, tok.submitted, target.depth > 0, si.name, a.name, coalesce(u.name, ''),
			sv.score, sv.comment,
			(select coalesce(json_agg(json_build_array(e.id, e.type, e.to_status, e.at,
				case when e.to_status = 'en_route' then e.data->'eta' end) order by e.id), '[]')
			 from work_order_events e where e.order_id = o.id and e.to_status <> '')
		from tok, target join work_orders o on o.id = target.id join sites si on si.id = o.site_id
		join assets a on a.id = o.asset_id left join users u on u.id = o.assignee_id
		left join order_surveys sv on sv.order_id = o.id`, token)
	var origin string
	o, err := scanOrder(rowFunc(func(dest ...any) error {
		return row.Scan(append(dest, &origin, &f.SubmittedAt, &f.Merged, &f.SiteName, &f.AssetName, &f.AssigneeName,
			&f.SurveyScore, &f.SurveyComment, &events)...)
	}))
	if errors.Is(err, pgx.ErrNoRows) {
		return requests.View{}, workorders.ErrNotFound
	}
	if err != nil {
		return requests.View{}, translate(err)
	}
	f.Order, f.OrderID = o, o.ID
	utc(&f.SubmittedAt)
	var raw [][]json.RawMessage
	if err := json.Unmarshal(events, &raw); err != nil {
		return requests.View{}, fmt.Errorf("status events: %w", err)
	}
	for _, r := range raw {
		if len(r) != 5 {
			continue
		}
		var e workorders.Event
		_ = json.Unmarshal(r[0], &e.ID)
		_ = json.Unmarshal(r[1], &e.Type)
		_ = json.Unmarshal(r[2], &e.To)
		_ = json.Unmarshal(r[3], &e.At)
		if string(r[4]) != "null" {
			e.Data = append([]byte(`{"eta":`), append(r[4], '}')...)
		}
		e.At = e.At.UTC()
		f.Events = append(f.Events, e)
	}
	return requests.BuildView(f), nil
}

// RevokeStatusTokens implements requests.Store.
func (s *Store) RevokeStatusTokens(ctx context.Context, orderID string) (int, error) {
	if !validID(orderID) {
		return 0, workorders.ErrNotFound
	}
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update status_tokens set revoked_at = now() where order_id = $1 and revoked_at is null`, orderID)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		_, err = tx.Exec(ctx, `update work_orders set status_path = '' where id = $1`, orderID)
		return err
	})
	return n, translate(err)
}

// AddStatusToken implements requests.Store.
func (s *Store) AddStatusToken(ctx context.Context, orderID, token string) error {
	if !validID(orderID) {
		return workorders.ErrNotFound
	}
	return translate(s.inTx(ctx, func(tx pgx.Tx) error { return addStatusToken(ctx, tx, orderID, token) }))
}

// MarkMerged implements requests.Store.
func (s *Store) MarkMerged(ctx context.Context, orderID, into string) error {
	if !validID(orderID) || !validID(into) {
		return workorders.ErrNotFound
	}
	_, err := s.pool.Exec(ctx, `update order_requests set merged_into = $2 where order_id = $1`, orderID, into)
	return translate(err)
}

// Link implements requests.Store.
func (s *Store) Link(ctx context.Context, a, b, by string) error {
	if !validID(a) || !validID(b) {
		return workorders.ErrNotFound
	}
	if b < a {
		a, b = b, a
	}
	_, err := s.pool.Exec(ctx, `insert into order_links (a, b, created_by) values ($1, $2, $3) on conflict do nothing`, a, b, by)
	return translate(err)
}

// Links implements requests.Store.
func (s *Store) Links(ctx context.Context, orderID string) ([]string, error) {
	if !validID(orderID) {
		return nil, workorders.ErrNotFound
	}
	rows, err := s.pool.Query(ctx, `select b::text from order_links where a = $1 union select a::text from order_links where b = $1`, orderID)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if out == nil {
		out = []string{}
	}
	return out, translate(err)
}

// SaveSurvey implements requests.Store.
func (s *Store) SaveSurvey(ctx context.Context, orderID string, score int, comment string) error {
	// A second answer only adds the comment to a one-tap score.
	tag, err := s.pool.Exec(ctx, `insert into order_surveys (order_id, score, comment) values ($1, $2, $3)
		on conflict (order_id) do update set comment = excluded.comment
		where order_surveys.comment = '' and order_surveys.score = excluded.score and excluded.comment <> ''`,
		orderID, score, comment)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: this order was already rated", workorders.ErrConflict)
	}
	return nil
}

const requestCols = `r.order_id, r.channel, r.name, r.email, r.phone, r.locale, r.external_ref, r.client_ip, r.message_id,
	r.merged_into, r.created_at`

func scanRequest(row pgx.Row, extra ...any) (requests.Record, error) {
	var r requests.Record
	err := row.Scan(append([]any{&r.OrderID, &r.Channel, &r.Requester.Name, &r.Requester.Email, &r.Requester.Phone,
		&r.Requester.Locale, &r.ExternalRef, &r.ClientIP, &r.MessageID, &r.MergedInto, &r.CreatedAt}, extra...)...)
	utc(&r.CreatedAt)
	return r, err
}

// GetRequest implements requests.Store.
func (s *Store) GetRequest(ctx context.Context, orderID string) (requests.Record, error) {
	if !validID(orderID) {
		return requests.Record{}, workorders.ErrNotFound
	}
	r, err := scanRequest(s.pool.QueryRow(ctx, `select `+requestCols+` from order_requests r where r.order_id = $1`, orderID))
	return r, translate(err)
}

// ListRequests implements requests.Store: newest first, with each
// request's order.
func (s *Store) ListRequests(ctx context.Context, f requests.Filter) ([]requests.Record, string, error) {
	var w where
	ks := keyset{created: "r.created_at", key: "r.order_id", desc: true}
	if err := ks.after(&w, f.Page); err != nil {
		return nil, "", err
	}
	if f.Channel != "" {
		w.add("r.channel = ?", string(f.Channel))
	}
	if f.Open {
		w.add("o.status in ('proposed', 'approved')")
	}
	lim := limitOf(f.Page)
	rows, err := s.pool.Query(ctx, `select `+requestCols+`, `+orderCols+` from order_requests r
		join work_orders o on o.id = r.order_id`+w.sql()+ks.orderLimit(&w, lim), w.args...)
	if err != nil {
		return nil, "", translate(err)
	}
	defer rows.Close()
	var out []requests.Record
	for rows.Next() {
		rec, o, err := scanRequestOrder(rows)
		if err != nil {
			return nil, "", translate(err)
		}
		rec.Order = &o
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, "", translate(err)
	}
	out, next := cutPage(out, lim, func(v requests.Record) (time.Time, string) { return v.CreatedAt, v.OrderID })
	return out, next, nil
}

// scanRequestOrder scans requestCols followed by orderCols.
func scanRequestOrder(rows pgx.Rows) (requests.Record, workorders.Order, error) {
	var rec requests.Record
	o, err := scanOrder(rowFunc(func(dest ...any) error {
		return rows.Scan(append([]any{&rec.OrderID, &rec.Channel, &rec.Requester.Name, &rec.Requester.Email,
			&rec.Requester.Phone, &rec.Requester.Locale, &rec.ExternalRef, &rec.ClientIP, &rec.MessageID, &rec.MergedInto,
			&rec.CreatedAt}, dest...)...)
	}))
	utc(&rec.CreatedAt)
	return rec, o, err
}

type rowFunc func(dest ...any) error

func (f rowFunc) Scan(dest ...any) error { return f(dest...) }

// firstName is what customers are told of an engineer's name.
func firstName(n string) string { return requests.FirstName(n) }
