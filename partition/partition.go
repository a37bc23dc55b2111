// Package partition splits detection across replicas of pdm: every asset
// belongs to one of N hash partitions, every partition is owned by one
// replica at a time through a lease (LeaseStore, PostgreSQL in cmd), and
// readings reach their partition's owner on a per-partition stream
// (ingest republishes them after the InfluxDB write). An Owner keeps the
// rules engine's state for the partitions its replica holds: it rebuilds
// a partition from history when it gains it and forgets it when it loses
// it, so the `for` timers, hysteresis and prediction windows of an asset
// always see all of its readings, whichever replica received them.
package partition

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// Of returns the partition (0..n-1) of an asset, by its codes in topics. It
// is stable across processes and versions: changing it moves every asset.
func Of(site, asset string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(site))
	h.Write([]byte{'/'})
	h.Write([]byte(asset))
	return int(h.Sum32() % uint32(n))
}

// TopicSegment is the topic level under the root that carries partition
// streams: {root}/_p/{n}. It cannot clash with a site code followed by an
// asset code and a kind, since partition topics have one level less.
const TopicSegment = "_p"

// Topic returns the MQTT topic of partition p's stream.
func Topic(root string, p int) string {
	return root + "/" + TopicSegment + "/" + strconv.Itoa(p)
}

// ParseTopic returns the partition of a stream topic.
func ParseTopic(root, topic string) (int, bool) {
	rest, ok := strings.CutPrefix(topic, root+"/"+TopicSegment+"/")
	if !ok {
		return 0, false
	}
	p, err := strconv.Atoi(rest)
	return p, err == nil && p >= 0
}

// OwnerOf returns the member that should own partition p among the live
// members (rendezvous hashing: each partition goes to the member with the
// highest hash of the pair, so a member joining or leaving moves only the
// partitions it takes or held). It returns "" when there are no members.
func OwnerOf(members []string, p int) string {
	best, bestH := "", uint64(0)
	for _, m := range members {
		h := fnv.New64a()
		h.Write([]byte(m))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(p)))
		// Mix: FNV's high bits move little for similar member names.
		x := h.Sum64()
		x ^= x >> 33
		x *= 0xff51afd7ed558ccd
		x ^= x >> 33
		if best == "" || x > bestH || (x == bestH && m < best) {
			best, bestH = m, x
		}
	}
	return best
}
