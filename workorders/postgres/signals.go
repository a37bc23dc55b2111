package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
)

const signalCols = `id, kind, level, rule_id, site_code, asset_code, asset_id, metric, failure_mode, value, limit_value,
	detected_at, message, prediction, evidence, order_id, created_at`

func scanSignal(r pgx.Row) (workorders.SignalRecord, error) {
	var v workorders.SignalRecord
	var pred, ev []byte
	err := r.Scan(&v.ID, &v.Kind, &v.Level, &v.RuleID, &v.SiteCode, &v.AssetCode, &v.AssetID, &v.Metric, &v.FailureMode,
		&v.Value, &v.Limit, &v.DetectedAt, &v.Message, &pred, &ev, &v.OrderID, &v.CreatedAt)
	if err != nil {
		return v, err
	}
	utc(&v.DetectedAt, &v.CreatedAt)
	v.Evidence = ev
	if len(pred) > 0 {
		if err := json.Unmarshal(pred, &v.Prediction); err != nil {
			return v, fmt.Errorf("signal %d prediction: %w", v.ID, err)
		}
	}
	return v, nil
}

// keyLock is the transaction advisory lock of an auto-order key.
func keyLock(k workorders.AutoKey) int64 {
	h := fnv.New64a()
	h.Write([]byte(k.AssetID))
	h.Write([]byte{0})
	h.Write([]byte(k.FailureMode))
	return int64(h.Sum64())
}

