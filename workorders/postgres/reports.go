package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/reports"
)

var (
	_ reports.Store    = (*Store)(nil)
	_ reports.Streamer = (*Store)(nil)
)

// reportFailure is what a failure is in reports: the KPIs' corrective
// orders (threshold, event, manual naming a failure mode) and customers'
// requests, not dismissed (rejected, merged, closed as no fault found).
const reportFailure = `(o.source in ('threshold', 'event', 'request') or (o.source = 'manual' and o.failure_mode <> ''))
	and o.status not in ('rejected', 'merged', 'cancelled')
	and not (o.status = 'closed' and o.reason = 'no_fault_found')`

func reportArgs(f reports.Filter) ([]any, error) {
	var site any
	if f.SiteID != "" {
		if !validID(f.SiteID) {
			return nil, workorders.Invalid("site_id", "not a valid UUID")
		}
		site = f.SiteID
	}
	return []any{f.From, f.To, site, f.RepeatWindow}, nil
}

func collect[T any](ctx context.Context, s *Store, f reports.Filter, sql string, scan func(pgx.Rows, *T) error) ([]T, error) {
	args, err := reportArgs(f)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var x T
		if err := scan(rows, &x); err != nil {
			return nil, translate(err)
		}
		out = append(out, x)
	}
	return out, translate(rows.Err())
}

// failures numbers every failure of the period (and of the repeat window
// before it) with the time of the previous failure of its asset and mode.
const failures = `with f as (
		select o.id, o.asset_id, o.site_id, coalesce(nullif(o.failure_mode, ''), '(unspecified)') as mode, o.created_at,
			lag(o.created_at) over (partition by o.asset_id, coalesce(nullif(o.failure_mode, ''), '(unspecified)')
				order by o.created_at) as prev
		from work_orders o
		where o.created_at >= $1::timestamptz - $4::interval and o.created_at < $2
			and ($3::uuid is null or o.site_id = $3::uuid) and ` + reportFailure + `),
	p as (select *, (prev is not null and created_at - prev <= $4::interval) as repeat from f where created_at >= $1)`

// FailureModes implements reports.Store: the most frequent first (at most 500).
func (s *Store) FailureModes(ctx context.Context, f reports.Filter) ([]reports.FailureMode, error) {
	return collect(ctx, s, f, failures+`
		select si.id, si.name, a.type, p.mode, count(*)::int, count(*) filter (where p.repeat)::int, count(distinct p.asset_id)::int
		from p join assets a on a.id = p.asset_id join sites si on si.id = p.site_id
		group by si.id, si.name, a.type, p.mode order by 5 desc, 6 desc, 2, 3, 4 limit 500`,
		func(r pgx.Rows, x *reports.FailureMode) error {
			return r.Scan(&x.SiteID, &x.SiteName, &x.AssetType, &x.FailureMode, &x.Orders, &x.Repeats, &x.Assets)
		})
}

// RepeatFailures implements reports.Store: assets with a repeat in the
// period, most repeats first (at most 500).
func (s *Store) RepeatFailures(ctx context.Context, f reports.Filter) ([]reports.RepeatFailure, error) {
	return collect(ctx, s, f, failures+`
		select a.id, a.code, a.name, a.type, si.name, p.mode, count(*)::int, count(*) filter (where p.repeat)::int,
			min(p.created_at), max(p.created_at)
		from p join assets a on a.id = p.asset_id join sites si on si.id = p.site_id
		group by a.id, a.code, a.name, a.type, si.name, p.mode having count(*) filter (where p.repeat) > 0
		order by 8 desc, 7 desc, 2, 6 limit 500`,
		func(r pgx.Rows, x *reports.RepeatFailure) error {
			err := r.Scan(&x.AssetID, &x.AssetCode, &x.AssetName, &x.AssetType, &x.SiteName, &x.FailureMode, &x.Orders,
				&x.Repeats, &x.FirstAt, &x.LastAt)
			utc(&x.FirstAt, &x.LastAt)
			return err
		})
}

// Engineers implements reports.Store: engineers with jobs completed in
// the period, most jobs first.
func (s *Store) Engineers(ctx context.Context, f reports.Filter) ([]reports.Engineer, error) {
	out, err := collect(ctx, s, f, `select u.id, u.name, count(*)::int,
			count(*) filter (where not exists (select 1 from work_orders x where x.follow_up_of = o.id)
				and not exists (select 1 from work_order_events e where e.order_id = o.id and e.type = 'reopened'))::int,
			avg(extract(epoch from o.completed_at - o.created_at) / 3600),
			avg(extract(epoch from o.completed_at - o.started_at) / 3600) filter (where o.started_at is not null),
			count(*) filter (where o.due_at is not null)::int,
			count(*) filter (where o.due_at is not null and o.completed_at <= o.due_at)::int,
			count(sv.score)::int, avg(sv.score)::float8, count(*) filter (where sv.score >= 4)::int
		from work_orders o join users u on u.id = o.assignee_id left join order_surveys sv on sv.order_id = o.id
		where o.completed_at >= $1 and o.completed_at < $2 and ($3::uuid is null or o.site_id = $3::uuid)
			and $4::interval is not null
		group by u.id, u.name order by 3 desc, 2 limit 1000`,
		func(r pgx.Rows, x *reports.Engineer) error {
			var good int
			err := r.Scan(&x.UserID, &x.Name, &x.Jobs, &x.FirstTimeFix, &x.MTTRHours, &x.RepairHours, &x.SLACompleted,
				&x.SLAOnTime, &x.CSATResponses, &x.CSATAverage, &good)
			x.FTFRate = ratio(x.FirstTimeFix, x.Jobs)
			x.SLARate = ratio(x.SLAOnTime, x.SLACompleted)
			x.CSAT = ratio(good, x.CSATResponses)
			return err
		})
	return out, err
}

