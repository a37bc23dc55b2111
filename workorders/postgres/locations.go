package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
)

// AddEngineerLocations stores a batch of an engineer's positions (a point
// already stored for the same time is kept once) and moves the engineer's
// current location to the newest point when it is newer than the current
// one. It returns how many points were new.
func (s *Ops) AddEngineerLocations(ctx context.Context, engineerID string, pts []workorders.LocationPoint) (int, error) {
	if !validID(engineerID) {
		return 0, workorders.ErrNotFound
	}
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var newest *workorders.LocationPoint
		b := &pgx.Batch{}
		for i := range pts {
			p := pts[i]
			b.Queue(`insert into engineer_locations (engineer_id, at, lat, lon, accuracy_m) values ($1, $2, $3, $4, $5)
				on conflict (engineer_id, at) do nothing`, engineerID, p.At.UTC(), p.Lat, p.Lon, p.AccuracyM)
			if newest == nil || p.At.After(newest.At) {
				newest = &pts[i]
			}
		}
		br := tx.SendBatch(ctx, b)
		for range pts {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			n += int(tag.RowsAffected())
		}
		if err := br.Close(); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `update engineers set lat = $2, lon = $3, location_at = $4, updated_at = now()
			where id = $1 and (location_at is null or location_at < $4)`, engineerID, newest.Lat, newest.Lon, newest.At.UTC())
		return err
	})
	if err != nil {
		return 0, translateOps(err)
	}
	return n, nil
}

// EngineerLocations lists an engineer's positions between from and to
// (zero: unbounded), oldest first, at most limit.
func (s *Ops) EngineerLocations(ctx context.Context, engineerID string, from, to time.Time, limit int) ([]workorders.LocationPoint, error) {
	if !validID(engineerID) {
		return nil, workorders.ErrNotFound
	}
	if limit <= 0 || limit > 5000 {
		limit = 5000
	}
	var fromP, toP *time.Time
	if !from.IsZero() {
		fromP = &from
	}
	if !to.IsZero() {
		toP = &to
	}
	rows, err := s.pool.Query(ctx, `select at, lat, lon, accuracy_m from engineer_locations
		where engineer_id = $1 and ($2::timestamptz is null or at >= $2) and ($3::timestamptz is null or at < $3)
		order by at limit $4`, engineerID, fromP, toP, limit)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, func(r pgx.Row) (workorders.LocationPoint, error) {
		var p workorders.LocationPoint
		err := r.Scan(&p.At, &p.Lat, &p.Lon, &p.AccuracyM)
		p.At = p.At.UTC()
		return p, err
	})
}
