package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders/gateways"
)

var _ gateways.Store = (*Store)(nil)

const gatewayCols = `g.id, g.site_code, coalesce(s.id::text, ''), g.code, g.state, g.state_since, g.status_at, g.version,
	g.buffered, g.dropped, g.config, g.config_sha256, g.config_published_at, g.agent_config_sha256, g.agent_config_error,
	g.alert_since`

const gatewayFrom = ` from gateways g left join sites s on s.code = g.site_code`

func scanGateway(row pgx.Row) (gateways.Gateway, error) {
	var g gateways.Gateway
	var cfg []byte
	var agentSum, agentErr string
	if err := row.Scan(&g.ID, &g.SiteCode, &g.SiteID, &g.Code, &g.State, &g.StateSince, &g.StatusAt, &g.Version,
		&g.Buffered, &g.Dropped, &cfg, &g.ConfigSHA256, &g.ConfigPublishedAt, &agentSum, &agentErr, &g.AlertSince); err != nil {
		return gateways.Gateway{}, err
	}
	g.StateSince, g.StatusAt = g.StateSince.UTC(), g.StatusAt.UTC()
	if g.ConfigPublishedAt != nil {
		t := g.ConfigPublishedAt.UTC()
		g.ConfigPublishedAt = &t
	}
	if g.AlertSince != nil {
		t := g.AlertSince.UTC()
		g.AlertSince = &t
	}
	if len(cfg) > 0 {
		g.Config = json.RawMessage(cfg)
	}
	// The agent's answer is about the platform's latest config only when it
	// names that payload; an error about another payload is shown as is.
	switch {
	case g.ConfigSHA256 == "":
		g.ConfigState = gateways.ConfigNone
		g.ConfigError = agentErr
	case agentSum != g.ConfigSHA256:
		g.ConfigState = gateways.ConfigPending
	case agentErr != "":
		g.ConfigState, g.ConfigError = gateways.ConfigRejected, agentErr
	default:
		g.ConfigState = gateways.ConfigApplied
	}
	return g, nil
}