// Channels implements reports.Store.
func (s *Store) Channels(ctx context.Context, f reports.Filter) ([]reports.Channel, error) {
	return collect(ctx, s, f, `select r.channel, count(*)::int,
			count(*) filter (where o.status = 'proposed')::int,
			count(*) filter (where o.status = 'merged')::int,
			count(*) filter (where o.status = 'rejected')::int,
			percentile_cont(0.5) within group (order by extract(epoch from rv.at - r.created_at) / 3600)
				filter (where rv.at is not null)
		from order_requests r join work_orders o on o.id = r.order_id
		left join lateral (select min(e.at) as at from work_order_events e
			where e.order_id = o.id and e.to_status in ('approved', 'merged', 'rejected')) rv on true
		where r.created_at >= $1 and r.created_at < $2 and ($3::uuid is null or o.site_id = $3::uuid)
			and $4::interval is not null
		group by r.channel order by 2 desc, 1`,
		func(r pgx.Rows, x *reports.Channel) error {
			return r.Scan(&x.Channel, &x.Requests, &x.Open, &x.Merged, &x.Rejected, &x.ReviewHours)
		})
}

// exportBatch is how many rows one FETCH reads from an export's cursor.
const exportBatch = 1000

// stream runs query through a cursor in a read-only transaction and calls
// each per row, reading exportBatch rows at a time: memory stays the same
// however many rows there are.
func (s *Store) stream(ctx context.Context, query string, args []any, each func([]any) error) error {
	return translate(pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `declare export_cur no scroll cursor for `+query, args...); err != nil {
			return err
		}
		for {
			// Described each time: the same FETCH text returns other
			// columns for another export, so a cached description is wrong.
			rows, err := tx.Query(ctx, fmt.Sprintf(`fetch forward %d from export_cur`, exportBatch), pgx.QueryExecModeDescribeExec)
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					rows.Close()
					return err
				}
				for i, v := range vals {
					if t, ok := v.(time.Time); ok {
						vals[i] = t.UTC()
					}
				}
				n++
				if err := each(vals); err != nil {
					rows.Close()
					return err
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if n < exportBatch {
				return nil
			}
		}
	}))
}

func exportWhere(q reports.OrderQuery) (where, error) {
	var w where
	var p workorders.Problems
	for field, v := range map[string]string{"site_id": q.SiteID, "asset_id": q.AssetID} {
		if v != "" && !validID(v) {
			p.Add(field, "not a valid UUID")
		}
	}
	if err := p.Err(); err != nil {
		return w, err
	}
	if q.SiteID != "" {
		w.add("o.site_id = ?", q.SiteID)
	}
	if q.AssetID != "" {
		w.add("o.asset_id = ?", q.AssetID)
	}
	if q.Status != "" {
		w.add("o.status = ?", q.Status)
	}
	if q.Source != "" {
		w.add("o.source = ?", q.Source)
	}
	if q.Priority != "" {
		w.add("o.priority = ?", q.Priority)
	}
	if !q.From.IsZero() {
		w.add("o.created_at >= ?", q.From)
	}
	if !q.To.IsZero() {
		w.add("o.created_at < ?", q.To)
	}
	return w, nil
}

// StreamOrders implements reports.Streamer: reports.OrderColumns, newest first.
func (s *Store) StreamOrders(ctx context.Context, q reports.OrderQuery, each func([]any) error) error {
	w, err := exportWhere(q)
	if err != nil {
		return err
	}
	return s.stream(ctx, `select 'WO-' || case when o.number < 1000000 then lpad(o.number::text, 6, '0') else o.number::text end, o.id::text, o.status, o.priority, o.source, si.name,
			a.code, a.name, a.type, o.title, o.failure_mode, coalesce(u.name, ''), o.created_at, o.due_at, o.started_at,
			o.completed_at, o.sla_state, coalesce(r.channel, ''), coalesce(nullif(r.email, ''), r.phone, '')
		from work_orders o join sites si on si.id = o.site_id join assets a on a.id = o.asset_id
		left join users u on u.id = o.assignee_id left join order_requests r on r.order_id = o.id`+w.sql()+`
		order by o.created_at desc, o.id desc`, w.args, each)
}

// StreamRequests implements reports.Streamer: reports.RequestColumns, newest first.
func (s *Store) StreamRequests(ctx context.Context, q reports.OrderQuery, each func([]any) error) error {
	w, err := exportWhere(q)
	if err != nil {
		return err
	}
	return s.stream(ctx, `select 'WO-' || case when o.number < 1000000 then lpad(o.number::text, 6, '0') else o.number::text end, o.id::text, r.channel, o.status, si.name, a.code,
			o.title, r.name, r.email, r.phone, r.external_ref, coalesce(r.merged_into::text, ''), r.created_at
		from order_requests r join work_orders o on o.id = r.order_id join sites si on si.id = o.site_id
		join assets a on a.id = o.asset_id`+w.sql()+`
		order by r.created_at desc, r.order_id desc`, w.args, each)
}
