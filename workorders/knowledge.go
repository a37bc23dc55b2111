package workorders

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Article is a knowledge-base article: how a failure was found and fixed.
type Article struct {
	ID            string    `json:"id"`
	Title         string    `json:"title"`
	Body          string    `json:"body"`
	FailureModes  []string  `json:"failure_modes"`
	AssetTypes    []string  `json:"asset_types"`
	Tags          []string  `json:"tags"`
	SourceOrderID *string   `json:"source_order_id"`
	CreatedBy     *string   `json:"created_by"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// Score is the search relevance (search and suggestions only).
	Score float64 `json:"score,omitempty"`
}

// ValidateArticle checks an article and normalises its lists.
func ValidateArticle(a *Article) error {
	a.Title = strings.TrimSpace(a.Title)
	if a.Title == "" || utf8.RuneCountInString(a.Title) > 300 {
		return Invalid("title", "required, at most 300 characters")
	}
	if strings.TrimSpace(a.Body) == "" {
		return Invalid("body", "required")
	}
	if len(a.Body) > 1<<20 {
		return Invalid("body", "at most 1 MiB")
	}
	for _, l := range []*[]string{&a.FailureModes, &a.AssetTypes, &a.Tags} {
		out := []string{}
		for _, v := range *l {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			if len(v) > 100 {
				return Invalid("tags", "each entry at most 100 characters")
			}
			out = append(out, v)
		}
		*l = out
	}
	return nil
}

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// SearchTerms turns a query into lower-case search terms: words of
// letters and digits, and for runs of CJK characters (written without
// spaces) the run itself plus its overlapping two-character pieces, so
// "轴承振动过大" finds an article that says "轴承振动" or "振动过大".
// It returns at most 32 terms.
func SearchTerms(q string) []string {
	var terms []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] && len(terms) < 32 {
			seen[s] = true
			terms = append(terms, s)
		}
	}
	const (
		other = iota
		word
		cjk
	)
	var run []rune
	kind := other
	flush := func() {
		switch kind {
		case word:
			add(string(run))
		case cjk:
			add(string(run))
			for i := 0; i+1 < len(run); i++ {
				add(string(run[i : i+2]))
			}
		}
		run = run[:0]
	}
	for _, r := range strings.ToLower(q) {
		k := other
		switch {
		case isCJK(r):
			k = cjk
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.':
			k = word
		}
		if k != kind {
			flush()
			kind = k
		}
		if k != other {
			run = append(run, r)
		}
	}
	flush()
	return terms
}

// ShortTerm reports whether t is a word of fewer than three letters or
// digits with no Chinese in it ("on", "at", "p1"): too short for trigram
// matching, so stores match it only as a whole word, never inside others.
func ShortTerm(t string) bool {
	n := 0
	for _, r := range t {
		if isCJK(r) {
			return false
		}
		n++
	}
	return n < 3
}

// stopWords are English words that say nothing about a fault; an order's
// title full of them must not pull in every article that uses them.
var stopWords = map[string]bool{
	"the": true, "and": true, "for": true, "with": true, "from": true, "into": true, "over": true,
	"after": true, "before": true, "than": true, "this": true, "that": true, "are": true, "was": true,
	"has": true, "have": true, "not": true, "its": true, "via": true, "per": true, "new": true,
}

// SignificantTerm reports whether a search term of an order's title says
// something about the fault: not a stop word, not a short word.
func SignificantTerm(t string) bool {
	return !ShortTerm(t) && !stopWords[t]
}

// KnowledgeStore is the persistence of the knowledge base; postgres.Ops
// implements it. SearchArticles ranks by how many terms an article
// matches (substring or trigram word similarity), boosted by a shared
// failure mode; it returns at most limit articles.
type KnowledgeStore interface {
	CreateArticle(ctx context.Context, a Article) (Article, error)
	GetArticle(ctx context.Context, id string) (Article, error)
	ListArticles(ctx context.Context, failureMode string, p Page) ([]Article, string, error)
	UpdateArticle(ctx context.Context, a Article) (Article, error)
	DeleteArticle(ctx context.Context, id string) error
	SearchArticles(ctx context.Context, terms, failureModes []string, limit int) ([]Article, error)
}

// Knowledge is the knowledge base: search, suggestions for an order, and
// articles made from completed orders' resolutions.
type Knowledge struct {
	core  knowledgeCore
	store KnowledgeStore
}

// knowledgeCore is what suggestions read of the ticket core.
type knowledgeCore interface {
	GetOrder(ctx context.Context, id string) (Order, error)
	GetAsset(ctx context.Context, id string) (Asset, error)
}

// NewKnowledge returns the knowledge base over the ticket core and store.
func NewKnowledge(svc *Service, store KnowledgeStore) *Knowledge {
	return &Knowledge{core: svc.Store, store: store}
}

// Store returns the underlying store (CRUD goes straight to it).
func (k *Knowledge) Store() KnowledgeStore { return k.store }

// Search finds articles for a free-text query (Chinese or English),
// optionally limited to a failure mode.
func (k *Knowledge) Search(ctx context.Context, q, failureMode string, limit int) ([]Article, error) {
	terms := SearchTerms(q)
	var modes []string
	if failureMode != "" {
		modes = []string{failureMode}
	}
	if len(terms) == 0 && len(modes) == 0 {
		return []Article{}, nil
	}
	return k.store.SearchArticles(ctx, terms, modes, limit)
}

// Suggest returns articles for an order: same failure mode first, then
// articles whose text matches the order's title and failure mode.
func (k *Knowledge) Suggest(ctx context.Context, o Order, limit int) ([]Article, error) {
	var terms []string
	for _, t := range SearchTerms(o.Title + " " + strings.ReplaceAll(o.FailureMode, "_", " ")) {
		if SignificantTerm(t) {
			terms = append(terms, t)
		}
	}
	var modes []string
	if o.FailureMode != "" {
		modes = []string{o.FailureMode}
	}
	if len(terms) == 0 && len(modes) == 0 {
		return []Article{}, nil
	}
	return k.store.SearchArticles(ctx, terms, modes, limit)
}

// SaveResolution turns a completed (or verified, closed) order's
// resolution into an article tagged with its failure mode and asset type.
// An order gives at most one article (ErrConflict the second time).
func (k *Knowledge) SaveResolution(ctx context.Context, orderID string, actor Actor, title string, tags []string) (Article, error) {
	o, err := k.core.GetOrder(ctx, orderID)
	if err != nil {
		return Article{}, err
	}
	switch o.Status {
	case StatusCompleted, StatusVerified, StatusClosed:
	default:
		return Article{}, fmt.Errorf("%w: only a completed order's resolution can be saved (order is %s)", ErrIllegalTransition, o.Status)
	}
	if strings.TrimSpace(o.Resolution) == "" {
		return Article{}, Unprocessable("resolution", "the order has no resolution notes")
	}
	a := Article{Title: title, FailureModes: []string{}, Tags: tags, SourceOrderID: &o.ID, CreatedBy: actor.ID}
	if strings.TrimSpace(a.Title) == "" {
		a.Title = o.Title
	}
	if o.FailureMode != "" {
		a.FailureModes = []string{o.FailureMode}
	}
	if asset, err := k.core.GetAsset(ctx, o.AssetID); err == nil && asset.Type != "" {
		a.AssetTypes = []string{asset.Type}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nResolution (%s):\n%s\n", o.Title, o.Number, o.Resolution)
	if len(o.PartsUsed) > 0 {
		b.WriteString("\nParts used:\n")
		for _, p := range o.PartsUsed {
			fmt.Fprintf(&b, "- %s × %d\n", p.SKU, p.Qty)
		}
	}
	if o.LabourTime > 0 {
		fmt.Fprintf(&b, "\nLabour: %s\n", o.LabourTime)
	}
	a.Body = b.String()
	if err := ValidateArticle(&a); err != nil {
		return Article{}, err
	}
	return k.store.CreateArticle(ctx, a)
}
