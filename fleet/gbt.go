package fleet

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Tree is one regression tree of a boosted ensemble, its nodes in an
// array: a node with Leaf true answers Value, else goes Left when
// feature Feature is at most Threshold (or NaN), Right otherwise.
type Tree struct {
	Feature   []int     `json:"f"`
	Threshold []float64 `json:"t"`
	Left      []int     `json:"l"`
	Right     []int     `json:"r"`
	Value     []float64 `json:"v"`
}

func (t *Tree) predict(x []float64) float64 {
	n := 0
	for t.Left[n] >= 0 {
		if v := x[t.Feature[n]]; v <= t.Threshold[n] || math.IsNaN(v) {
			n = t.Left[n]
		} else {
			n = t.Right[n]
		}
	}
	return t.Value[n]
}

// GBTOptions tune the gradient-boosted trees.
type GBTOptions struct {
	Rounds    int     // trees (default 150)
	Depth     int     // levels of each tree (default 4)
	Rate      float64 // learning rate (default 0.1)
	MinLeaf   int     // fewest points in a leaf (default 40)
	Subsample float64 // share of the points each tree sees (default 0.3)
	Bins      int     // quantile bins per feature (default 32)
	Features  float64 // share of the features each tree may split on (default 0.3)
}

func (o GBTOptions) withDefaults() GBTOptions {
	if o.Rounds <= 0 {
		o.Rounds = 150
	}
	if o.Depth <= 0 {
		o.Depth = 4
	}
	if o.Rate <= 0 {
		o.Rate = 0.1
	}
	if o.MinLeaf <= 0 {
		o.MinLeaf = 40
	}
	if o.Subsample <= 0 || o.Subsample > 1 {
		o.Subsample = 0.3
	}
	if o.Features <= 0 || o.Features > 1 {
		o.Features = 0.3
	}
	if o.Bins < 2 || o.Bins > 255 {
		o.Bins = 32
	}
	return o
}

// gbtBase is the binned training set shared by every tree.
type gbtBase struct {
	bins  [][]uint8   // per point, per feature
	edges [][]float64 // per feature, the bins' upper edges
	w     int
}

func newGBTBase(x [][]float64, nb int) *gbtBase {
	n, w := len(x), len(x[0])
	b := &gbtBase{w: w, edges: make([][]float64, w), bins: make([][]uint8, n)}
	flat := make([]uint8, n*w)
	for i := range b.bins {
		b.bins[i] = flat[i*w : (i+1)*w]
	}
	col := make([]float64, 0, n)
	for j := range w {
		col = col[:0]
		for _, r := range x {
			if !math.IsNaN(r[j]) {
				col = append(col, r[j])
			}
		}
		slices.Sort(col)
		var e []float64
		for q := 1; q < nb && len(col) > 0; q++ {
			v := col[min(len(col)-1, q*len(col)/nb)]
			if len(e) == 0 || v > e[len(e)-1] {
				e = append(e, v)
			}
		}
		b.edges[j] = e
		for i, r := range x {
			v := r[j]
			if math.IsNaN(v) {
				b.bins[i][j] = 0
				continue
			}
			k, _ := slices.BinarySearch(e, v) // first edge >= v
			b.bins[i][j] = uint8(k)
		}
	}
	return b
}

// fitGBT boosts regression trees on squared error: y ≈ base + Σ trees.
func fitGBT(x [][]float64, y []float64, o GBTOptions, seed uint64) (float64, []Tree) {
	o = o.withDefaults()
	b := newGBTBase(x, o.Bins)
	n := len(y)
	base := 0.0
	for _, v := range y {
		base += v
	}
	base /= float64(n)
	pred := make([]float64, n)
	for i := range pred {
		pred[i] = base
	}
	res := make([]float64, n)
	r := rand.New(rand.NewPCG(seed, 0x9b7))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	trees := make([]Tree, 0, o.Rounds)
	g := &grower{b: b, o: o}
	all := make([]int, b.w)
	for j := range all {
		all[j] = j
	}
	for range o.Rounds {
		r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		g.feats = slices.Clone(all[:max(1, int(o.Features*float64(len(all))))])
		slices.Sort(g.feats)
		for i := range res {
			res[i] = y[i] - pred[i]
		}
		r.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		sub := slices.Clone(idx[:max(2*o.MinLeaf, int(o.Subsample*float64(n)))])
		t := g.grow(sub, res)
		for i, row := range x {
			pred[i] += t.predict(row)
		}
		trees = append(trees, t)
	}
	return base, trees
}

