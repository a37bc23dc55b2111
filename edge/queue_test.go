package edge

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openpdm/pdm/ingest"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func testReading(asset string, ts int64, v float64) Item {
	return Item{Reading: ingest.Reading{
		Site: "s1", Asset: asset, TS: time.UnixMilli(ts).UTC(),
		Metrics: []ingest.Metric{{Name: "vibration_rms", Value: v}, {Name: "bearing_temp_c", Value: v * 10}},
	}}
}

func openTestQueue(t testing.TB, max int64) (*Queue, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "q.db")
	q, err := OpenQueue(path, max)
	require.NoError(t, err)
	t.Cleanup(func() { q.Close() })
	return q, path
}

func TestQueueFIFO(t *testing.T) {
	q, _ := openTestQueue(t, 1<<20)
	var items []Item
	for i := range 10 {
		items = append(items, testReading("a1", int64(1000+i), float64(i)))
	}
	items = append(items, Item{IsEvent: true, Event: Event{Site: "s1", Asset: "a1", TS: time.UnixMilli(2000).UTC(), Code: "E1", Severity: "critical", Message: "hot \"é\""}})
	dropped, err := q.Append(items)
	require.NoError(t, err)
	require.Zero(t, dropped)
	require.Equal(t, int64(11), q.Stats().Items)

	got, err := q.Peek(0, 100)
	require.NoError(t, err)
	require.Len(t, got, 11)
	for i := range got {
		require.Equal(t, items[i].Key, got[i].Key)
		require.Equal(t, items[i].IsEvent, got[i].IsEvent)
		if got[i].IsEvent {
			require.Equal(t, items[i].Event, got[i].Event)
		} else {
			require.Equal(t, items[i].Reading, got[i].Reading)
		}
	}
	after, err := q.Peek(got[4].Key, 3)
	require.NoError(t, err)
	require.Equal(t, []uint64{got[5].Key, got[6].Key, got[7].Key}, []uint64{after[0].Key, after[1].Key, after[2].Key})

	// Delete out of order and twice: only present items count.
	require.NoError(t, q.Delete([]uint64{got[1].Key, got[0].Key, got[0].Key}, 7))
	require.Equal(t, int64(9), q.Stats().Items)
	require.Equal(t, uint64(7), q.Seq())
	rest, err := q.Peek(0, 100)
	require.NoError(t, err)
	require.Equal(t, got[2].Key, rest[0].Key)

	var keys []uint64
	for _, it := range rest {
		keys = append(keys, it.Key)
	}
	require.NoError(t, q.Delete(keys, 0))
	s := q.Stats()
	require.Equal(t, QueueStats{}, s, "empty queue has zero items and bytes")
	require.Equal(t, uint64(7), q.Seq(), "seq 0 leaves the recorded seq")
}

func TestQueueBoundDropsOldest(t *testing.T) {
	q, path := openTestQueue(t, 4096)
	one := testReading("a1", 0, 0)
	size := int64(len(encodeItem(nil, &one)) + 8)
	var total int64
	var all []Item
	for i := range 200 {
		it := []Item{testReading("a1", int64(i), float64(i))}
		d, err := q.Append(it)
		require.NoError(t, err)
		total += d
		all = append(all, it[0])
	}
	s := q.Stats()
	require.LessOrEqual(t, s.Bytes, int64(4096))
	require.Greater(t, s.Bytes, int64(4096)-size, "drops no more than needed")
	require.Equal(t, int64(200), s.Items+s.Dropped, "every item is either kept or counted as dropped")
	require.Equal(t, total, s.Dropped)

	got, err := q.Peek(0, 1000)
	require.NoError(t, err)
	require.Len(t, got, int(s.Items))
	// What is left is exactly the newest items.
	for i, it := range got {
		want := all[len(all)-len(got)+i]
		require.Equal(t, want.Key, it.Key)
		require.Equal(t, want.Reading.TS, it.Reading.TS)
	}

	// Counters survive a reopen, and a smaller bound trims at once.
	require.NoError(t, q.Close())
	q2, err := OpenQueue(path, 2048)
	require.NoError(t, err)
	defer q2.Close()
	s2 := q2.Stats()
	require.LessOrEqual(t, s2.Bytes, int64(2048))
	require.Equal(t, int64(200), s2.Items+s2.Dropped)
	got2, err := q2.Peek(0, 1000)
	require.NoError(t, err)
	require.Equal(t, all[len(all)-1].Key, got2[len(got2)-1].Key)
}

func TestQueueRejectsBadBound(t *testing.T) {
	_, err := OpenQueue(filepath.Join(t.TempDir(), "q.db"), 0)
	require.Error(t, err)
}

func TestDecodeItemCorrupt(t *testing.T) {
	it := testReading("a1", 5, 1)
	b := encodeItem(nil, &it)
	for n := range len(b) {
		_, err := decodeItem(b[:n])
		require.Error(t, err, "truncated at %d", n)
	}
	_, err := decodeItem([]byte{9, 1, 2})
	require.Error(t, err)
}

// TestQueueSurvivesSIGKILL runs a child process that appends items as fast
// as it can and prints each key once Append returned; the test kills it with
// SIGKILL mid-stream and checks every acknowledged item is in the reopened
// queue.
func TestQueueSurvivesSIGKILL(t *testing.T) {
	if os.Getenv("PDM_EDGE_QUEUE_CHILD") != "" {
		queueChild()
		return
	}
	path := filepath.Join(t.TempDir(), "q.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestQueueSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), "PDM_EDGE_QUEUE_CHILD="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	var acked []uint64
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "acked ") {
			continue
		}
		k, err := strconv.ParseUint(strings.TrimPrefix(line, "acked "), 10, 64)
		require.NoError(t, err)
		acked = append(acked, k)
		if len(acked) == 100 {
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			break
		}
	}
	_ = cmd.Wait()
	require.Len(t, acked, 100)

	q, err := OpenQueue(path, 1<<30)
	require.NoError(t, err)
	defer q.Close()
	items, err := q.Peek(0, 1<<20)
	require.NoError(t, err)
	have := map[uint64]bool{}
	for i, it := range items {
		have[it.Key] = true
		require.Equal(t, "a1", it.Reading.Asset)
		if i > 0 {
			require.Greater(t, it.Key, items[i-1].Key)
		}
	}
	for _, k := range acked {
		require.True(t, have[k], "acknowledged item %d lost after SIGKILL", k)
	}
	require.Equal(t, int64(len(items)), q.Stats().Items, "counters match the items after SIGKILL")
}

func queueChild() {
	q, err := OpenQueue(os.Getenv("PDM_EDGE_QUEUE_CHILD"), 1<<30)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		items := []Item{testReading("a1", int64(i), float64(i))}
		if _, err := q.Append(items); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("acked", items[0].Key)
	}
}

func TestQueueDropsDamagedItems(t *testing.T) {
	q, _ := openTestQueue(t, 1<<20)
	items := []Item{testReading("a1", 1, 1), testReading("a1", 2, 2), testReading("a1", 3, 3)}
	_, err := q.Append(items)
	require.NoError(t, err)
	// Damage the middle item on disk.
	require.NoError(t, q.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketItems).Put(binary.BigEndian.AppendUint64(nil, items[1].Key), []byte{kindReading, 200})
	}))
	got, err := q.Peek(0, 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, items[0].Key, got[0].Key)
	require.Equal(t, items[2].Key, got[1].Key)
	s := q.Stats()
	require.Equal(t, int64(2), s.Items)
	require.Equal(t, int64(1), s.Dropped, "a damaged item is counted as dropped")
}
