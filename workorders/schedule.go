package workorders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/openpdm/pdm/rules"
)

// Schedule kinds and meter modes.
const (
	ScheduleCalendar = "calendar"
	ScheduleMeter    = "meter"
	MeterCounter     = "counter"
	MeterAbove       = "above"
)

// Schedule is a preventive maintenance plan for one asset or every asset
// of a type: calendar based (every Every from StartsAt) or meter based
// (every EveryHours running hours, read from a counter metric in hours or
// computed as the time MeterMetric stays above IdleAbove). It produces
// `schedule` orders Lead ahead of the due time (meter: Lead in running
// hours), never twice for one occurrence.
type Schedule struct {
	ID                string          `json:"id" schema:"readOnly"`
	Name              string          `json:"name" schema:"required,minLength=1,maxLength=200"`
	AssetID           *string         `json:"asset_id" schema:"format=uuid"`
	AssetType         *string         `json:"asset_type" schema:"maxLength=64"`
	Kind              string          `json:"kind" schema:"required,enum=calendar|meter"`
	Every             rules.Duration  `json:"every,omitempty"`
	EveryHours        float64         `json:"every_hours,omitempty" schema:"min=0,max=1000000"`
	MeterMetric       string          `json:"meter_metric,omitempty" schema:"pattern=^([a-z][a-z0-9_]{0,63})?$"`
	MeterMode         string          `json:"meter_mode,omitempty" schema:"enum=|counter|above"`
	IdleAbove         *float64        `json:"idle_above,omitempty"`
	StartsAt          time.Time       `json:"starts_at"`
	Lead              rules.Duration  `json:"lead"`
	Title             string          `json:"title" schema:"maxLength=300"`
	Priority          Priority        `json:"priority"`
	RequiredSkills    []string        `json:"required_skills" schema:"maxItems=50"`
	Parts             []rules.PartQty `json:"parts" schema:"maxItems=100"`
	EstimatedDuration rules.Duration  `json:"estimated_duration"`
	Active            bool            `json:"active"`
	CreatedAt         time.Time       `json:"created_at" schema:"readOnly"`
	UpdatedAt         time.Time       `json:"updated_at" schema:"readOnly"`
}

// ValidateSchedule checks a schedule and fills defaults.
func ValidateSchedule(s *Schedule) error {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" || len(s.Name) > 200 {
		return Invalid("name", "required, at most 200 characters")
	}
	if (s.AssetID == nil) == (s.AssetType == nil || *s.AssetType == "") {
		return Unprocessable("asset_id", "give exactly one of asset_id and asset_type")
	}
	if s.AssetType != nil && *s.AssetType == "" {
		s.AssetType = nil
	}
	switch s.Kind {
	case ScheduleCalendar:
		if s.Every < rules.Duration(time.Hour) {
			return Unprocessable("every", "at least 1h")
		}
	case ScheduleMeter:
		if !(s.EveryHours > 0) || math.IsInf(s.EveryHours, 0) {
			return Unprocessable("every_hours", "must be positive")
		}
		if !metricOK(s.MeterMetric) {
			return Invalid("meter_metric", "must match [a-z][a-z0-9_]{0,63}")
		}
		switch s.MeterMode {
		case MeterCounter:
		case MeterAbove:
			if s.IdleAbove == nil || math.IsNaN(*s.IdleAbove) {
				return Unprocessable("idle_above", "required for meter_mode above")
			}
		default:
			return Invalid("meter_mode", "must be counter or above")
		}
	default:
		return Invalid("kind", "must be calendar or meter")
	}
	if s.StartsAt.IsZero() {
		return Invalid("starts_at", "required")
	}
	if s.Lead < 0 {
		return Unprocessable("lead", "must not be negative")
	}
	s.Title = strings.TrimSpace(s.Title)
	if s.Title == "" {
		s.Title = s.Name
	}
	if s.Priority == "" {
		s.Priority = P3
	}
	if !s.Priority.Valid() {
		return Invalid("priority", "must be P1, P2, P3 or P4")
	}
	if err := validateParts("parts", s.Parts); err != nil {
		return err
	}
	if err := validateSkills(s.RequiredSkills); err != nil {
		return err
	}
	if s.RequiredSkills == nil {
		s.RequiredSkills = []string{}
	}
	if s.Parts == nil {
		s.Parts = []rules.PartQty{}
	}
	return nil
}

