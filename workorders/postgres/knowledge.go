package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpdm/pdm/workorders"
)

var _ workorders.KnowledgeStore = (*Ops)(nil)

const articleCols = `k.id, k.title, k.body, k.failure_modes, k.asset_types, k.tags, k.source_order_id, k.created_by,
	k.created_at, k.updated_at`

func scanArticle(r pgx.Row) (workorders.Article, error) {
	var a workorders.Article
	err := r.Scan(&a.ID, &a.Title, &a.Body, &a.FailureModes, &a.AssetTypes, &a.Tags, &a.SourceOrderID, &a.CreatedBy,
		&a.CreatedAt, &a.UpdatedAt)
	return a, err
}

// CreateArticle stores an article.
func (s *Ops) CreateArticle(ctx context.Context, a workorders.Article) (workorders.Article, error) {
	if a.SourceOrderID != nil && !validID(*a.SourceOrderID) {
		return a, workorders.Unprocessable("source_order_id", "no such order")
	}
	out, err := scanArticle(s.pool.QueryRow(ctx, `with ins as (insert into knowledge_articles (title, body, failure_modes,
		asset_types, tags, source_order_id, created_by) values ($1, $2, $3, $4, $5, $6, $7) returning *)
		select `+articleCols+` from ins k`,
		a.Title, a.Body, nonNil(a.FailureModes), nonNil(a.AssetTypes), nonNil(a.Tags), a.SourceOrderID, a.CreatedBy))
	return out, translateOps(err)
}

// GetArticle returns one article.
func (s *Ops) GetArticle(ctx context.Context, id string) (workorders.Article, error) {
	if !validID(id) {
		return workorders.Article{}, workorders.ErrNotFound
	}
	a, err := scanArticle(s.pool.QueryRow(ctx, `select `+articleCols+` from knowledge_articles k where k.id = $1`, id))
	return a, translateOps(err)
}

// ListArticles pages through articles, newest first.
func (s *Ops) ListArticles(ctx context.Context, failureMode string, p workorders.Page) ([]workorders.Article, string, error) {
	var w where
	if failureMode != "" {
		w.add("? = any(k.failure_modes)", failureMode)
	}
	ks := keyset{created: "k.created_at", key: "k.id", desc: true}
	if err := ks.after(&w, p); err != nil {
		return nil, "", err
	}
	limit := limitOf(p)
	rows, err := s.pool.Query(ctx, `select `+articleCols+` from knowledge_articles k`+w.sql()+
		ks.orderLimit(&w, limit), w.args...)
	if err != nil {
		return nil, "", translateOps(err)
	}
	out, err := opsCollect(rows, scanArticle)
	if err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(v workorders.Article) (time.Time, string) { return v.CreatedAt, v.ID })
	return out, next, nil
}

// UpdateArticle writes an article's text and tags.
func (s *Ops) UpdateArticle(ctx context.Context, a workorders.Article) (workorders.Article, error) {
	if !validID(a.ID) {
		return a, workorders.ErrNotFound
	}
	out, err := scanArticle(s.pool.QueryRow(ctx, `with upd as (update knowledge_articles set title = $2, body = $3,
		failure_modes = $4, asset_types = $5, tags = $6, updated_at = now() where id = $1 returning *)
		select `+articleCols+` from upd k`, a.ID, a.Title, a.Body, nonNil(a.FailureModes), nonNil(a.AssetTypes), nonNil(a.Tags)))
	return out, translateOps(err)
}

// DeleteArticle removes an article.
func (s *Ops) DeleteArticle(ctx context.Context, id string) error {
	if !validID(id) {
		return workorders.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `delete from knowledge_articles where id = $1`, id)
	if err != nil {
		return translateOps(err)
	}
	if tag.RowsAffected() == 0 {
		return workorders.ErrNotFound
	}
	return nil
}

func likeEscape(s string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
}

// SearchArticles finds articles matching any term, as a substring (LIKE)
// or by trigram word similarity (pg_trgm's <% operator, which handles CJK
// text too), or sharing a failure mode; both use the trigram and the
// failure-mode GIN indexes. Score: per term 1 for a substring hit, else
// its word similarity; plus 2 for a shared failure mode.
func (s *Ops) SearchArticles(ctx context.Context, terms, failureModes []string, limit int) ([]workorders.Article, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	var (
		w     where
		conds []string
		score []string
	)
	for _, t := range terms {
		if workorders.ShortTerm(t) {
			// "on" or "at" inside other words is noise: whole words only.
			re := w.arg(`(^|[^[:alnum:]_])` + regexp.QuoteMeta(t) + `($|[^[:alnum:]_])`)
			conds = append(conds, "k.search ~ "+re)
			score = append(score, fmt.Sprintf("case when k.search ~ %s then 1 else 0 end", re))
			continue
		}
		pat := w.arg(likeEscape(t))
		term := w.arg(t)
		conds = append(conds, fmt.Sprintf("k.search like %s or %s <%% k.search", pat, term))
		score = append(score, fmt.Sprintf("case when k.search like %s then 1 else word_similarity(%s, k.search) end", pat, term))
	}
	if len(failureModes) > 0 {
		fm := w.arg(failureModes)
		conds = append(conds, "k.failure_modes && "+fm+"::text[]")
		score = append(score, "case when k.failure_modes && "+fm+"::text[] then 2 else 0 end")
	}
	if len(conds) == 0 {
		return []workorders.Article{}, nil
	}
	sql := `select ` + articleCols + `, (` + strings.Join(score, " + ") + `)::float8 as score
		from knowledge_articles k where (` + strings.Join(conds, ") or (") + `)
		order by score desc, k.created_at desc limit ` + fmt.Sprint(limit)
	rows, err := s.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, translateOps(err)
	}
	return opsCollect(rows, func(r pgx.Row) (workorders.Article, error) {
		var a workorders.Article
		err := r.Scan(&a.ID, &a.Title, &a.Body, &a.FailureModes, &a.AssetTypes, &a.Tags, &a.SourceOrderID, &a.CreatedBy,
			&a.CreatedAt, &a.UpdatedAt, &a.Score)
		return a, err
	})
}