// Gateways implements gateways.Store.
func (s *Store) Gateways(ctx context.Context) ([]gateways.Gateway, error) {
	rows, err := s.pool.Query(ctx, `select `+gatewayCols+gatewayFrom+` order by g.site_code, g.code limit 10000`)
	if err != nil {
		return nil, fmt.Errorf("gateways: %w", translate(err))
	}
	defer rows.Close()
	var out []gateways.Gateway
	for rows.Next() {
		g, err := scanGateway(rows)
		if err != nil {
			return nil, fmt.Errorf("gateways: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("gateways: %w", translate(err))
	}
	return out, s.gatewayAssets(ctx, out)
}

// Gateway implements gateways.Store.
func (s *Store) Gateway(ctx context.Context, id string) (gateways.Gateway, error) {
	g, err := scanGateway(s.pool.QueryRow(ctx, `select `+gatewayCols+gatewayFrom+` where g.id = $1`, id))
	if err != nil {
		return gateways.Gateway{}, fmt.Errorf("gateway %s: %w", id, translate(err))
	}
	list := []gateways.Gateway{g}
	if err := s.gatewayAssets(ctx, list); err != nil {
		return gateways.Gateway{}, err
	}
	return list[0], nil
}

// gatewayAssets fills the assets each gateway's config reads, with their
// ids where they are registered at the gateway's site.
func (s *Store) gatewayAssets(ctx context.Context, gs []gateways.Gateway) error {
	for i := range gs {
		g := &gs[i]
		codes := gateways.AssetsOf(g.Config)
		g.Assets = make([]gateways.Asset, len(codes))
		ids := map[string]string{}
		if g.SiteID != "" && len(codes) > 0 {
			rows, err := s.pool.Query(ctx, `select code, id from assets where site_id = $1 and code = any($2)`, g.SiteID, codes)
			if err != nil {
				return fmt.Errorf("gateway assets: %w", translate(err))
			}
			for rows.Next() {
				var code, id string
				if err := rows.Scan(&code, &id); err != nil {
					rows.Close()
					return fmt.Errorf("gateway assets: %w", err)
				}
				ids[code] = id
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("gateway assets: %w", translate(err))
			}
		}
		for j, c := range codes {
			g.Assets[j] = gateways.Asset{Code: c, ID: ids[c]}
		}
	}
	return nil
}

// RecordStatus implements gateways.Store.
func (s *Store) RecordStatus(ctx context.Context, site, code string, st gateways.Status, now time.Time) error {
	// An agent's offline status is its last will, set when it connected:
	// its ts is older than the statuses it sent since. So an offline status
	// always applies, and the gateway is offline since the last status the
	// platform had from it (the same on every replica).
	_, err := s.pool.Exec(ctx, `insert into gateways (site_code, code, state, state_since, status_at, seen_at, version,
			buffered, dropped, agent_config_sha256, agent_config_error)
		values ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10)
		on conflict (site_code, code) do update set
			state_since = case when gateways.state = excluded.state then gateways.state_since
				else greatest(gateways.status_at, excluded.status_at) end,
			state = excluded.state, status_at = greatest(gateways.status_at, excluded.status_at), seen_at = excluded.seen_at,
			version = case when excluded.version = '' then gateways.version else excluded.version end,
			-- A will older than the latest status has older counters.
			buffered = case when excluded.status_at < gateways.status_at then gateways.buffered else excluded.buffered end,
			dropped = case when excluded.status_at < gateways.status_at then gateways.dropped else excluded.dropped end,
			agent_config_sha256 = case when excluded.agent_config_sha256 = '' then gateways.agent_config_sha256
				else excluded.agent_config_sha256 end,
			-- The will carries no config answer: keep the last one.
			agent_config_error = case when excluded.state = 'offline' then gateways.agent_config_error
				else excluded.agent_config_error end,
			alert_since = case when excluded.state = 'online' then null else gateways.alert_since end
		where excluded.state = 'offline' or gateways.status_at <= excluded.status_at`,
		site, code, st.State, st.TS, now, st.Version, st.Buffered, st.Dropped, st.ConfigSHA256, st.ConfigError)
	if err != nil {
		return fmt.Errorf("gateway %s/%s status: %w", site, code, translate(err))
	}
	return nil
}

// SetConfig implements gateways.Store.
func (s *Store) SetConfig(ctx context.Context, id string, cfg json.RawMessage, sum string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `update gateways set config = $2, config_sha256 = $3, config_published_at = $4
		where id = $1`, id, []byte(cfg), sum, at)
	if err != nil {
		return fmt.Errorf("gateway %s config: %w", id, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("gateway %s config: %w", id, translate(pgx.ErrNoRows))
	}
	return nil
}

// MarkOffline implements gateways.Store.
func (s *Store) MarkOffline(ctx context.Context, cutoff time.Time) ([]gateways.Gateway, error) {
	if _, err := s.pool.Exec(ctx, `update gateways set alert_since = null
		where alert_since is not null and (state = 'online' or state_since > $1)`, cutoff); err != nil {
		return nil, fmt.Errorf("gateway alerts: %w", translate(err))
	}
	rows, err := s.pool.Query(ctx, `with a as (update gateways set alert_since = state_since
			where state = 'offline' and state_since <= $1 and alert_since is null returning id)
		select `+gatewayCols+gatewayFrom+` join a on a.id = g.id`, cutoff)
	if err != nil {
		return nil, fmt.Errorf("gateway alerts: %w", translate(err))
	}
	defer rows.Close()
	var out []gateways.Gateway
	for rows.Next() {
		g, err := scanGateway(rows)
		if err != nil {
			return nil, fmt.Errorf("gateway alerts: %w", err)
		}
		since := g.StateSince
		g.AlertSince = &since
		out = append(out, g)
	}
	return out, translate(rows.Err())
}
