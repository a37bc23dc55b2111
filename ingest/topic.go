package ingest

import "strings"

// Kind is what a topic carries.
type Kind int

// Topic kinds.
const (
	KindUnknown Kind = iota
	KindTelemetry
	KindEvent
)

// ParseTopic splits {root}/{site}/{asset}/telemetry|event. It returns
// KindUnknown when the topic does not have that shape under root; site and
// asset are not validated here.
func ParseTopic(root, topic string) (site, asset string, kind Kind) {
	if len(topic) <= len(root)+1 || topic[:len(root)] != root || topic[len(root)] != '/' {
		return "", "", KindUnknown
	}
	rest := topic[len(root)+1:]
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return "", "", KindUnknown
	}
	j := strings.IndexByte(rest[i+1:], '/')
	if j < 0 {
		return "", "", KindUnknown
	}
	site, asset = rest[:i], rest[i+1:i+1+j]
	switch rest[i+2+j:] {
	case "telemetry":
		kind = KindTelemetry
	case "event":
		kind = KindEvent
	}
	return site, asset, kind
}

// Subscriptions returns the topic filters ingest subscribes to: telemetry
// and device events under root, as a shared subscription of shareGroup when
// it is not empty ($share/{group}/{root}/+/+/telemetry) so replicas split
// the stream.
func Subscriptions(root, shareGroup string) []string {
	t := []string{root + "/+/+/telemetry", root + "/+/+/event"}
	if shareGroup != "" {
		for i := range t {
			t[i] = "$share/" + shareGroup + "/" + t[i]
		}
	}
	return t
}
