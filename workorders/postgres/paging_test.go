package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/postgres"
)

// TestKeysetPaging walks lists in both orders (sites oldest first,
// knowledge articles newest first) page by page: every row exactly once,
// in order, and no cursor after the last page.
func TestKeysetPaging(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, pool := migratedStore(t)
	ops := postgres.NewOps(pool)
	var sites, articles []string
	for i := range 7 {
		s, err := store.CreateSite(ctx, workorders.Site{Code: fmt.Sprintf("S%d", i), Name: "site"})
		require.NoError(t, err)
		sites = append(sites, s.ID)
		a, err := ops.CreateArticle(ctx, workorders.Article{Title: fmt.Sprintf("article %d", i), Body: "text"})
		require.NoError(t, err)
		articles = append([]string{a.ID}, articles...) // newest first
	}

	walk := func(list func(p workorders.Page) ([]string, string, error)) []string {
		var got []string
		p := workorders.Page{Limit: 3}
		for pages := 0; ; pages++ {
			require.Less(t, pages, 4, "paging does not end")
			ids, next, err := list(p)
			require.NoError(t, err)
			got = append(got, ids...)
			if next == "" {
				return got
			}
			p.Cursor = next
		}
	}
	require.Equal(t, sites, walk(func(p workorders.Page) ([]string, string, error) {
		out, next, err := store.ListSites(ctx, p)
		ids := make([]string, len(out))
		for i, s := range out {
			ids[i] = s.ID
		}
		return ids, next, err
	}))
	require.Equal(t, articles, walk(func(p workorders.Page) ([]string, string, error) {
		out, next, err := ops.ListArticles(ctx, "", p)
		ids := make([]string, len(out))
		for i, a := range out {
			ids[i] = a.ID
		}
		return ids, next, err
	}))

	_, _, err := store.ListSites(ctx, workorders.Page{Cursor: "not-a-cursor"})
	var verr *workorders.ValidationError
	require.ErrorAs(t, err, &verr, "a malformed cursor is a validation error")
}