// CalendarDue returns the occurrence a calendar schedule should have
// produced by now: the latest k ≥ 0 with StartsAt + k·Every − Lead ≤ now,
// and its due time. Missed earlier occurrences are not produced again
// (one catch-up order, not a burst). ok is false before the first.
func CalendarDue(s Schedule, now time.Time) (seq int64, due time.Time, ok bool) {
	every := s.Every.D()
	if every <= 0 {
		return 0, time.Time{}, false
	}
	ahead := now.Add(s.Lead.D())
	if ahead.Before(s.StartsAt) {
		return 0, time.Time{}, false
	}
	k := int64(ahead.Sub(s.StartsAt) / every)
	return k, s.StartsAt.Add(time.Duration(k) * every), true
}

// MeterDue returns the occurrence a meter schedule should have produced
// at hours running hours: the largest k ≥ 1 with k·EveryHours − Lead (in
// hours) ≤ hours. ok is false before the first.
func MeterDue(s Schedule, hours float64) (seq int64, ok bool) {
	if !(s.EveryHours > 0) {
		return 0, false
	}
	k := int64(math.Floor((hours + s.Lead.D().Hours()) / s.EveryHours))
	if k < 1 {
		return 0, false
	}
	return k, true
}

// MeterSample is one value of a meter metric.
type MeterSample struct {
	TS    time.Time
	Value float64
}

// RunningHours is the time a stream spends above idle: each sample above
// idle counts until the next sample, gaps longer than maxGap count as
// stopped (the sensor was silent), and the last sample counts nothing.
// Samples must be in time order.
func RunningHours(samples []MeterSample, idle float64, maxGap time.Duration) float64 {
	var run time.Duration
	for i := 0; i+1 < len(samples); i++ {
		if samples[i].Value <= idle || math.IsNaN(samples[i].Value) {
			continue
		}
		gap := samples[i+1].TS.Sub(samples[i].TS)
		if gap <= 0 || (maxGap > 0 && gap > maxGap) {
			continue
		}
		run += gap
	}
	return run.Hours()
}

// MeterReader reads a metric's samples of one asset in [from, to) from
// the time-series store (cmd binds it to InfluxDB).
type MeterReader func(ctx context.Context, siteCode, assetCode, metric string, from, to time.Time) ([]MeterSample, error)

