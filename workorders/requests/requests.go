// Package requests owns customers' requests: intake from the public form,
// the API and email, each becoming a work order with source `request`; the
// requester and the unguessable status link that lets them follow their
// order without an account; what a customer may see of an order (and
// nothing internal); merging a request into another open order of the same
// asset, links between related orders, and the one-per-order survey.
// Persistence sits behind Store (workorders/postgres implements it); the
// order's state changes only through the life cycle (workorders.Service).
package requests

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/openpdm/pdm/workorders"
)

// Channel is how a request arrived.
type Channel string

// Channels.
const (
	ChannelForm  Channel = "form"
	ChannelAPI   Channel = "api"
	ChannelEmail Channel = "email"
)

// Limits of one request.
const (
	MaxPhotos       = 5
	MaxPhotoBytes   = 8 << 20
	maxTitle        = 200
	maxDescription  = 5000
	maxName         = 200
	maxEmail        = 254
	maxPhone        = 40
	maxExternalRef  = 200
	maxSurveyRemark = 2000
)

// Requester is who asked.
type Requester struct {
	Name   string `json:"name" schema:"maxLength=200"`
	Email  string `json:"email" schema:"maxLength=254"`
	Phone  string `json:"phone" schema:"maxLength=40"`
	Locale string `json:"locale" schema:"maxLength=10"`
}

// Photo is an uploaded picture; its type is taken from its content.
type Photo struct {
	Filename string
	Data     []byte
}

// Input is one request.
type Input struct {
	Channel Channel
	// AssetID (API) or SiteCode and AssetCode (form, email) name the asset.
	// A form for a whole site without an asset files the request against
	// the site's "unspecified" asset for the planner to sort out.
	AssetID     string
	SiteCode    string
	AssetCode   string
	Title       string
	Description string
	Priority    workorders.Priority
	Requester   Requester
	ExternalRef string
	Photos      []Photo
	ClientIP    string
	// MessageID is the Message-ID of the email a request came from.
	MessageID string
}

// Record is the stored request of an order.
type Record struct {
	OrderID     string            `json:"order_id"`
	Channel     Channel           `json:"channel"`
	Requester   Requester         `json:"requester"`
	ExternalRef string            `json:"external_ref"`
	ClientIP    string            `json:"-"`
	MessageID   string            `json:"-"`
	MergedInto  *string           `json:"merged_into"`
	CreatedAt   time.Time         `json:"created_at"`
	Order       *workorders.Order `json:"order,omitempty"`
}

// Created is the answer to a new request.
type Created struct {
	Order workorders.Order `json:"order"`
	// Token is the status link's token; StatusURL the link.
	Token     string `json:"-"`
	StatusURL string `json:"status_url"`
}

// ErrRateLimited: the address sent too many requests.
var ErrRateLimited = errors.New("too many requests")

// Store is the persistence requests need. Methods return
// workorders.ErrNotFound for missing records.
type Store interface {
	// CreateRequest inserts the order with its first event, the request
	// record, the status token and the photos in one transaction.
	CreateRequest(ctx context.Context, o workorders.Order, ev workorders.Event, r Record, token string, photos []workorders.Attachment) (workorders.Order, error)
	// SiteAsset resolves codes; assetCode "" resolves the site's
	// unspecified asset, creating it when needed.
	SiteAsset(ctx context.Context, siteCode, assetCode string) (Form, error)
	// PublicView returns what the token's holder may see, following merges.
	PublicView(ctx context.Context, token string) (View, error)
	// RevokeStatusTokens revokes every status link of an order and says how many.
	RevokeStatusTokens(ctx context.Context, orderID string) (int, error)
	// AddStatusToken adds a status link to an order.
	AddStatusToken(ctx context.Context, orderID, token string) error
	// MarkMerged records that request orderID now follows into.
	MarkMerged(ctx context.Context, orderID, into string) error
	// Link relates two orders (idempotent).
	Link(ctx context.Context, a, b, by string) error
	// Links lists the orders related to an order.
	Links(ctx context.Context, orderID string) ([]string, error)
	// SaveSurvey stores the one answer of an order; a second is ErrConflict.
	SaveSurvey(ctx context.Context, orderID string, score int, comment string) error
	// GetRequest returns an order's request record.
	GetRequest(ctx context.Context, orderID string) (Record, error)
	// ListRequests lists requests newest first, optionally only open ones.
	ListRequests(ctx context.Context, f Filter) ([]Record, string, error)
}

