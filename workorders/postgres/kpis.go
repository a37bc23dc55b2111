package postgres

import (
	"time"

	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/dispatch"
)

var _ workorders.KPIStore = (*Ops)(nil)

// KPIs computes the key figures in SQL. Failures are corrective orders
// (threshold, event, and manual ones naming a failure mode) raised in the
// period and not dismissed
// (rejected, or closed as no_fault_found); trend and schedule orders are
// prevention, not failures.
func (s *Ops) KPIs(ctx context.Context, f workorders.KPIFilter) (workorders.KPIs, error) {
	k := workorders.KPIs{SiteID: f.SiteID, From: f.From, To: f.To, Assets: []workorders.AssetKPI{},
		Backlog: []workorders.BacklogKPI{}, Utilisation: []workorders.EngineerKPI{}, PartsConsumption: []workorders.PartKPI{},
		Rules: []workorders.RuleKPI{}}
	var site any
	if f.SiteID != "" {
		if !validID(f.SiteID) {
			return k, workorders.Invalid("site_id", "not a valid UUID")
		}
		site = f.SiteID
	}
	args := []any{f.From, f.To, site}
	q := func(sql string, scan func(pgx.Rows) error) error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return translateOps(err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return translateOps(rows.Err())
	}
	const inSite = `($3::uuid is null or o.site_id = $3::uuid)`
	const failure = `(o.source in ('threshold', 'event') or (o.source = 'manual' and o.failure_mode <> ''))
		and o.status <> 'rejected'
		and not (o.status = 'closed' and o.reason = 'no_fault_found')`

	// Per asset: failures raised and repairs completed in the period; the
	// assets of the site without either still count for fleet MTBF.
	periodHours := f.To.Sub(f.From).Hours()
	var assets int
	err := q(`select a.id, a.code,
			count(*) filter (where o.id is not null and o.created_at >= $1 and o.created_at < $2 and `+failure+`)::int,
			count(*) filter (where o.completed_at >= $1 and o.completed_at < $2 and o.source <> 'schedule')::int,
			avg(extract(epoch from o.completed_at - o.created_at) / 3600)
				filter (where o.completed_at >= $1 and o.completed_at < $2 and o.source <> 'schedule')
		from assets a left join work_orders o on o.asset_id = a.id
		where ($3::uuid is null or a.site_id = $3::uuid)
		group by a.id, a.code order by a.code`, func(r pgx.Rows) error {
		var x workorders.AssetKPI
		if err := r.Scan(&x.AssetID, &x.Code, &x.Failures, &x.Repairs, &x.MTTRHours); err != nil {
			return err
		}
		assets++
		k.Failures += x.Failures
		if x.Failures > 0 {
			v := periodHours / float64(x.Failures)
			x.MTBFHours = &v
		}
		if x.Failures > 0 || x.Repairs > 0 {
			k.Assets = append(k.Assets, x)
		}
		return nil
	})
	if err != nil {
		return k, err
	}
	if k.Failures > 0 {
		v := float64(assets) * periodHours / float64(k.Failures)
		k.MTBFHours = &v
	}

	// Fleet MTTR and repair time; SLA compliance; first-time fix.
	err = q(`select avg(extract(epoch from o.completed_at - o.created_at) / 3600) filter (where o.source <> 'schedule'),
			avg(extract(epoch from o.completed_at - o.started_at) / 3600) filter (where o.source <> 'schedule' and o.started_at is not null),
			count(*) filter (where o.due_at is not null)::int,
			count(*) filter (where o.due_at is not null and o.completed_at <= o.due_at)::int,
			count(*) filter (where o.sla_state = 'breached')::int,
			count(*)::int,
			count(*) filter (where not exists (select 1 from work_orders f where f.follow_up_of = o.id)
				and not exists (select 1 from work_order_events e where e.order_id = o.id and e.type = 'reopened'))::int
		from work_orders o where o.completed_at >= $1 and o.completed_at < $2 and `+inSite, func(r pgx.Rows) error {
		return r.Scan(&k.MTTRHours, &k.RepairHours, &k.SLA.Completed, &k.SLA.OnTime, &k.SLA.Breached,
			&k.FirstTimeFix.Total, &k.FirstTimeFix.Count)
	})
	if err != nil {
		return k, err
	}
	k.SLA.Compliance = ratio(k.SLA.OnTime, k.SLA.Completed)
	k.FirstTimeFix.Rate = ratio(k.FirstTimeFix.Count, k.FirstTimeFix.Total)

	// Orders by source over time, in UTC days (weeks past 92 days).
	k.Bucket, k.BySource = "1d", []workorders.SourceBucketKPI{}
	trunc := "day"
	if periodHours > 92*24 {
		k.Bucket, trunc = "7d", "week"
	}
	err = q(`select date_trunc('`+trunc+`', o.created_at at time zone 'UTC') at time zone 'UTC', o.source, count(*)::int
		from work_orders o where o.created_at >= $1 and o.created_at < $2 and `+inSite+`
		group by 1, 2 order by 1, 2`, func(r pgx.Rows) error {
		var (
			at  time.Time
			src workorders.Source
			n   int
		)
		if err := r.Scan(&at, &src, &n); err != nil {
			return err
		}
		at = at.UTC()
		if l := len(k.BySource); l == 0 || !k.BySource[l-1].Start.Equal(at) {
			k.BySource = append(k.BySource, workorders.SourceBucketKPI{Start: at, Counts: map[workorders.Source]int{}})
		}
		b := &k.BySource[len(k.BySource)-1]
		b.Counts[src] += n
		b.Total += n
		return nil
	})
	if err != nil {
		return k, err
	}

	// Backlog: orders open at the end of the period, by status and age.
	err = q(`select o.status, count(*)::int,
			count(*) filter (where $2 - o.created_at < interval '1 day')::int,
			count(*) filter (where $2 - o.created_at >= interval '1 day' and $2 - o.created_at < interval '7 days')::int,
			count(*) filter (where $2 - o.created_at >= interval '7 days' and $2 - o.created_at < interval '30 days')::int,
			count(*) filter (where $2 - o.created_at >= interval '30 days')::int
		from work_orders o where o.created_at < $2 and $1::timestamptz is not null
		  and o.status in ('proposed', 'approved', 'assigned', 'accepted', 'en_route', 'on_site', 'in_progress', 'on_hold') and `+inSite+`
		group by o.status order by o.status`, func(r pgx.Rows) error {
		var b workorders.BacklogKPI
		if err := r.Scan(&b.Status, &b.Count, &b.Under1Day, &b.Days1To7, &b.Days7To30, &b.Over30Days); err != nil {
			return err
		}
		k.Backlog = append(k.Backlog, b)
		return nil
	})
	if err != nil {
		return k, err
	}

	// Engineer utilisation: labour booked on orders completed in the
	// period against on-shift hours in the period.
	type engRow struct {
		workorders.EngineerKPI
		shifts, off []byte
		zone        string
	}
	var engs []engRow
	err = q(`select e.id, e.name, count(o.id)::int, coalesce(sum(o.labour_s), 0)::float8 / 3600, e.shifts, e.time_off, e.time_zone
		from engineers e left join work_orders o on o.assignee_id = e.user_id and o.completed_at >= $1 and o.completed_at < $2
			and `+inSite+`
		where e.active and ($3::uuid is null or e.site_id = $3::uuid or o.id is not null)
		group by e.id order by e.name`, func(r pgx.Rows) error {
		var x engRow
		if err := r.Scan(&x.EngineerID, &x.Name, &x.Jobs, &x.LabourHours, &x.shifts, &x.off, &x.zone); err != nil {
			return err
		}
		engs = append(engs, x)
		return nil
	})
	if err != nil {
		return k, err
	}
	for _, x := range engs {
		e := workorders.Engineer{TimeZone: x.zone}
		if err := json.Unmarshal(x.shifts, &e.Shifts); err != nil {
			return k, fmt.Errorf("engineer %s shifts: %w", x.EngineerID, err)
		}
		if err := json.Unmarshal(x.off, &e.TimeOff); err != nil {
			return k, fmt.Errorf("engineer %s time off: %w", x.EngineerID, err)
		}
		for _, iv := range dispatch.Availability(e.Shifts, e.Zone(), e.TimeOff, f.From, f.To) {
			x.AvailableHours += iv.End.Sub(iv.Start).Hours()
		}
		if x.AvailableHours > 0 {
			v := x.LabourHours / x.AvailableHours
			x.Utilisation = &v
		}
		k.Utilisation = append(k.Utilisation, x.EngineerKPI)
	}

	// Parts consumed in the period (by the consuming order's site).
	err = q(`select p.sku, p.name, sum(-m.on_hand_delta::bigint), sum(-m.on_hand_delta::float8 * least(p.unit_cost, 1e9))::float8
		from stock_movements m join parts p on p.id = m.part_id left join work_orders o on o.id = m.order_id
		where m.kind = 'consume' and m.at >= $1 and m.at < $2 and ($3::uuid is null or o.site_id = $3::uuid)
		group by p.sku, p.name order by p.sku`, func(r pgx.Rows) error {
		var x workorders.PartKPI
		if err := r.Scan(&x.SKU, &x.Name, &x.Qty, &x.Cost); err != nil {
			return err
		}
		k.PartsConsumption = append(k.PartsConsumption, x)
		return nil
	})
	if err != nil {
		return k, err
	}

	// Prediction lead time of trend orders raised in the period.
	err = q(`select count(*)::int, avg(extract(epoch from o.predicted_failure_at - o.detected_at) / 3600),
			percentile_cont(0.5) within group (order by extract(epoch from o.predicted_failure_at - o.detected_at) / 3600)
		from work_orders o where o.source = 'trend' and o.created_at >= $1 and o.created_at < $2
		  and o.predicted_failure_at is not null and o.detected_at is not null and `+inSite, func(r pgx.Rows) error {
		return r.Scan(&k.PredictionLead.Orders, &k.PredictionLead.MeanHours, &k.PredictionLead.MedianHours)
	})
	if err != nil {
		return k, err
	}

	// Precision and false alarms per rule, over its auto orders raised in
	// the period.
	err = q(`select r.id, r.name, count(o.id)::int,
			count(*) filter (where o.status in ('completed', 'verified', 'closed') and o.reason <> 'no_fault_found')::int,
			count(*) filter (where o.reason = 'no_fault_found' and o.status in ('rejected', 'closed'))::int,
			avg(extract(epoch from o.predicted_failure_at - o.detected_at) / 3600) filter (where o.source = 'trend')
		from rules r join work_orders o on o.rule_id = r.id
		where o.created_at >= $1 and o.created_at < $2 and o.source in ('threshold', 'trend', 'event') and `+inSite+`
		group by r.id, r.name order by r.name`, func(r pgx.Rows) error {
		var x workorders.RuleKPI
		if err := r.Scan(&x.RuleID, &x.Name, &x.Orders, &x.Confirmed, &x.FalseAlarms, &x.MeanLeadHours); err != nil {
			return err
		}
		x.Precision = ratio(x.Confirmed, x.Confirmed+x.FalseAlarms)
		x.FalseAlarmRate = ratio(x.FalseAlarms, x.Confirmed+x.FalseAlarms)
		k.Rules = append(k.Rules, x)
		return nil
	})
	if err != nil {
		return k, err
	}
	k.CSAT, err = csatKPI(ctx, s.pool, args...)
	return k, err
}

func ratio(a, b int) *float64 {
	if b == 0 {
		return nil
	}
	v := float64(a) / float64(b)
	return &v
}
