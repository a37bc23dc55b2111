package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
)

func locArgs(l *workorders.Location) (lat, lon *float64) {
	if l == nil {
		return nil, nil
	}
	return &l.Lat, &l.Lon
}

func locOf(lat, lon *float64) *workorders.Location {
	if lat == nil || lon == nil {
		return nil
	}
	return &workorders.Location{Lat: *lat, Lon: *lon}
}

const siteCols = `id, code, name, lat, lon, created_at, updated_at`

func scanSite(r pgx.Row) (workorders.Site, error) {
	var v workorders.Site
	var lat, lon *float64
	err := r.Scan(&v.ID, &v.Code, &v.Name, &lat, &lon, &v.CreatedAt, &v.UpdatedAt)
	utc(&v.CreatedAt, &v.UpdatedAt)
	v.Location = locOf(lat, lon)
	return v, err
}

// CreateSite implements workorders.Store.
func (s *Store) CreateSite(ctx context.Context, v workorders.Site) (workorders.Site, error) {
	lat, lon := locArgs(v.Location)
	out, err := scanSite(s.pool.QueryRow(ctx, `insert into sites (code, name, lat, lon) values ($1, $2, $3, $4)
		returning `+siteCols, v.Code, v.Name, lat, lon))
	return out, translate(err)
}

// GetSite implements workorders.Store.
func (s *Store) GetSite(ctx context.Context, id string) (workorders.Site, error) {
	if !validID(id) {
		return workorders.Site{}, workorders.ErrNotFound
	}
	out, err := scanSite(s.pool.QueryRow(ctx, `select `+siteCols+` from sites where id = $1`, id))
	return out, translate(err)
}

// ListSites implements workorders.Store.
func (s *Store) ListSites(ctx context.Context, p workorders.Page) ([]workorders.Site, string, error) {
	var w where
	ks := keyset{created: "created_at", key: "id"}
	if err := ks.after(&w, p); err != nil {
		return nil, "", err
	}
	lim := limitOf(p)
	rows, err := s.pool.Query(ctx, `select `+siteCols+` from sites`+w.sql()+ks.orderLimit(&w, lim), w.args...)
	if err != nil {
		return nil, "", translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.Site, error) { return scanSite(r) })
	if err != nil {
		return nil, "", translate(err)
	}
	out, next := cutPage(out, lim, func(v workorders.Site) (time.Time, string) { return v.CreatedAt, v.ID })
	return out, next, nil
}

// UpdateSite implements workorders.Store.
func (s *Store) UpdateSite(ctx context.Context, v workorders.Site) (workorders.Site, error) {
	if !validID(v.ID) {
		return workorders.Site{}, workorders.ErrNotFound
	}
	lat, lon := locArgs(v.Location)
	out, err := scanSite(s.pool.QueryRow(ctx, `update sites set code = $2, name = $3, lat = $4, lon = $5, updated_at = now()
		where id = $1 returning `+siteCols, v.ID, v.Code, v.Name, lat, lon))
	return out, translate(err)
}

// DeleteSite implements workorders.Store. A site with assets is not deleted.
func (s *Store) DeleteSite(ctx context.Context, id string) error {
	if !validID(id) {
		return workorders.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `delete from sites where id = $1`, id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return workorders.ErrNotFound
	}
	return nil
}

const assetCols = `a.id, a.site_id, s.code, a.code, a.type, a.name, a.criticality, a.lat, a.lon, a.parent_id, a.area, a.created_at, a.updated_at`

func scanAsset(r pgx.Row) (workorders.Asset, error) {
	var v workorders.Asset
	var lat, lon *float64
	err := r.Scan(&v.ID, &v.SiteID, &v.SiteCode, &v.Code, &v.Type, &v.Name, &v.Criticality, &lat, &lon, &v.ParentID, &v.Area, &v.CreatedAt, &v.UpdatedAt)
	utc(&v.CreatedAt, &v.UpdatedAt)
	v.Location = locOf(lat, lon)
	return v, err
}

