package keyrate

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBurstPerKeyThenRefused(t *testing.T) {
	l := New(0.001, 2) // one token in 1,000 s: nothing refills during the test
	require.True(t, l.Allow("a"))
	require.True(t, l.Allow("a"))
	require.False(t, l.Allow("a"), "the third event within the burst window is refused")
	require.True(t, l.Allow("b"), "another key has its own bucket")
}

func TestForgetsEveryKeyAtTheBound(t *testing.T) {
	l := New(0.001, 1)
	require.True(t, l.Allow("first"))
	require.False(t, l.Allow("first"))
	for i := range maxKeys - 1 {
		l.Allow(fmt.Sprint("k", i))
	}
	require.Len(t, l.m, maxKeys)
	require.True(t, l.Allow("new"), "at the bound the buckets are dropped and a new key starts full")
	require.Len(t, l.m, 1)
	require.True(t, l.Allow("first"), "a forgotten key starts with a full bucket again")
}
