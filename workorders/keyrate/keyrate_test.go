package keyrate

import (
	"fmt"
	"testing"
	"time"

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

func TestForgetsOnlyIdleKeysAtTheBound(t *testing.T) {
	l := New(1, 2) // a key unused for 2 s has a full bucket again
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	require.True(t, l.AllowAt("busy", t0))
	require.True(t, l.AllowAt("busy", t0))
	require.False(t, l.AllowAt("busy", t0))
	for i := range maxKeys - 1 {
		l.AllowAt(fmt.Sprint("k", i), t0.Add(-time.Minute)) // idle for a minute by t0
	}
	require.Len(t, l.m, maxKeys)
	require.True(t, l.AllowAt("new", t0))
	require.Len(t, l.m, 2, "the idle keys went, the busy one stayed")
	require.True(t, l.Blocked("busy", t0), "the busy key keeps its empty bucket")
	require.False(t, l.Blocked("busy", t0.Add(time.Second)), "and refills at its rate")
}

func TestBlockedSpendsNothing(t *testing.T) {
	l := New(0.001, 1)
	t0 := time.Now()
	for range 3 {
		require.False(t, l.Blocked("a", t0))
	}
	require.True(t, l.AllowAt("a", t0))
	require.True(t, l.Blocked("a", t0))
}
