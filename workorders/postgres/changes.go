package postgres

import (
	"context"
	"time"
)

// DetectChannel is the notification channel on which every change of
// rules ('rules') and of assets or sites ('assets') is announced
// (migration 00801), so each replica's rules engine reloads at once.
const DetectChannel = "pdm_detect"

// Detection change kinds passed to ListenDetectChanges' callback.
const (
	ChangedRules  = "rules"
	ChangedAssets = "assets"
	// ChangedAll: (re)connected; changes may have been missed meanwhile.
	ChangedAll = ""
)

// ListenDetectChanges calls changed with ChangedRules or ChangedAssets for
// each committed change, by any replica, of rules or of assets and sites,
// and with ChangedAll each time it (re)connects, until ctx ends (nil).
// When the connection fails it retries every second.
func (s *Store) ListenDetectChanges(ctx context.Context, changed func(what string)) error {
	for {
		_ = s.listenDetect(ctx, changed)
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listenDetect(ctx context.Context, changed func(string)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection carries a LISTEN: never hand it back to the pool.
	pc := conn.Hijack()
	defer func() {
		// A hung server must not hold the shutdown.
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = pc.Close(cctx)
	}()
	if _, err := pc.Exec(ctx, "listen "+DetectChannel); err != nil {
		return err
	}
	changed(ChangedAll)
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		changed(n.Payload)
	}
}

// AssetCode is a registered asset's codes in topics.
type AssetCode struct{ Site, Asset string }

// AssetCodes lists the codes in topics of every registered asset.
func (s *Store) AssetCodes(ctx context.Context) ([]AssetCode, error) {
	rows, err := s.pool.Query(ctx, `select s.code, a.code from assets a join sites s on s.id = a.site_id`)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []AssetCode
	for rows.Next() {
		var c AssetCode
		if err := rows.Scan(&c.Site, &c.Asset); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, translate(rows.Err())
}
