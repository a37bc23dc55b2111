package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

var _ workorders.ScheduleStore = (*Ops)(nil)

const scheduleCols = `m.id, m.name, m.asset_id, m.asset_type, m.kind, m.every_s, m.every_hours, m.meter_metric, m.meter_mode,
	m.idle_above, m.starts_at, m.lead_s, m.title, m.priority, m.required_skills, m.parts, m.estimated_duration_s, m.active,
	m.created_at, m.updated_at`

func scanSchedule(r pgx.Row) (workorders.Schedule, error) {
	var (
		s                workorders.Schedule
		every, lead, est *int64
		everyH           *float64
		metric, mode     *string
		parts            []byte
	)
	err := r.Scan(&s.ID, &s.Name, &s.AssetID, &s.AssetType, &s.Kind, &every, &everyH, &metric, &mode, &s.IdleAbove,
		&s.StartsAt, &lead, &s.Title, &s.Priority, &s.RequiredSkills, &parts, &est, &s.Active, &s.CreatedAt, &s.UpdatedAt)
	if err != nil {
		return s, err
	}
	d := func(p *int64) rules.Duration {
		if p == nil {
			return 0
		}
		return rules.Duration(time.Duration(*p) * time.Second)
	}
	s.Every, s.Lead, s.EstimatedDuration = d(every), d(lead), d(est)
	if everyH != nil {
		s.EveryHours = *everyH
	}
	if metric != nil {
		s.MeterMetric = *metric
	}
	if mode != nil {
		s.MeterMode = *mode
	}
	if err := json.Unmarshal(parts, &s.Parts); err != nil {
		return s, fmt.Errorf("schedule %s parts: %w", s.ID, err)
	}
	return s, nil
}

func scheduleArgs(s workorders.Schedule) []any {
	var every, everyH, metric, mode any
	if s.Kind == workorders.ScheduleCalendar {
		every = secs(s.Every)
	} else {
		everyH, metric, mode = s.EveryHours, s.MeterMetric, s.MeterMode
	}
	return []any{s.Name, s.AssetID, s.AssetType, s.Kind, every, everyH, metric, mode, s.IdleAbove, s.StartsAt, secs(s.Lead),
		s.Title, s.Priority, nonNil(s.RequiredSkills), jsonOr(s.Parts, "[]"), secs(s.EstimatedDuration), s.Active}
}

// CreateSchedule stores a schedule.
func (s *Ops) CreateSchedule(ctx context.Context, sc workorders.Schedule) (workorders.Schedule, error) {
	if sc.AssetID != nil && !validID(*sc.AssetID) {
		return sc, workorders.Unprocessable("asset_id", "no such asset")
	}
	out, err := scanSchedule(s.pool.QueryRow(ctx, `with ins as (insert into maintenance_schedules (name, asset_id, asset_type,
		kind, every_s, every_hours, meter_metric, meter_mode, idle_above, starts_at, lead_s, title, priority, required_skills,
		parts, estimated_duration_s, active) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		returning *) select `+scheduleCols+` from ins m`, scheduleArgs(sc)...))
	return out, translateOps(err)
}

// GetSchedule returns one schedule.
func (s *Ops) GetSchedule(ctx context.Context, id string) (workorders.Schedule, error) {
	if !validID(id) {
		return workorders.Schedule{}, workorders.ErrNotFound
	}
	out, err := scanSchedule(s.pool.QueryRow(ctx, `select `+scheduleCols+` from maintenance_schedules m where m.id = $1`, id))
	return out, translateOps(err)
}

// ListSchedules pages through schedules, newest first.
func (s *Ops) ListSchedules(ctx context.Context, p workorders.Page) ([]workorders.Schedule, string, error) {
	var w where
	ks := keyset{created: "m.created_at", key: "m.id", desc: true}
	if err := ks.after(&w, p); err != nil {
		return nil, "", err
	}
	limit := limitOf(p)
	rows, err := s.pool.Query(ctx, `select `+scheduleCols+` from maintenance_schedules m`+w.sql()+
		ks.orderLimit(&w, limit), w.args...)
	if err != nil {
		return nil, "", translateOps(err)
	}
	out, err := opsCollect(rows, scanSchedule)
	if err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(v workorders.Schedule) (time.Time, string) { return v.CreatedAt, v.ID })
	return out, next, nil
}

// ActiveSchedules returns every active schedule.
func (s *Ops) ActiveSchedules(ctx context.Context) ([]workorders.Schedule, error) {
	rows, err := s.pool.Query(ctx, `select `+scheduleCols+` from maintenance_schedules m where m.active order by m.id`)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, scanSchedule)
}