// SaveSignal implements workorders.Store. The key's transaction advisory
// lock serializes signals of one (asset, failure mode); the partial unique
// index work_orders_one_open_auto guarantees one open auto order even
// without it.
func (s *Store) SaveSignal(ctx context.Context, rec workorders.SignalRecord, key *workorders.AutoKey, fn workorders.AutoOrderFunc) (workorders.SignalRecord, *workorders.Order, error) {
	var (
		out   workorders.SignalRecord
		order *workorders.Order
	)
	if rec.RuleID != nil && !validID(*rec.RuleID) {
		rec.RuleID = nil
	}
	if rec.AssetID != nil && !validID(*rec.AssetID) {
		rec.AssetID = nil
	}
	var pred []byte
	if rec.Prediction != nil {
		b, err := json.Marshal(rec.Prediction)
		if err != nil {
			return out, nil, workorders.Invalid("prediction", "not JSON: %v", err)
		}
		pred = b
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		order = nil
		var err error
		if key != nil && fn != nil {
			if _, err := tx.Exec(ctx, `select pg_advisory_xact_lock($1)`, keyLock(*key)); err != nil {
				return err
			}
		}
		// A signal delivered again (a retry after a lost answer, a replay)
		// changes nothing: the first copy is returned with its order.
		dup, err := scanSignal(tx.QueryRow(ctx, `select `+signalCols+` from signals where asset_id is not distinct from $1
			and detected_at = $2 and kind = $3 and level = $4 and rule_id is not distinct from $5 and metric = $6
			and failure_mode = $7 and site_code = $8 and asset_code = $9 order by id limit 1`,
			rec.AssetID, rec.DetectedAt, rec.Kind, rec.Level, rec.RuleID, rec.Metric, rec.FailureMode, rec.SiteCode, rec.AssetCode))
		switch {
		case err == nil:
			out = dup
			if dup.OrderID != nil {
				o, err := scanOrder(tx.QueryRow(ctx, `select `+orderCols+` from work_orders o where o.id = $1`, *dup.OrderID))
				if err != nil {
					return err
				}
				order = &o
			}
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if key != nil && fn != nil {
			var open, prev *workorders.Order
			o, err := scanOrder(tx.QueryRow(ctx, `select `+orderCols+` from work_orders o where o.asset_id = $1
				and o.failure_mode = $2 and o.source in ('threshold', 'trend', 'event')
				and o.status not in ('completed', 'verified', 'closed', 'rejected', 'cancelled') for update`,
				key.AssetID, key.FailureMode))
			switch {
			case err == nil:
				open = &o
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
			if open == nil {
				p, err := scanOrder(tx.QueryRow(ctx, `select `+orderCols+` from work_orders o where o.asset_id = $1
					and o.failure_mode = $2 and o.completed_at is not null order by o.completed_at desc limit 1`,
					key.AssetID, key.FailureMode))
				switch {
				case err == nil:
					prev = &p
				case !errors.Is(err, pgx.ErrNoRows):
					return err
				}
			}
			res, ev, err := fn(open, prev)
			if err != nil {
				return err
			}
			if res != nil {
				var saved workorders.Order
				if open == nil {
					saved, err = insertOrder(ctx, tx, *res)
				} else {
					saved, err = updateOrder(ctx, tx, *res)
				}
				if err != nil {
					return err
				}
				if _, err := appendEvent(ctx, tx, saved, ev); err != nil {
					return err
				}
				order = &saved
				rec.OrderID = &saved.ID
			}
		}
		out, err = scanSignal(tx.QueryRow(ctx, `insert into signals (kind, level, rule_id, site_code, asset_code, asset_id,
			metric, failure_mode, value, limit_value, detected_at, message, prediction, evidence, order_id)
			values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) returning `+signalCols,
			rec.Kind, rec.Level, rec.RuleID, rec.SiteCode, rec.AssetCode, rec.AssetID, rec.Metric, rec.FailureMode,
			rec.Value, rec.Limit, rec.DetectedAt, rec.Message, pred, rawOr(rec.Evidence), rec.OrderID))
		return err
	})
	if err != nil {
		return workorders.SignalRecord{}, nil, translate(err)
	}
	return out, order, nil
}

// ListSignals implements workorders.Store (newest first).
func (s *Store) ListSignals(ctx context.Context, f workorders.SignalFilter) ([]workorders.SignalRecord, string, error) {
	var w where
	if f.AssetID != "" {
		if !validID(f.AssetID) {
			return nil, "", workorders.Invalid("asset_id", "not a valid UUID")
		}
		w.add("asset_id = ?", f.AssetID)
	}
	if f.RuleID != "" {
		if !validID(f.RuleID) {
			return nil, "", workorders.Invalid("rule_id", "not a valid UUID")
		}
		w.add("rule_id = ?", f.RuleID)
	}
	if f.Kind != "" {
		w.add("kind = ?", f.Kind)
	}
	if f.Level != "" {
		w.add("level = ?", f.Level)
	}
	if f.Page.Cursor != "" {
		id, err := parseIntCursor(f.Page.Cursor)
		if err != nil {
			return nil, "", err
		}
		w.add("id < ?", id)
	}
	lim := limitOf(f.Page)
	rows, err := s.pool.Query(ctx, `select `+signalCols+` from signals`+w.sql()+` order by id desc limit `+w.arg(lim+1), w.args...)
	if err != nil {
		return nil, "", translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.SignalRecord, error) { return scanSignal(r) })
	if err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(out) > lim {
		out = out[:lim]
		next = intCursor(out[lim-1].ID)
	}
	return out, next, nil
}

// GetSignal implements workorders.Store.
func (s *Store) GetSignal(ctx context.Context, id int64) (workorders.SignalRecord, error) {
	out, err := scanSignal(s.pool.QueryRow(ctx, `select `+signalCols+` from signals where id = $1`, id))
	return out, translate(err)
}

// OrderSignals implements workorders.Store (newest first).
func (s *Store) OrderSignals(ctx context.Context, orderID string, limit int) ([]workorders.SignalRecord, error) {
	if !validID(orderID) {
		return nil, workorders.ErrNotFound
	}
	rows, err := s.pool.Query(ctx, `select `+signalCols+` from signals where order_id = $1 order by id desc limit $2`, orderID, limit)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.SignalRecord, error) { return scanSignal(r) })
	return out, translate(err)
}
