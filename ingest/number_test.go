package ingest

import (
	"math"
	"strconv"
	"testing"
)

func TestParseNumber(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "-1", "2.31", "71.2", "0.1", "1e3", "-1E-3", "123456789012345", "1234567890123456789",
		"0.000001", "1.7976931348623157e308", "1e999", "4.9e-324", "1e-400", "00012.5000", "1.5e22", "1.5e23", "3.14159265358979",
		"9007199254740993", "0.30000000000000004", "+5", "1.", ".5", "1e", "abc", "-", ""} {
		want, werr := strconv.ParseFloat(s, 64)
		got, gerr := parseNumber([]byte(s))
		if (werr == nil) != (gerr == nil) || (werr == nil && math.Float64bits(got) != math.Float64bits(want)) {
			if werr != nil && gerr != nil {
				continue
			}
			if werr != nil && math.IsInf(want, 0) && math.IsInf(got, 0) {
				continue
			}
			t.Errorf("parseNumber(%q) = %v, %v; want %v, %v", s, got, gerr, want, werr)
		}
	}
}

func FuzzParseNumber(f *testing.F) {
	f.Add("2.31")
	f.Fuzz(func(t *testing.T, s string) {
		want, werr := strconv.ParseFloat(s, 64)
		got, gerr := parseNumber([]byte(s))
		if werr == nil && gerr == nil && math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseNumber(%q) = %v, want %v", s, got, want)
		}
		if werr == nil && gerr != nil {
			t.Fatalf("parseNumber(%q) failed: %v", s, gerr)
		}
	})
}