// UpdateSchedule writes a schedule.
func (s *Ops) UpdateSchedule(ctx context.Context, sc workorders.Schedule) (workorders.Schedule, error) {
	if !validID(sc.ID) {
		return sc, workorders.ErrNotFound
	}
	if sc.AssetID != nil && !validID(*sc.AssetID) {
		return sc, workorders.Unprocessable("asset_id", "no such asset")
	}
	args := append([]any{sc.ID}, scheduleArgs(sc)...)
	out, err := scanSchedule(s.pool.QueryRow(ctx, `with upd as (update maintenance_schedules set name = $2, asset_id = $3,
		asset_type = $4, kind = $5, every_s = $6, every_hours = $7, meter_metric = $8, meter_mode = $9, idle_above = $10,
		starts_at = $11, lead_s = $12, title = $13, priority = $14, required_skills = $15, parts = $16,
		estimated_duration_s = $17, active = $18, updated_at = now() where id = $1 returning *)
		select `+scheduleCols+` from upd m`, args...))
	return out, translateOps(err)
}

// DeleteSchedule removes a schedule and its occurrence records (the
// orders stay).
func (s *Ops) DeleteSchedule(ctx context.Context, id string) error {
	if !validID(id) {
		return workorders.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `delete from maintenance_schedules where id = $1`, id)
	if err != nil {
		return translateOps(err)
	}
	if tag.RowsAffected() == 0 {
		return workorders.ErrNotFound
	}
	return nil
}

// ClaimOccurrence records an occurrence unless it exists.
func (s *Ops) ClaimOccurrence(ctx context.Context, o workorders.Occurrence) (bool, error) {
	tag, err := s.pool.Exec(ctx, `insert into schedule_occurrences (schedule_id, asset_id, seq, due_at, meter_hours)
		values ($1, $2, $3, $4, $5) on conflict do nothing`, o.ScheduleID, o.AssetID, o.Seq, o.DueAt, o.MeterHours)
	if err != nil {
		return false, translateOps(err)
	}
	return tag.RowsAffected() == 1, nil
}

// SetOccurrenceOrder links an occurrence to the order it produced.
func (s *Ops) SetOccurrenceOrder(ctx context.Context, scheduleID, assetID string, seq int64, orderID string) error {
	_, err := s.pool.Exec(ctx, `update schedule_occurrences set order_id = $4 where schedule_id = $1 and asset_id = $2 and seq = $3`,
		scheduleID, assetID, seq, orderID)
	return translateOps(err)
}

const occurrenceCols = `o.schedule_id, o.asset_id, o.seq, o.due_at, o.order_id, o.meter_hours, o.created_at`

func scanOccurrence(r pgx.Row) (workorders.Occurrence, error) {
	var o workorders.Occurrence
	err := r.Scan(&o.ScheduleID, &o.AssetID, &o.Seq, &o.DueAt, &o.OrderID, &o.MeterHours, &o.CreatedAt)
	return o, err
}

// PendingOccurrences returns claimed occurrences without an order.
func (s *Ops) PendingOccurrences(ctx context.Context) ([]workorders.Occurrence, error) {
	rows, err := s.pool.Query(ctx, `select `+occurrenceCols+` from schedule_occurrences o where o.order_id is null
		order by o.created_at`)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, scanOccurrence)
}

// ListOccurrences pages through a schedule's occurrences, newest first.
func (s *Ops) ListOccurrences(ctx context.Context, scheduleID string, p workorders.Page) ([]workorders.Occurrence, string, error) {
	if !validID(scheduleID) {
		return nil, "", workorders.ErrNotFound
	}
	var w where
	w.add("o.schedule_id = ?", scheduleID)
	ks := keyset{created: "o.created_at", key: "o.asset_id", desc: true}
	if err := ks.after(&w, p); err != nil {
		return nil, "", err
	}
	limit := limitOf(p)
	rows, err := s.pool.Query(ctx, `select `+occurrenceCols+` from schedule_occurrences o`+w.sql()+
		ks.orderLimit(&w, limit), w.args...)
	if err != nil {
		return nil, "", translateOps(err)
	}
	out, err := opsCollect(rows, scanOccurrence)
	if err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(v workorders.Occurrence) (time.Time, string) { return v.CreatedAt, v.AssetID })
	return out, next, nil
}

// GetMeter returns an asset's stored running hours.
func (s *Ops) GetMeter(ctx context.Context, assetID, metric string) (workorders.Meter, error) {
	var m workorders.Meter
	err := s.pool.QueryRow(ctx, `select hours, at from asset_meters where asset_id = $1 and metric = $2`, assetID, metric).
		Scan(&m.Hours, &m.At)
	return m, translateOps(err)
}

// SetMeter stores an asset's running hours.
func (s *Ops) SetMeter(ctx context.Context, assetID, metric string, m workorders.Meter) error {
	_, err := s.pool.Exec(ctx, `insert into asset_meters (asset_id, metric, hours, at) values ($1, $2, $3, $4)
		on conflict (asset_id, metric) do update set hours = excluded.hours, at = excluded.at`, assetID, metric, m.Hours, m.At)
	return translateOps(err)
}
