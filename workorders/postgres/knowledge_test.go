package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

func titles(as []workorders.Article) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.Title)
	}
	return out
}

func TestKnowledgeSearchChineseAndEnglish(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	kb := workorders.NewKnowledge(f.svc, f.ops)
	for _, a := range []workorders.Article{
		{Title: "轴承过热处理", Body: "电机轴承振动过大时，检查润滑并更换轴承 BRG-6205。", FailureModes: []string{"bearing_wear"}},
		{Title: "Bearing overheating", Body: "When the pump bearing runs hot, check the lubrication and replace the bearing.", FailureModes: []string{"bearing_wear"}},
		{Title: "Seal leak", Body: "Replace the mechanical seal; check the shaft for scoring.", FailureModes: []string{"seal_leak"}},
		{Title: "密封泄漏", Body: "更换机械密封，检查轴的划痕。", FailureModes: []string{"seal_leak"}},
	} {
		require.NoError(t, workorders.ValidateArticle(&a))
		_, err := f.ops.CreateArticle(ctx, a)
		require.NoError(t, err)
	}
	tests := []struct {
		q     string
		first string
		not   []string
	}{
		{"轴承振动过大", "轴承过热处理", []string{"Seal leak"}},
		{"振动", "轴承过热处理", []string{"Seal leak", "Bearing overheating"}},
		{"机械密封", "密封泄漏", []string{"Bearing overheating"}},
		{"bearing lubrication", "Bearing overheating", []string{"密封泄漏"}},
		{"LUBRICATION", "Bearing overheating", nil},
		{"mechanical seals", "Seal leak", nil},
		{"BRG-6205", "轴承过热处理", []string{"Seal leak"}},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			got, err := kb.Search(ctx, tt.q, "", 10)
			require.NoError(t, err)
			require.NotEmpty(t, got, "no hits for %q", tt.q)
			require.Equal(t, tt.first, got[0].Title, "hits: %v", titles(got))
			for _, n := range tt.not {
				require.NotContains(t, titles(got), n)
			}
		})
	}
	got, err := kb.Search(ctx, "nothing like this", "", 10)
	require.NoError(t, err)
	require.Empty(t, got)
	// Wildcards in the query are text, not patterns.
	got, err = kb.Search(ctx, "%", "", 10)
	require.NoError(t, err)
	require.Empty(t, got)
	// Failure mode filter alone.
	got, err = kb.Search(ctx, "", "seal_leak", 10)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"Seal leak", "密封泄漏"}, titles(got))
}

func TestKnowledgeFromResolutionAndSuggestions(t *testing.T) {
	t.Parallel()
	f := newOpsFixture(t)
	ctx := context.Background()
	kb := workorders.NewKnowledge(f.svc, f.ops)
	e := f.engineer(t, "eng", workorders.Location{Lat: 48.1, Lon: 11.5}, nil)
	o, err := f.svc.CreateOrder(ctx, f.admin, workorders.NewOrder{AssetID: f.asset.ID, Title: "Pump bearing noisy",
		FailureMode: "bearing_wear"})
	require.NoError(t, err)

	// Not completed yet: refused.
	_, err = kb.SaveResolution(ctx, o.ID, f.admin, "", nil)
	require.ErrorIs(t, err, workorders.ErrIllegalTransition)

	actor := workorders.Actor{ID: e.UserID, Name: "eng", Role: workorders.RoleEngineer}
	_, err = f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActAssign, AssigneeID: *e.UserID, Actor: f.admin})
	require.NoError(t, err)
	for _, a := range []workorders.Action{workorders.ActAccept, workorders.ActStart} {
		_, err = f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: a, Actor: actor})
		require.NoError(t, err)
	}
	_, err = f.svc.Act(ctx, o.ID, workorders.ActionRequest{Action: workorders.ActComplete, Actor: actor,
		Resolution: "Drive-end bearing worn; regreased and replaced bearing 6205.", PartsUsed: []rules.PartQty{{SKU: "BRG-6205", Qty: 1}}})
	require.NoError(t, err)

	a, err := kb.SaveResolution(ctx, o.ID, f.admin, "", []string{"pump"})
	require.NoError(t, err)
	require.Equal(t, "Pump bearing noisy", a.Title)
	require.Equal(t, []string{"bearing_wear"}, a.FailureModes)
	require.Equal(t, []string{"pump"}, a.AssetTypes)
	require.Contains(t, a.Body, "regreased")
	require.Contains(t, a.Body, "BRG-6205 × 1")
	_, err = kb.SaveResolution(ctx, o.ID, f.admin, "", nil)
	require.ErrorIs(t, err, workorders.ErrConflict, "one article per order")

	// An unrelated article whose words only contain "on" and "at"
	// ("station", "tension") must not follow the right one.
	other := workorders.Article{Title: "Cooling tower belt", Body: "At the station, check the belt tension and the pulley alignment.",
		FailureModes: []string{"belt_slip"}}
	require.NoError(t, workorders.ValidateArticle(&other))
	_, err = f.ops.CreateArticle(ctx, other)
	require.NoError(t, err)

	// A new order with the same failure mode gets it suggested.
	o2, err := f.svc.CreateOrder(ctx, f.admin, workorders.NewOrder{AssetID: f.asset.ID, Title: "Vibration high on pump",
		FailureMode: "bearing_wear"})
	require.NoError(t, err)
	sug, err := kb.Suggest(ctx, o2, 5)
	require.NoError(t, err)
	require.NotEmpty(t, sug)
	require.Equal(t, a.ID, sug[0].ID)
	require.Greater(t, sug[0].Score, 0.0)
	require.NotContains(t, titles(sug), other.Title, "two-letter words match whole words, not inside others")

	// Searched for, a two-letter word matches whole words only.
	got, err := kb.Search(ctx, "on", "", 10)
	require.NoError(t, err)
	require.NotContains(t, titles(got), other.Title)
	got, err = kb.Search(ctx, "at", "", 10)
	require.NoError(t, err)
	require.Contains(t, titles(got), other.Title, "'At the station' has the word")
}