// Filter selects requests.
type Filter struct {
	Channel Channel
	Open    bool
	Page    workorders.Page
}

// Form is what a public form shows about where a request goes.
type Form struct {
	SiteID    string      `json:"-"`
	SiteCode  string      `json:"site_code" schema:"required"`
	SiteName  string      `json:"site_name" schema:"required"`
	AssetID   string      `json:"-"`
	AssetCode string      `json:"asset_code,omitempty"`
	AssetName string      `json:"asset_name,omitempty"`
	Assets    []FormAsset `json:"assets" schema:"required"`
}

// FormAsset is one asset a site form offers.
type FormAsset struct {
	Code string `json:"code" schema:"required"`
	Name string `json:"name" schema:"required"`
	Type string `json:"type" schema:"required"`
}

// orders is the part of the ticket core requests drive.
type orders interface {
	GetOrder(ctx context.Context, id string) (workorders.Order, error)
	Act(ctx context.Context, id string, req workorders.ActionRequest) (workorders.Order, error)
}

// Service takes requests in and answers customers.
type Service struct {
	store  Store
	orders orders
	now    func() time.Time
	log    *slog.Logger
	// OnCreated, when set, is called after a request is stored (for
	// notifications). It must not block long.
	OnCreated func(ctx context.Context, c Created, r Record)
}

// New returns a Service.
func New(store Store, orders orders, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, orders: orders, now: now, log: log}
}

