package httpapi_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
)

// TestHelpersAndTransfers: the engineer asks a colleague for help (the
// helper sees the job and comments, but does not act on it); a transfer
// waits for a planner under the default policy, and goes at once where
// the site's policy says direct; bad input is a 4xx naming the fields.
func TestHelpersAndTransfers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withClaims(t))
	ctx := context.Background()
	site, _, _, o := e.seed()
	owner := e.users[workorders.RoleEngineer]
	ownerTok := e.tokens[workorders.RoleEngineer]
	helper, helperTok, err := e.svc.CreateUser(ctx, "Zhang Wei", workorders.RoleEngineer)
	require.NoError(t, err)
	third, thirdTok, err := e.svc.CreateUser(ctx, "Chen Jie", workorders.RoleEngineer)
	require.NoError(t, err)
	planner := e.users[workorders.RolePlanner]

	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/approve", workorders.RolePlanner, nil, 200, nil)
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/assign", workorders.RolePlanner, map[string]any{"assignee_id": owner.ID}, 200, nil)
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/accept", workorders.RoleEngineer, nil, 200, nil)

	// The helper does not see the job before being asked.
	code, b := e.do("GET", "/api/v1/work-orders/"+o.ID, helperTok, nil)
	require.Equal(t, 404, code, string(b))
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/helpers", ownerTok, map[string]any{"user_id": "nope"})
	require.Equal(t, 400, code, string(b))
	require.Contains(t, string(b), `"field":"user_id"`)
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/helpers", ownerTok, map[string]any{"user_id": planner.ID})
	require.Equal(t, 422, code, "a planner is not an engineer: %s", b)
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/helpers", helperTok, map[string]any{"user_id": helper.ID})
	require.Equal(t, 404, code, "not the helper's job to add people to: %s", b)

	var got workorders.Order
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/helpers", ownerTok, map[string]any{"user_id": helper.ID, "note": "need a second pair of hands"})
	require.Equal(t, 200, code, string(b))
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/helpers", workorders.RoleEngineer, map[string]any{"user_id": helper.ID}, 200, &got)
	require.Equal(t, []string{helper.ID}, got.HelperIDs, "asking twice adds once")

	code, b = e.do("GET", "/api/v1/me/jobs", helperTok, nil)
	require.Equal(t, 200, code, string(b))
	require.Contains(t, string(b), o.ID, "the helper sees the job among theirs")
	code, b = e.do("GET", "/api/v1/work-orders/"+o.ID, helperTok, nil)
	require.Equal(t, 200, code, string(b))
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/comments", helperTok, map[string]any{"text": "on my way with the puller"})
	require.Equal(t, 201, code, string(b))
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/start", helperTok, nil)
	require.Equal(t, 404, code, "the assignee alone acts on the job: %s", b)
	code, b = e.do("GET", "/api/v1/me/jobs", thirdTok, nil)
	require.Equal(t, 200, code, string(b))
	require.NotContains(t, string(b), o.ID)

	// Transfer under the default policy: a request a planner approves.
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/transfer", ownerTok, map[string]any{})
	require.Equal(t, 400, code, string(b))
	require.Contains(t, string(b), `"field":"to_user_id"`)
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/transfer", ownerTok, map[string]any{"to_user_id": owner.ID})
	require.Equal(t, 422, code, string(b))
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/transfer", workorders.RoleEngineer, map[string]any{"to_user_id": helper.ID, "note": "back pain"}, 200, &got)
	require.Equal(t, owner.ID, *got.AssigneeID, "still the owner's until approved")
	require.NotNil(t, got.Transfer)
	require.Equal(t, helper.ID, got.Transfer.ToUserID)
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/transfer/approve", ownerTok, nil)
	require.Equal(t, 403, code, "engineers do not approve: %s", b)
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/transfer/approve", workorders.RolePlanner, nil, 200, &got)
	require.Equal(t, helper.ID, *got.AssigneeID)
	require.Equal(t, workorders.StatusAssigned, got.Status, "the new engineer accepts it")
	require.Nil(t, got.Transfer)
	require.Empty(t, got.HelperIDs, "the helper became the engineer")
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/transfer/approve", e.tokens[workorders.RolePlanner], nil)
	require.Equal(t, 409, code, "nothing left to approve: %s", b)
	code, b = e.do("GET", "/api/v1/work-orders/"+o.ID, ownerTok, nil)
	require.Equal(t, 404, code, "no longer the former engineer's job: %s", b)
	code, _ = e.do("POST", "/api/v1/work-orders/"+o.ID+"/accept", helperTok, nil)
	require.Equal(t, 200, code)

	// A rejected request leaves the job where it was.
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/transfer", workorders.RolePlanner, map[string]any{"to_user_id": third.ID}, 200, &got)
	require.Equal(t, third.ID, *got.AssigneeID, "a planner transfers directly")
	code, _ = e.do("POST", "/api/v1/work-orders/"+o.ID+"/transfer", thirdTok, map[string]any{"to_user_id": helper.ID})
	require.Equal(t, 200, code)
	e.mustJSON("POST", "/api/v1/work-orders/"+o.ID+"/transfer/reject", workorders.RolePlanner, map[string]any{"note": "stay"}, 200, &got)
	require.Equal(t, third.ID, *got.AssigneeID)
	require.Nil(t, got.Transfer)

	// The site's policy lets engineers transfer directly.
	e.mustJSON("PUT", "/api/v1/dispatch-policies", workorders.RolePlanner, map[string]any{"site_id": site.ID, "mode": "auto", "transfer": "direct"}, 200, nil)
	code, b = e.do("PUT", "/api/v1/dispatch-policies", e.tokens[workorders.RolePlanner], map[string]any{"mode": "auto", "transfer": "whenever"})
	require.Equal(t, 400, code, string(b))
	code, b = e.do("POST", "/api/v1/work-orders/"+o.ID+"/transfer", thirdTok, map[string]any{"to_user_id": helper.ID})
	require.Equal(t, 200, code, string(b))
	e.mustJSON("GET", "/api/v1/work-orders/"+o.ID, workorders.RolePlanner, nil, 200, &got)
	require.Equal(t, helper.ID, *got.AssigneeID)
}
