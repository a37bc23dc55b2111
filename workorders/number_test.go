package workorders

import (
	"fmt"
	"testing"
)

func TestFormatNumberPadsLikeSprintf(t *testing.T) {
	for _, n := range []int64{0, 1, 9, 10, 99999, 100000, 999999, 1000000, 1234567890, 1<<63 - 1, -1, -123456} {
		if got, want := FormatNumber(n), fmt.Sprintf("WO-%06d", n); got != want {
			t.Errorf("FormatNumber(%d) = %q, want %q", n, got, want)
		}
	}
}