// hbin is a histogram bin: the residuals' sum and count.
type hbin struct{ s, c float64 }

type grower struct {
	b     *gbtBase
	o     GBTOptions
	h     []hbin   // the node's histogram per feature and bin
	bufs  [][]hbin // histograms per depth and side
	feats []int    // the features this tree may split on
	t     Tree
}

func (g *grower) grow(pts []int, res []float64) Tree {
	g.t = Tree{}
	g.node(pts, res, 0, nil)
	return g.t
}

func (g *grower) leaf(pts []int, res []float64) int {
	var s float64
	for _, i := range pts {
		s += res[i]
	}
	id := len(g.t.Value)
	g.t.Feature = append(g.t.Feature, -1)
	g.t.Threshold = append(g.t.Threshold, 0)
	g.t.Left = append(g.t.Left, -1)
	g.t.Right = append(g.t.Right, -1)
	g.t.Value = append(g.t.Value, g.o.Rate*s/float64(max(1, len(pts))))
	return id
}

// hist fills h with the histogram of pts over the tree's features.
func (g *grower) hist(h []hbin, pts []int, res []float64) {
	for _, j := range g.feats {
		clear(h[j<<8 : j<<8+len(g.b.edges[j])+1])
	}
	for _, i := range pts {
		r := res[i]
		bi := g.b.bins[i]
		for _, j := range g.feats {
			hb := &h[j<<8|int(bi[j])]
			hb.s += r
			hb.c++
		}
	}
}

// buf is the histogram buffer side (0, 1) of a depth.
func (g *grower) buf(depth, side int) []hbin {
	for len(g.bufs) <= 2*depth+side {
		g.bufs = append(g.bufs, make([]hbin, g.b.w*256))
	}
	return g.bufs[2*depth+side]
}

// node grows the subtree of pts, whose histogram is h (nil: none yet),
// and returns its id. A split's smaller side's histogram is counted, the
// larger's is the parent's less it.
func (g *grower) node(pts []int, res []float64, depth int, h []hbin) int {
	if depth >= g.o.Depth || len(pts) < 2*g.o.MinLeaf {
		return g.leaf(pts, res)
	}
	if h == nil {
		h = g.buf(depth, 0)
		g.hist(h, pts, res)
	}
	g.h = h
	var total float64
	for _, i := range pts {
		total += res[i]
	}
	n := float64(len(pts))
	bestGain, bestF, bestK := 1e-9, -1, 0
	parent := total * total / n
	minLeaf := float64(g.o.MinLeaf)
	for _, j := range g.feats {
		nb := len(g.b.edges[j]) + 1
		var ls, lc float64
		for k := 0; k < nb-1; k++ {
			ls += g.h[j<<8|k].s
			lc += g.h[j<<8|k].c
			rc := n - lc
			if lc < minLeaf {
				continue
			}
			if rc < minLeaf {
				break
			}
			rs := total - ls
			if gain := ls*ls/lc + rs*rs/rc - parent; gain > bestGain {
				bestGain, bestF, bestK = gain, j, k
			}
		}
	}
	if bestF < 0 {
		return g.leaf(pts, res)
	}
	var left, right []int
	for _, i := range pts {
		if int(g.b.bins[i][bestF]) <= bestK {
			left = append(left, i)
		} else {
			right = append(right, i)
		}
	}
	id := len(g.t.Value)
	g.t.Feature = append(g.t.Feature, bestF)
	g.t.Threshold = append(g.t.Threshold, g.b.edges[bestF][bestK])
	g.t.Left = append(g.t.Left, 0)
	g.t.Right = append(g.t.Right, 0)
	g.t.Value = append(g.t.Value, 0)
	var lh, rh []hbin
	if depth+1 < g.o.Depth {
		small, sh, bh := left, g.buf(depth+1, 0), g.buf(depth+1, 1)
		lh, rh = sh, bh
		if len(right) < len(left) {
			small, lh, rh = right, bh, sh
		}
		g.hist(sh, small, res)
		for _, j := range g.feats {
			for k := j << 8; k < j<<8+len(g.b.edges[j])+1; k++ {
				bh[k] = hbin{h[k].s - sh[k].s, h[k].c - sh[k].c}
			}
		}
	}
	l := g.node(left, res, depth+1, lh)
	r := g.node(right, res, depth+1, rh)
	g.t.Left[id], g.t.Right[id] = l, r
	return id
}
