package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Leases keeps the members of detection and their partition leases
// (partition.LeaseStore). PostgreSQL's clock decides expiry.
type Leases struct {
	pool *pgxpool.Pool
}

// NewLeases returns the lease store over pool (migrated).
func NewLeases(pool *pgxpool.Pool) *Leases { return &Leases{pool: pool} }

func ttlOf(d time.Duration) string { return fmt.Sprintf("%d milliseconds", d.Milliseconds()) }

// Renew records member as alive for ttl, extends its leases, records how
// far it evaluated each partition (marks) and returns the live members and
// the partitions member holds.
func (l *Leases) Renew(ctx context.Context, member string, ttl time.Duration, marks map[int]time.Time) ([]string, []int, error) {
	var members []string
	var held []int
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `insert into detect_members (member, expires_at) values ($1, now() + $2::interval)
			on conflict (member) do update set expires_at = excluded.expires_at`, member, ttlOf(ttl)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `update detect_leases set expires_at = now() + $2::interval
			where owner = $1 returning part`, member, ttlOf(ttl))
		if err != nil {
			return err
		}
		if held, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil {
			return err
		}
		if len(marks) > 0 {
			parts := make([]int, 0, len(marks))
			times := make([]time.Time, 0, len(marks))
			for p, t := range marks {
				parts, times = append(parts, p), append(times, t)
			}
			if _, err := tx.Exec(ctx, `update detect_leases l set watermark = m.mark
				from unnest($2::int[], $3::timestamptz[]) as m(part, mark)
				where l.owner = $1 and l.part = m.part`, member, parts, times); err != nil {
				return err
			}
		}
		rows, err = tx.Query(ctx, `select member from detect_members where expires_at > now() order by member`)
		if err != nil {
			return err
		}
		members, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("renew leases: %w", err)
	}
	return members, held, nil
}

// Acquire takes those of parts that are free, expired or already member's
// and returns them with their watermarks (zero when never evaluated).
func (l *Leases) Acquire(ctx context.Context, member string, parts []int, ttl time.Duration) (map[int]time.Time, error) {
	rows, err := l.pool.Query(ctx, `insert into detect_leases (part, owner, expires_at)
		select p, $2, now() + $3::interval from unnest($1::int[]) as p
		on conflict (part) do update set owner = excluded.owner, expires_at = excluded.expires_at,
			taken_at = case when detect_leases.owner = excluded.owner then detect_leases.taken_at else now() end
		where detect_leases.expires_at <= now() or detect_leases.owner = excluded.owner
		returning part, watermark`, parts, member, ttlOf(ttl))
	if err != nil {
		return nil, fmt.Errorf("acquire leases: %w", err)
	}
	got := map[int]time.Time{}
	var p int
	var mark *time.Time
	_, err = pgx.ForEachRow(rows, []any{&p, &mark}, func() error {
		got[p] = time.Time{}
		if mark != nil {
			got[p] = mark.UTC()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("acquire leases: %w", err)
	}
	return got, nil
}

// Release frees parts member holds; their watermarks stay for the next
// owner.
func (l *Leases) Release(ctx context.Context, member string, parts []int) error {
	if _, err := l.pool.Exec(ctx, `update detect_leases set owner = '', expires_at = now()
		where owner = $1 and part = any($2::int[])`, member, parts); err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	return nil
}

// Leave removes member and frees its leases.
func (l *Leases) Leave(ctx context.Context, member string) error {
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `update detect_leases set owner = '', expires_at = now() where owner = $1`, member); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `delete from detect_members where member = $1`, member)
		return err
	})
	if err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	return nil
}
