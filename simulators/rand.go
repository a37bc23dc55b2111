package simulators

import "math"

// The models draw all randomness from a counter-based hash of (seed, asset,
// metric, time) instead of a stateful generator, so a value at a given time
// is the same whoever asks, in whatever order, as often as they ask.

// mix is the splitmix64 finaliser: a bijective avalanche on 64 bits.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hash combines a key with further words.
func hash(key uint64, words ...uint64) uint64 {
	h := mix(key)
	for _, w := range words {
		h = mix(h ^ w)
	}
	return h
}

// hashString is FNV-1a, used once per asset and metric name.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// gauss maps a hash to a standard normal value (Box-Muller).
func gauss(h uint64) float64 {
	u1 := unit(mix(h ^ 0x5bd1e995))
	u2 := unit(mix(h ^ 0x1b873593))
	if u1 < 1e-300 {
		u1 = 1e-300
	}
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// valueNoise is smooth noise in [-1, 1]: random values at knots k*period,
// cosine-interpolated in between. x is time in units of period.
func valueNoise(key uint64, x float64) float64 {
	k := math.Floor(x)
	f := x - k
	a := 2*unit(hash(key, uint64(int64(k)))) - 1
	b := 2*unit(hash(key, uint64(int64(k)+1))) - 1
	w := (1 - math.Cos(math.Pi*f)) / 2
	return a*(1-w) + b*w
}