// Occurrence is one produced occurrence of a schedule on an asset.
type Occurrence struct {
	ScheduleID string    `json:"schedule_id"`
	AssetID    string    `json:"asset_id"`
	Seq        int64     `json:"seq"`
	DueAt      time.Time `json:"due_at"`
	OrderID    *string   `json:"order_id"`
	MeterHours *float64  `json:"meter_hours,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// Meter is an asset's running hours as last measured.
type Meter struct {
	Hours float64
	At    time.Time
}

// ScheduleStore is the persistence of preventive schedules; postgres.Ops
// implements it. ClaimOccurrence inserts an occurrence once: claimed is
// false when it exists (the unique key is the guarantee).
type ScheduleStore interface {
	CreateSchedule(ctx context.Context, s Schedule) (Schedule, error)
	GetSchedule(ctx context.Context, id string) (Schedule, error)
	ListSchedules(ctx context.Context, p Page) ([]Schedule, string, error)
	UpdateSchedule(ctx context.Context, s Schedule) (Schedule, error)
	DeleteSchedule(ctx context.Context, id string) error
	ActiveSchedules(ctx context.Context) ([]Schedule, error)
	ClaimOccurrence(ctx context.Context, o Occurrence) (claimed bool, err error)
	SetOccurrenceOrder(ctx context.Context, scheduleID, assetID string, seq int64, orderID string) error
	// PendingOccurrences are claimed occurrences without an order yet.
	PendingOccurrences(ctx context.Context) ([]Occurrence, error)
	ListOccurrences(ctx context.Context, scheduleID string, p Page) ([]Occurrence, string, error)
	GetMeter(ctx context.Context, assetID, metric string) (Meter, error)
	SetMeter(ctx context.Context, assetID, metric string, m Meter) error
}

// Scheduler produces preventive orders from schedules. Run it as a cron
// job under LockSchedules.
type Scheduler struct {
	svc    *Service // creates the orders
	assets scheduleAssets
	store  ScheduleStore
	meter  MeterReader
	// Now is the clock.
	Now func() time.Time
	// Log receives the scheduler's own log lines.
	Log *slog.Logger
	// MaxGap: longer silences of a meter stream count as stopped.
	MaxGap time.Duration
}

// scheduleAssets is what the scheduler reads of the ticket core (and its
// lock).
type scheduleAssets interface {
	GetAsset(ctx context.Context, id string) (Asset, error)
	ListAssets(ctx context.Context, f AssetFilter) ([]Asset, string, error)
	WithLock(ctx context.Context, key int64, fn func(ctx context.Context) error) (ran bool, err error)
}

// NewScheduler returns a Scheduler; meter may be nil (meter schedules then
// wait until one is wired).
func NewScheduler(svc *Service, store ScheduleStore, meter MeterReader, log *slog.Logger, now func() time.Time) *Scheduler {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{svc: svc, assets: svc.Store, store: store, meter: meter, Now: now, Log: log, MaxGap: 15 * time.Minute}
}

// Store returns the schedule store (CRUD goes straight to it).
func (sc *Scheduler) Store() ScheduleStore { return sc.store }

// ScheduleRunResult says what one run produced.
type ScheduleRunResult struct {
	Created []string `json:"created_order_ids"`
	Errors  []string `json:"errors,omitempty"`
}

// Run produces the due occurrences of every active schedule, on one
// replica at a time (advisory lock LockSchedules; ErrConflict while
// another holds it). An occurrence is claimed in the database before its
// order is created, so repeated runs never produce one twice, and a claim
// left without an order by a crash is completed by the next run.
func (sc *Scheduler) Run(ctx context.Context) (ScheduleRunResult, error) {
	var res ScheduleRunResult
	ran, err := sc.assets.WithLock(ctx, LockSchedules, func(ctx context.Context) error {
		var err error
		res, err = sc.run(ctx)
		return err
	})
	if err == nil && !ran {
		err = fmt.Errorf("%w: a schedule run is in progress", ErrConflict)
	}
	return res, err
}

func (sc *Scheduler) run(ctx context.Context) (ScheduleRunResult, error) {
	res := ScheduleRunResult{Created: []string{}}
	now := sc.Now().UTC()
	pending, err := sc.store.PendingOccurrences(ctx)
	if err != nil {
		return res, err
	}
	for _, oc := range pending {
		s, err := sc.store.GetSchedule(ctx, oc.ScheduleID)
		if err != nil {
			return res, err
		}
		sc.produce(ctx, s, oc, &res)
	}
	list, err := sc.store.ActiveSchedules(ctx)
	if err != nil {
		return res, err
	}
	for _, s := range list {
		assets, err := sc.assetsOf(ctx, s)
		if err != nil {
			return res, err
		}
		for _, a := range assets {
			oc, ok, err := sc.due(ctx, s, a, now)
			if err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("%s on %s: %v", s.Name, a.Code, err))
				continue
			}
			if !ok {
				continue
			}
			claimed, err := sc.store.ClaimOccurrence(ctx, oc)
			if err != nil {
				return res, err
			}
			if claimed {
				sc.produce(ctx, s, oc, &res)
			}
		}
	}
	return res, nil
}

func (sc *Scheduler) assetsOf(ctx context.Context, s Schedule) ([]Asset, error) {
	if s.AssetID != nil {
		a, err := sc.assets.GetAsset(ctx, *s.AssetID)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []Asset{a}, nil
	}
	var out []Asset
	p := Page{Limit: 500}
	for {
		as, next, err := sc.assets.ListAssets(ctx, AssetFilter{Type: *s.AssetType, Page: p})
		if err != nil {
			return nil, err
		}
		out = append(out, as...)
		if next == "" {
			return out, nil
		}
		p.Cursor = next
	}
}

func (sc *Scheduler) due(ctx context.Context, s Schedule, a Asset, now time.Time) (Occurrence, bool, error) {
	oc := Occurrence{ScheduleID: s.ID, AssetID: a.ID}
	if s.Kind == ScheduleCalendar {
		seq, due, ok := CalendarDue(s, now)
		oc.Seq, oc.DueAt = seq, due
		return oc, ok, nil
	}
	if sc.meter == nil {
		return oc, false, nil
	}
	hours, err := sc.hours(ctx, s, a, now)
	if err != nil {
		return oc, false, err
	}
	seq, ok := MeterDue(s, hours)
	oc.Seq, oc.MeterHours = seq, &hours
	// Due "now": running hours have no calendar date; the lead was in hours.
	oc.DueAt = now.Add(s.Lead.D())
	return oc, ok, nil
}

// hours returns an asset's running hours: a counter's latest value (read
// from the last day, else the last 30 days), or the stored total plus the
// time above idle since it was measured, read a day at a time so a long
// gap never loads months of raw samples at once.
func (sc *Scheduler) hours(ctx context.Context, s Schedule, a Asset, now time.Time) (float64, error) {
	if s.MeterMode == MeterCounter {
		for _, back := range []time.Duration{24 * time.Hour, 30 * 24 * time.Hour} {
			samples, err := sc.meter(ctx, a.SiteCode, a.Code, s.MeterMetric, now.Add(-back), now.Add(time.Second))
			if err != nil {
				return 0, err
			}
			if len(samples) > 0 {
				return samples[len(samples)-1].Value, nil
			}
		}
		return 0, nil
	}
	key := fmt.Sprintf("%s>%g", s.MeterMetric, *s.IdleAbove)
	m, err := sc.store.GetMeter(ctx, a.ID, key)
	if errors.Is(err, ErrNotFound) {
		m, err = Meter{At: s.StartsAt}, nil
	}
	if err != nil {
		return 0, err
	}
	const chunk = 24 * time.Hour
	var carry []MeterSample // the last sample of the previous chunk
	for from := m.At; from.Before(now); from = from.Add(chunk) {
		to := from.Add(chunk)
		if to.After(now) {
			to = now
		}
		samples, err := sc.meter(ctx, a.SiteCode, a.Code, s.MeterMetric, from, to)
		if err != nil {
			return 0, err
		}
		if len(carry) > 0 && len(samples) > 0 && samples[0].TS.Equal(carry[0].TS) {
			samples = samples[1:]
		}
		samples = append(carry, samples...)
		if len(samples) > 1 {
			// Count up to the last sample; the rest is counted next time.
			m.Hours += RunningHours(samples, *s.IdleAbove, sc.MaxGap)
			m.At = samples[len(samples)-1].TS
			carry = samples[len(samples)-1:]
		} else {
			carry = samples
		}
	}
	if err := sc.store.SetMeter(ctx, a.ID, key, m); err != nil {
		return 0, err
	}
	return m.Hours, nil
}

func (sc *Scheduler) produce(ctx context.Context, s Schedule, oc Occurrence, res *ScheduleRunResult) {
	due := oc.DueAt
	title := s.Title
	if s.Kind == ScheduleMeter && oc.MeterHours != nil {
		title = fmt.Sprintf("%s (%.0f h)", s.Title, float64(oc.Seq)*s.EveryHours)
	}
	o, err := sc.svc.CreateOrder(ctx, System("scheduler"), NewOrder{AssetID: oc.AssetID, Title: title,
		Description: fmt.Sprintf("Preventive maintenance from schedule %q, occurrence %d.", s.Name, oc.Seq),
		Source:      SourceSchedule, Priority: s.Priority, DueAt: &due, RequiredSkills: s.RequiredSkills, Parts: s.Parts,
		EstimatedDuration: s.EstimatedDuration,
		Evidence:          map[string]any{"schedule_id": s.ID, "occurrence": oc.Seq, "meter_hours": oc.MeterHours}})
	if err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("%s occurrence %d: %v", s.Name, oc.Seq, err))
		return
	}
	if err := sc.store.SetOccurrenceOrder(ctx, oc.ScheduleID, oc.AssetID, oc.Seq, o.ID); err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("%s occurrence %d: %v", s.Name, oc.Seq, err))
		return
	}
	sc.Log.InfoContext(ctx, "preventive order", "order_id", o.ID, "schedule_id", s.ID, "asset_id", oc.AssetID, "seq", oc.Seq)
	res.Created = append(res.Created, o.ID)
}

// Job is Run for cron: it does nothing while another replica runs, and
// logs errors of single occurrences instead of returning them.
func (sc *Scheduler) Job(ctx context.Context) error {
	res, err := sc.Run(ctx)
	for _, e := range res.Errors {
		sc.Log.WarnContext(ctx, "preventive schedule", "err", e)
	}
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return err
}
