package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openpdm/pdm/workorders"
)

// csatKPI computes survey figures over request orders completed in
// [$1, $2) (site $3 or all), fleet-wide, per engineer and per site.
func csatKPI(ctx context.Context, pool *pgxpool.Pool, args ...any) (workorders.CSATKPI, error) {
	out := workorders.CSATKPI{Engineers: []workorders.CSATGroup{}, Sites: []workorders.CSATGroup{}}
	rows, err := pool.Query(ctx, `with done as (
			select o.id, o.site_id, o.assignee_id, sv.score from work_orders o
			join order_requests r on r.order_id = o.id
			left join order_surveys sv on sv.order_id = o.id
			where o.completed_at >= $1 and o.completed_at < $2 and ($3::uuid is null or o.site_id = $3::uuid))
		select g, coalesce(id, ''), coalesce(name, ''), n, responses, mean, happy from (
			select 0 as g, null::text as id, null::text as name, count(*)::int as n, count(score)::int as responses,
				avg(score)::float8 as mean, count(*) filter (where score >= 4)::int as happy from done
			union all
			select 1, u.id::text, u.name, count(*)::int, count(score)::int, avg(score)::float8,
				count(*) filter (where score >= 4)::int
			from done d join users u on u.id = d.assignee_id group by u.id, u.name
			union all
			select 2, si.id::text, si.name, count(*)::int, count(score)::int, avg(score)::float8,
				count(*) filter (where score >= 4)::int
			from done d join sites si on si.id = d.site_id group by si.id, si.name) x
		order by g, name`, args...)
	if err != nil {
		return out, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			g                  int
			grp                workorders.CSATGroup
			n, responses, good int
			mean               *float64
		)
		if err := rows.Scan(&g, &grp.ID, &grp.Name, &n, &responses, &mean, &good); err != nil {
			return out, translate(err)
		}
		grp.CSATFigures = workorders.CSATFigures{Completed: n, Responses: responses, ResponseRate: ratio(responses, n),
			MeanScore: mean, CSAT: ratio(good, responses)}
		switch g {
		case 0:
			out.CSATFigures = grp.CSATFigures
		case 1:
			out.Engineers = append(out.Engineers, grp)
		default:
			out.Sites = append(out.Sites, grp)
		}
	}
	return out, translate(rows.Err())
}
