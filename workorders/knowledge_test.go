package workorders

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSearchTerms(t *testing.T) {
	tests := []struct {
		q    string
		want []string
	}{
		{"Bearing  overheating!", []string{"bearing", "overheating"}},
		{"轴承振动", []string{"轴承振动", "轴承", "承振", "振动"}},
		{"BRG-6205轴承", []string{"brg-6205", "轴承"}},
		{"振动 pump", []string{"振动", "pump"}},
		{"   ", nil},
		{"a a a", []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			require.Equal(t, tt.want, SearchTerms(tt.q))
		})
	}
	long := ""
	for range 100 {
		long += "轴承振动过大 "
	}
	require.LessOrEqual(t, len(SearchTerms(long+"x y z w v u")), 32)
}

func TestValidateArticle(t *testing.T) {
	a := Article{Title: " t ", Body: "b", Tags: []string{" x ", ""}}
	require.NoError(t, ValidateArticle(&a))
	require.Equal(t, "t", a.Title)
	require.Equal(t, []string{"x"}, a.Tags)
	require.Equal(t, []string{}, a.FailureModes)
	require.Error(t, ValidateArticle(&Article{Title: "", Body: "b"}))
	require.Error(t, ValidateArticle(&Article{Title: "t", Body: " "}))
}