// CreateAsset implements workorders.Store.
func (s *Store) CreateAsset(ctx context.Context, v workorders.Asset) (workorders.Asset, error) {
	if !validID(v.SiteID) {
		return workorders.Asset{}, workorders.Unprocessable("site_id", "no such site")
	}
	if v.ParentID != nil && !validID(*v.ParentID) {
		return workorders.Asset{}, workorders.Unprocessable("parent_id", "no such asset")
	}
	lat, lon := locArgs(v.Location)
	var id string
	err := s.pool.QueryRow(ctx, `insert into assets (site_id, code, type, name, criticality, lat, lon, parent_id, area)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id`,
		v.SiteID, v.Code, v.Type, v.Name, v.Criticality, lat, lon, v.ParentID, v.Area).Scan(&id)
	if err != nil {
		return workorders.Asset{}, translate(err)
	}
	return s.GetAsset(ctx, id)
}

// GetAsset implements workorders.Store.
func (s *Store) GetAsset(ctx context.Context, id string) (workorders.Asset, error) {
	if !validID(id) {
		return workorders.Asset{}, workorders.ErrNotFound
	}
	out, err := scanAsset(s.pool.QueryRow(ctx, `select `+assetCols+` from assets a join sites s on s.id = a.site_id where a.id = $1`, id))
	return out, translate(err)
}

// ListAssets implements workorders.Store.
func (s *Store) ListAssets(ctx context.Context, f workorders.AssetFilter) ([]workorders.Asset, string, error) {
	var w where
	if f.SiteID != "" {
		if !validID(f.SiteID) {
			return nil, "", workorders.Invalid("site_id", "not a valid UUID")
		}
		w.add("a.site_id = ?", f.SiteID)
	}
	if f.Code != "" {
		w.add("a.code = ?", f.Code)
	}
	if f.Type != "" {
		w.add("a.type = ?", f.Type)
	}
	if f.Area != "" {
		w.add("a.area = ?", f.Area)
	}
	ks := keyset{created: "a.created_at", key: "a.id"}
	if err := ks.after(&w, f.Page); err != nil {
		return nil, "", err
	}
	lim := limitOf(f.Page)
	rows, err := s.pool.Query(ctx, `select `+assetCols+` from assets a join sites s on s.id = a.site_id`+w.sql()+
		ks.orderLimit(&w, lim), w.args...)
	if err != nil {
		return nil, "", translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (workorders.Asset, error) { return scanAsset(r) })
	if err != nil {
		return nil, "", translate(err)
	}
	out, next := cutPage(out, lim, func(v workorders.Asset) (time.Time, string) { return v.CreatedAt, v.ID })
	return out, next, nil
}

// UpdateAsset implements workorders.Store.
func (s *Store) UpdateAsset(ctx context.Context, v workorders.Asset) (workorders.Asset, error) {
	if !validID(v.ID) {
		return workorders.Asset{}, workorders.ErrNotFound
	}
	if !validID(v.SiteID) {
		return workorders.Asset{}, workorders.Unprocessable("site_id", "no such site")
	}
	if v.ParentID != nil && !validID(*v.ParentID) {
		return workorders.Asset{}, workorders.Unprocessable("parent_id", "no such asset")
	}
	lat, lon := locArgs(v.Location)
	tag, err := s.pool.Exec(ctx, `update assets set site_id = $2, code = $3, type = $4, name = $5, criticality = $6,
		lat = $7, lon = $8, parent_id = $9, area = $10, updated_at = now() where id = $1`,
		v.ID, v.SiteID, v.Code, v.Type, v.Name, v.Criticality, lat, lon, v.ParentID, v.Area)
	if err != nil {
		return workorders.Asset{}, translate(err)
	}
	if tag.RowsAffected() == 0 {
		return workorders.Asset{}, workorders.ErrNotFound
	}
	return s.GetAsset(ctx, v.ID)
}

// DeleteAsset implements workorders.Store. An asset with work orders is
// not deleted (409/422).
func (s *Store) DeleteAsset(ctx context.Context, id string) error {
	if !validID(id) {
		return workorders.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `delete from assets where id = $1`, id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return workorders.ErrNotFound
	}
	return nil
}

// AssetByCode implements workorders.Store.
func (s *Store) AssetByCode(ctx context.Context, siteCode, assetCode string) (workorders.AssetRef, error) {
	var r workorders.AssetRef
	err := s.pool.QueryRow(ctx, `select a.id, s.code, a.code, a.type, a.criticality from assets a
		join sites s on s.id = a.site_id where s.code = $1 and a.code = $2`, siteCode, assetCode).
		Scan(&r.ID, &r.SiteCode, &r.Code, &r.Type, &r.Criticality)
	return r, translate(err)
}