// NewStatusToken returns a fresh unguessable status-link token (128 bits).
func NewStatusToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("status token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ValidToken reports whether s has the form of a status token, so that
// lookups of anything else cost nothing.
func ValidToken(s string) bool {
	if len(s) != 22 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Form resolves a public form's site (and asset) codes.
func (s *Service) Form(ctx context.Context, siteCode, assetCode string) (Form, error) {
	if !codeOK(siteCode) || (assetCode != "" && !codeOK(assetCode)) {
		return Form{}, fmt.Errorf("%w: no such site or asset", workorders.ErrNotFound)
	}
	return s.store.SiteAsset(ctx, siteCode, assetCode)
}

func codeOK(c string) bool {
	if c == "" || len(c) > 64 {
		return false
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// sniffPhoto returns a photo's content type from its bytes, or "" when it
// is not a picture a browser shows.
func sniffPhoto(b []byte) string {
	switch ct := http.DetectContentType(b); ct {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		return ct
	}
	return ""
}

// Check validates in (normalising it) and adds every problem to p.
func Check(in *Input, p *workorders.Problems) {
	check(in, p)
}

func check(in *Input, p *workorders.Problems) {
	in.Title = strings.TrimSpace(in.Title)
	in.Description = strings.TrimSpace(in.Description)
	in.Requester.Name = strings.TrimSpace(in.Requester.Name)
	in.Requester.Email = strings.TrimSpace(in.Requester.Email)
	in.Requester.Phone = strings.TrimSpace(in.Requester.Phone)
	text := func(field, v string, max int, required bool) {
		switch {
		case !utf8.ValidString(v):
			p.Add(field, "not valid UTF-8")
		case required && v == "":
			p.Add(field, "required")
		case utf8.RuneCountInString(v) > max:
			p.Add(field, "at most %d characters", max)
		case strings.ContainsFunc(v, func(r rune) bool { return r == 0 || (unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t') }):
			p.Add(field, "contains control characters")
		}
	}
	if in.Title == "" && in.Description != "" {
		in.Title = firstLine(in.Description, 80)
	}
	if in.Channel == ChannelForm {
		text("description", in.Description, maxDescription, true)
		text("title", in.Title, maxTitle, false)
	} else {
		text("title", in.Title, maxTitle, true)
		text("description", in.Description, maxDescription, false)
	}
	text("requester.name", in.Requester.Name, maxName, false)
	text("requester.phone", in.Requester.Phone, maxPhone, false)
	text("external_ref", in.ExternalRef, maxExternalRef, false)
	if in.Requester.Email != "" {
		if a, err := mail.ParseAddress(in.Requester.Email); err != nil || len(in.Requester.Email) > maxEmail || a.Address != in.Requester.Email {
			p.Add("requester.email", "must be an email address such as name@example.com")
		}
	}
	if in.Requester.Email == "" && in.Requester.Phone == "" && in.Channel == ChannelForm {
		p.Add("requester.email", "an email address or a phone number is required so that we can reach you")
	}
	switch in.Requester.Locale {
	case "":
		in.Requester.Locale = "en"
	case "en", "zh-CN":
	default:
		if strings.HasPrefix(strings.ToLower(in.Requester.Locale), "zh") {
			in.Requester.Locale = "zh-CN"
		} else {
			in.Requester.Locale = "en"
		}
	}
	if in.Priority == "" {
		in.Priority = workorders.P3
	}
	if !in.Priority.Valid() {
		p.Add("priority", "must be P1, P2, P3 or P4")
	}
	if len(in.Photos) > MaxPhotos {
		p.Add("photos", "at most %d photos", MaxPhotos)
	}
	for i, ph := range in.Photos {
		f := fmt.Sprintf("photos[%d]", i)
		switch {
		case len(ph.Data) == 0:
			p.Add(f, "empty file")
		case len(ph.Data) > MaxPhotoBytes:
			p.Add(f, "larger than %d MiB", MaxPhotoBytes>>20)
		case sniffPhoto(ph.Data) == "":
			p.Add(f, "not a JPEG, PNG, GIF or WebP picture")
		}
	}
}

func firstLine(s string, max int) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max-1]) + "…"
	}
	return s
}

func cleanFilename(n string) string {
	n = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, n)
	if n == "" {
		n = "photo"
	}
	if utf8.RuneCountInString(n) > 120 {
		n = string([]rune(n)[:120])
	}
	return n
}

// Create files a request as a proposed order with source request, its
// requester and a status link. Every invalid field is reported at once.
func (s *Service) Create(ctx context.Context, actor workorders.Actor, in Input) (Created, error) {
	var p workorders.Problems
	check(&in, &p)
	if err := p.Err(); err != nil {
		return Created{}, err
	}
	assetID := in.AssetID
	if assetID == "" {
		f, err := s.Form(ctx, in.SiteCode, in.AssetCode)
		if err != nil {
			return Created{}, err
		}
		assetID = f.AssetID
	}
	tok, err := NewStatusToken()
	if err != nil {
		return Created{}, err
	}
	now := s.now().UTC()
	due := now.Add(workorders.ResponseWindow(in.Priority))
	o := workorders.Order{
		AssetID: assetID, Title: in.Title, Description: in.Description, Source: workorders.SourceRequest,
		FailureMode: "", Priority: in.Priority, Status: workorders.StatusProposed, DueAt: &due,
		Evidence: []byte(`{}`),
	}
	photos := make([]workorders.Attachment, 0, len(in.Photos))
	for _, ph := range in.Photos {
		photos = append(photos, workorders.Attachment{
			AttachmentMeta: workorders.AttachmentMeta{Kind: "photo", Filename: cleanFilename(ph.Filename),
				ContentType: sniffPhoto(ph.Data), CreatedBy: actor.ID},
			Data: ph.Data,
		})
	}
	rec := Record{Channel: in.Channel, Requester: in.Requester, ExternalRef: in.ExternalRef, ClientIP: in.ClientIP,
		MessageID: in.MessageID}
	ev := workorders.Event{Type: workorders.EventCreated, ActorID: actor.ID, Actor: actor.Name, To: workorders.StatusProposed,
		Note: "request via " + string(in.Channel)}
	out, err := s.store.CreateRequest(ctx, o, ev, rec, tok, photos)
	if err != nil {
		return Created{}, err
	}
	rec.OrderID = out.ID
	rec.CreatedAt = out.CreatedAt
	c := Created{Order: out, Token: tok, StatusURL: "/s/" + tok}
	s.log.InfoContext(ctx, "request", "order_id", out.ID, "number", out.Number, "channel", in.Channel)
	if s.OnCreated != nil {
		s.OnCreated(ctx, c, rec)
	}
	return c, nil
}

// Merge merges request order id into the open order into of the same
// asset: id becomes merged and its requester follows into.
func (s *Service) Merge(ctx context.Context, actor workorders.Actor, id, into string) (workorders.Order, error) {
	if id == into {
		return workorders.Order{}, workorders.Unprocessable("into", "an order cannot be merged into itself")
	}
	src, err := s.orders.GetOrder(ctx, id)
	if err != nil {
		return workorders.Order{}, err
	}
	dst, err := s.orders.GetOrder(ctx, into)
	if errors.Is(err, workorders.ErrNotFound) {
		return workorders.Order{}, workorders.Unprocessable("into", "no such work order")
	}
	if err != nil {
		return workorders.Order{}, err
	}
	var p workorders.Problems
	if !dst.Status.Open() {
		p.AddSemantic("into", "%s is %s; merge into an open order", dst.Number, dst.Status)
	}
	if dst.AssetID != src.AssetID {
		p.AddSemantic("into", "%s is for another asset", dst.Number)
	}
	if err := p.Err(); err != nil {
		return workorders.Order{}, err
	}
	out, err := s.orders.Act(ctx, id, workorders.ActionRequest{Action: workorders.ActMerge, Actor: actor,
		MergeInto: dst.ID, Note: "merged into " + dst.Number})
	if err != nil {
		return workorders.Order{}, err
	}
	if err := s.store.MarkMerged(ctx, id, dst.ID); err != nil {
		return workorders.Order{}, fmt.Errorf("merge %s into %s: %w", src.Number, dst.Number, err)
	}
	return out, nil
}

// Link relates two orders.
func (s *Service) Link(ctx context.Context, actor workorders.Actor, a, b string) error {
	if a == b {
		return workorders.Unprocessable("order_id", "an order cannot be linked to itself")
	}
	if _, err := s.orders.GetOrder(ctx, a); err != nil {
		return err
	}
	if _, err := s.orders.GetOrder(ctx, b); errors.Is(err, workorders.ErrNotFound) {
		return workorders.Unprocessable("order_id", "no such work order")
	} else if err != nil {
		return err
	}
	return s.store.Link(ctx, a, b, actor.Name)
}

// Links lists the orders related to an order.
func (s *Service) Links(ctx context.Context, id string) ([]string, error) {
	return s.store.Links(ctx, id)
}

// Status returns what a status link shows; an unknown, malformed or
// revoked token is ErrNotFound and reveals nothing.
func (s *Service) Status(ctx context.Context, token string) (View, error) {
	if !ValidToken(token) {
		return View{}, workorders.ErrNotFound
	}
	return s.store.PublicView(ctx, token)
}

// NewLink revokes an order's status links and issues a new one.
func (s *Service) NewLink(ctx context.Context, orderID string) (string, error) {
	if _, err := s.orders.GetOrder(ctx, orderID); err != nil {
		return "", err
	}
	if _, err := s.store.RevokeStatusTokens(ctx, orderID); err != nil {
		return "", err
	}
	tok, err := NewStatusToken()
	if err != nil {
		return "", err
	}
	return tok, s.store.AddStatusToken(ctx, orderID, tok)
}

// Revoke revokes every status link of an order.
func (s *Service) Revoke(ctx context.Context, orderID string) (int, error) {
	if _, err := s.orders.GetOrder(ctx, orderID); err != nil {
		return 0, err
	}
	return s.store.RevokeStatusTokens(ctx, orderID)
}

// Survey records the one answer of the order behind token: a score from 1
// to 5 and an optional comment, once the work is completed.
func (s *Service) Survey(ctx context.Context, token string, score int, comment string) error {
	var p workorders.Problems
	if score < 1 || score > 5 {
		p.Add("score", "must be an integer from 1 to 5")
	}
	comment = strings.TrimSpace(comment)
	if !utf8.ValidString(comment) || utf8.RuneCountInString(comment) > maxSurveyRemark {
		p.Add("comment", "at most %d characters", maxSurveyRemark)
	}
	if err := p.Err(); err != nil {
		return err
	}
	v, err := s.Status(ctx, token)
	if err != nil {
		return err
	}
	if !v.Survey.Open {
		if v.Survey.Score != nil && *v.Survey.Score == score && comment != "" && (v.Survey.Comment == nil || *v.Survey.Comment == "") {
			// The comment after a one-tap score.
			return s.store.SaveSurvey(ctx, v.orderID, score, comment)
		}
		if v.Survey.Score != nil {
			return fmt.Errorf("%w: this order was already rated", workorders.ErrConflict)
		}
		return fmt.Errorf("%w: the survey opens when the work is completed", workorders.ErrConflict)
	}
	return s.store.SaveSurvey(ctx, v.orderID, score, comment)
}

// Get returns an order's request record.
func (s *Service) Get(ctx context.Context, orderID string) (Record, error) {
	return s.store.GetRequest(ctx, orderID)
}

// List lists requests.
func (s *Service) List(ctx context.Context, f Filter) ([]Record, string, error) {
	return s.store.ListRequests(ctx, f)
}
