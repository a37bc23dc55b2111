package httpapi_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
)

// TestRuleVerifyFor: the post-repair verification window is a rule
// setting, kept and returned; out of range is a 400 naming verify_for.
func TestRuleVerifyFor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var r struct {
		ID        string `json:"id"`
		VerifyFor string `json:"verify_for"`
	}
	e.mustJSON("POST", "/api/v1/rules", workorders.RolePlanner, json.RawMessage(`{"name":"bearing","asset_type":"pump",
		"metric":"vibration_rms","direction":"above","warn":4.5,"critical":7.1,"verify_for":"12h"}`), 201, &r)
	require.Equal(t, "12h", r.VerifyFor)
	e.mustJSON("GET", "/api/v1/rules/"+r.ID, workorders.RoleViewer, nil, 200, &r)
	require.Equal(t, "12h", r.VerifyFor)
	for _, bad := range []string{`"30s"`, `"91d"`, `"soon"`} {
		code, b := e.do("PUT", "/api/v1/rules/"+r.ID, e.tokens[workorders.RolePlanner], json.RawMessage(`{"name":"bearing",
			"asset_type":"pump","metric":"vibration_rms","direction":"above","warn":4.5,"critical":7.1,"verify_for":`+bad+`}`))
		require.Equal(t, 400, code, "verify_for %s: %s", bad, b)
		require.Contains(t, string(b), "verify_for")
	}
}
