package httpapi_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
)

// TestSplitBadInput: the split route names asset_id when it is missing
// (400) or not linked to the order (422); an unknown order is 404.
func TestSplitBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, a, _, o := e.seed()
	tok := e.tokens[workorders.RolePlanner]
	code, b := e.do("POST", "/api/v1/work-orders/"+o.ID+"/split", tok, map[string]any{})
	require.Equal(t, 400, code, string(b))
	require.Contains(t, string(b), "asset_id")
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/split", tok, map[string]any{"asset_id": a.ID})
	require.Equal(t, 422, code, string(b))
	require.Contains(t, string(b), "asset_id")
	code, b = e.do("POST", "/api/v1/work-orders/00000000-0000-0000-0000-000000000000/split", tok, map[string]any{"asset_id": a.ID})
	require.Equal(t, 404, code, string(b))
}
