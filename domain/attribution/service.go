package attribution

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
)

// PostKind is a kind of content post.
type PostKind string

// The kinds of post.
const (
	PostMoments       PostKind = "moments"
	PostArticle       PostKind = "article"
	PostChannelsVideo PostKind = "channels_video"
	PostLive          PostKind = "live"
	PostPoster        PostKind = "poster"
	PostPackageCard   PostKind = "package_card"
	PostSMS           PostKind = "sms"
)

// Valid reports whether k is a known kind of post.
func (k PostKind) Valid() bool {
	switch k {
	case PostMoments, PostArticle, PostChannelsVideo, PostLive, PostPoster, PostPackageCard, PostSMS:
		return true
	}
	return false
}

// TouchpointInfo is a touchpoint as operators see and manage it. Groups and
// posts are created by operators (groups also from a group-enter); KOCs,
// clerks and stores exist by being who they are (ShopperID, StaffID,
// StoreID say who).
type TouchpointInfo struct {
	ID           int64
	Kind         TouchpointKind
	Name         string
	PostKind     PostKind // posts only
	Tags         []string
	OwnerStoreID int64 // owned by a store, or
	OwnerKOCID   int64 // by a KOC (a koc touchpoint id)
	ShopperID    int64 // koc
	StoreID      int64 // store
	StaffID      int64 // clerk
	HasOpenGID   bool  // group learnt from a group-enter
	Archived     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TouchpointPatch changes a group or post; nil fields stay as they are.
type TouchpointPatch struct {
	Name         *string
	PostKind     *PostKind
	Tags         *[]string
	OwnerStoreID *int64 // 0 clears
	OwnerKOCID   *int64 // 0 clears
	Archived     *bool
}

// ShareLink is one act of sharing: a product or post (or neither: the home
// page), shared by a KOC or a clerk, or published by the brand. Its code
// goes in the page path (?tk=CODE) and is the scene of its mini-program code.
type ShareLink struct {
	Code        string
	Path        string
	ProductID   int64
	PostID      int64
	ShopperID   int64 // shared by this shopper (a KOC)
	StaffID     int64 // shared by this clerk, or made by this admin
	Touchpoints []int64
	CreatedAt   time.Time
}

// Scene is the scene of the link's mini-program code: the code itself.
func (l ShareLink) Scene() string { return l.Code }

// Page is the link's page without its query (what getwxacodeunlimit wants).
func (l ShareLink) Page() string {
	p, _, _ := strings.Cut(l.Path, "?")
	return p
}

// Sharer is who shares: a shopper (who becomes a KOC), a clerk (with their
// store) or back-office staff (a brand link: a poster, a package card).
type Sharer struct {
	ShopperID int64
	StaffID   int64
	Clerk     bool // StaffID is a clerk or store manager of a store
}

// ShareRequest asks for a share link of a product or a post (or neither).
type ShareRequest struct {
	By        Sharer
	ProductID int64
	PostID    int64
}

// Visitor is who sent touches: a signed-in shopper or an anonymous visitor.
type Visitor struct {
	ShopperID int64
	AnonID    string
}

// GroupInfo is the encrypted group-enter data (wx.getGroupEnterInfo).
type GroupInfo struct {
	EncryptedData string
	IV            string
}

// Event is one client tracking event.
type Event struct {
	ID    string
	Code  string
	Scene int
	Path  string
	At    time.Time
	Group *GroupInfo
}

// TouchInput is an event ready to store: At clamped, the group resolved.
type TouchInput struct {
	EventID string
	Code    string
	Scene   int
	Path    string
	At      time.Time
	OpenGID string
	GroupID int64 // the group touchpoint, 0 when unknown
}

// TrackResult says what became of a batch.
type TrackResult struct {
	Accepted   int // new touches stored
	Duplicates int // event ids seen before
	Unknown    int // stored, but the code is no share link
	Groups     int // group-enter infos decrypted and linked
}

// PaidOrder is what attribution reads of a paid order.
type PaidOrder struct {
	ID          int64
	Number      string
	ShopperID   int64
	PlacedAt    time.Time
	PaidAt      time.Time
	Lines       []Line
	ProductOf   map[int64]int64 // line ItemID → product id
	StoreID     int64           // in-store orders
	ClerkID     int64
	NewCustomer bool // the buyer's first paid order
}

// OrderAttribution is an order's attribution under every model, as stored.
type OrderAttribution struct {
	Order        PaidOrder
	Paid         domain.Fen // the paid goods amount attributed
	DefaultModel Model
	InStore      bool
	Models       []ModelAttribution
	At           time.Time
}

// ModelAttribution is one model's result for an order, with the reversals
// made since for refunds.
type ModelAttribution struct {
	Model       Model
	Direct      bool
	Explanation Explanation
	Credits     []Credit
	Reversals   []Credit
}

// Store is what the attribution service needs from the database. Every
// method but InTx may run in a transaction opened by InTx, or in the
// caller's (AttributeOrder, ReverseOrderCredits).
type Store interface {
	InTx(ctx context.Context, fn func(Store) error) error
	WriteAudit(ctx context.Context, e domain.AuditEntry) error

	CreateTouchpoint(ctx context.Context, tp TouchpointInfo) (TouchpointInfo, error)
	UpdateTouchpoint(ctx context.Context, tp TouchpointInfo) (TouchpointInfo, error)
	Touchpoint(ctx context.Context, id int64, forUpdate bool) (TouchpointInfo, error)
	ListTouchpoints(ctx context.Context, kind TouchpointKind, page domain.Page) ([]TouchpointInfo, string, error)
	EnsureKOC(ctx context.Context, shopperID int64) (int64, error)
	EnsureClerk(ctx context.Context, staffID int64) (clerk, store int64, err error)
	EnsureStore(ctx context.Context, storeID int64) (int64, error)
	EnsureGroup(ctx context.Context, openGID string) (int64, error)

	CreateShareLink(ctx context.Context, l ShareLink) error
	ShareLink(ctx context.Context, code string) (ShareLink, error)
	ListShareLinks(ctx context.Context, staffID int64, page domain.Page) ([]ShareLink, string, error)

	Settings(ctx context.Context) (Settings, error)
	SaveSettings(ctx context.Context, s Settings) error

	SessionKey(ctx context.Context, shopperID int64) (string, error)
	InsertTouches(ctx context.Context, v Visitor, ts []TouchInput, receivedAt time.Time) (TrackResult, error)
	StitchTouches(ctx context.Context, anonID string, shopperID int64, since time.Time) error

	PaidOrder(ctx context.Context, orderID int64) (PaidOrder, error)
	BuyerTouches(ctx context.Context, shopperID int64, from, to time.Time) ([]Touch, error)
	SaveAttribution(ctx context.Context, a OrderAttribution) error
	Attribution(ctx context.Context, orderID int64, forUpdate bool) (OrderAttribution, error)
	AttributionByNumber(ctx context.Context, orderNo string) (OrderAttribution, error)
	SaveReversals(ctx context.Context, orderID int64, model Model, rev []Credit, at time.Time) error
}

// WxaCoder draws mini-program codes (weapp getwxacodeunlimit).
type WxaCoder interface {
	Unlimited(ctx context.Context, scene, page string) ([]byte, error)
}

// GroupDecrypter decrypts group-enter data with a shopper's session_key and
// returns the group's openGId.
type GroupDecrypter func(sessionKey, encryptedData, iv string) (openGID string, err error)

// Service is the attribution use cases: touchpoints, share links, touches,
// settings, attributing paid orders, reversing refunds and reports.
type Service struct {
	Store        Store
	Reports      ReportStore
	WxaCode      WxaCoder
	DecryptGroup GroupDecrypter
	Now          func() time.Time
	// TrackPast and TrackFuture bound a touch's time: earlier than now −
	// TrackPast or later than now + TrackFuture is clamped (defaults 24 h, 0).
	TrackPast   time.Duration
	TrackFuture time.Duration
}

// Errors of the attribution service.
var (
	ErrTouchpointNotFound = domain.E(domain.KindNotFound, "touchpoint_not_found", "No such touchpoint.")
	ErrPostNotFound       = domain.E(domain.KindNotFound, "post_not_found", "No such post.")
	ErrShareLinkNotFound  = domain.E(domain.KindNotFound, "share_link_not_found", "No such share link.")
	ErrNotAttributed      = domain.E(domain.KindNotFound, "order_not_attributed", "The order has not been attributed (it is not paid yet).")
	ErrNotManaged         = domain.E(domain.KindConflict, "touchpoint_not_managed",
		"Only groups and posts are managed here; KOCs, clerks and stores are touchpoints by being who they are.")
	ErrCodeCollision = domain.E(domain.KindConflict, "share_code_collision", "A share code collided; try again.")
)

// MaxTrackBatch is the most events one track call may carry.
const MaxTrackBatch = 100

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// --- touchpoints ---

func checkTouchpoint(tp TouchpointInfo) error {
	var fe []domain.FieldError
	if tp.Kind != KindGroup && tp.Kind != KindPost {
		fe = append(fe, domain.FieldError{Field: "kind", Code: "oneof", Message: "must be group or post"})
	}
	if tp.Kind == KindPost && !tp.PostKind.Valid() {
		fe = append(fe, domain.FieldError{Field: "post_kind", Code: "oneof",
			Message: "must be one of moments, article, channels_video, live, poster, package_card, sms"})
	}
	if tp.Kind == KindGroup && tp.PostKind != "" {
		fe = append(fe, domain.FieldError{Field: "post_kind", Code: "forbidden", Message: "only posts have a post kind"})
	}
	if utf8.RuneCountInString(tp.Name) > 100 || (tp.Kind == KindPost && strings.TrimSpace(tp.Name) == "") {
		fe = append(fe, domain.FieldError{Field: "name", Code: "length", Message: "must have 1 to 100 characters (a group may stay unnamed)"})
	}
	if len(tp.Tags) > 20 {
		fe = append(fe, domain.FieldError{Field: "tags", Code: "max", Message: "must have at most 20 tags"})
	}
	for i, t := range tp.Tags {
		if t == "" || utf8.RuneCountInString(t) > 30 {
			fe = append(fe, domain.FieldError{Field: fmt.Sprintf("tags[%d]", i), Code: "length", Message: "must have 1 to 30 characters"})
		}
	}
	if tp.OwnerStoreID != 0 && tp.OwnerKOCID != 0 {
		fe = append(fe, domain.FieldError{Field: "owner", Code: "one_of", Message: "is a store or a KOC, not both"})
	}
	if tp.OwnerStoreID < 0 || tp.OwnerKOCID < 0 {
		fe = append(fe, domain.FieldError{Field: "owner", Code: "format", Message: "ids must be positive"})
	}
	if len(fe) > 0 {
		return domain.Invalid(fe...)
	}
	return nil
}

// CreateTouchpoint creates a group or a post (audited).
func (s *Service) CreateTouchpoint(ctx context.Context, by domain.Actor, reqID string, tp TouchpointInfo) (TouchpointInfo, error) {
	tp.Name = strings.TrimSpace(tp.Name)
	if err := checkTouchpoint(tp); err != nil {
		return TouchpointInfo{}, err
	}
	var out TouchpointInfo
	err := s.Store.InTx(ctx, func(st Store) error {
		if err := s.checkOwner(ctx, st, tp); err != nil {
			return err
		}
		var err error
		if out, err = st.CreateTouchpoint(ctx, tp); err != nil {
			return err
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "touchpoint.create", Entity: "touchpoint",
			EntityID: fmt.Sprint(out.ID), After: auditOf(out), RequestID: reqID, At: s.now()})
	})
	if err != nil {
		return TouchpointInfo{}, fmt.Errorf("attribution: create touchpoint: %w", err)
	}
	return out, nil
}

func (s *Service) checkOwner(ctx context.Context, st Store, tp TouchpointInfo) error {
	if tp.OwnerKOCID == 0 {
		return nil
	}
	o, err := st.Touchpoint(ctx, tp.OwnerKOCID, false)
	if err != nil || o.Kind != KindKOC {
		return domain.Invalid(domain.FieldError{Field: "owner_koc_id", Code: "not_found", Message: "is not a KOC touchpoint"})
	}
	return nil
}

// UpdateTouchpoint changes a group or a post (audited).
func (s *Service) UpdateTouchpoint(ctx context.Context, by domain.Actor, reqID string, id int64, p TouchpointPatch) (TouchpointInfo, error) {
	var out TouchpointInfo
	err := s.Store.InTx(ctx, func(st Store) error {
		before, err := st.Touchpoint(ctx, id, true)
		if err != nil {
			return err
		}
		if before.Kind != KindGroup && before.Kind != KindPost {
			return ErrNotManaged
		}
		tp := before
		if p.Name != nil {
			tp.Name = strings.TrimSpace(*p.Name)
		}
		if p.PostKind != nil {
			tp.PostKind = *p.PostKind
		}
		if p.Tags != nil {
			tp.Tags = *p.Tags
		}
		if p.OwnerStoreID != nil {
			tp.OwnerStoreID = *p.OwnerStoreID
		}
		if p.OwnerKOCID != nil {
			tp.OwnerKOCID = *p.OwnerKOCID
		}
		if p.Archived != nil {
			tp.Archived = *p.Archived
		}
		if err := checkTouchpoint(tp); err != nil {
			return err
		}
		if err := s.checkOwner(ctx, st, tp); err != nil {
			return err
		}
		if out, err = st.UpdateTouchpoint(ctx, tp); err != nil {
			return err
		}
		action := "touchpoint.update"
		if p.Archived != nil && *p.Archived && !before.Archived {
			action = "touchpoint.archive"
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: action, Entity: "touchpoint",
			EntityID: fmt.Sprint(id), Before: auditOf(before), After: auditOf(out), RequestID: reqID, At: s.now()})
	})
	if err != nil {
		return TouchpointInfo{}, fmt.Errorf("attribution: update touchpoint: %w", err)
	}
	return out, nil
}

func auditOf(tp TouchpointInfo) map[string]any {
	return map[string]any{"kind": tp.Kind, "name": tp.Name, "post_kind": tp.PostKind, "tags": tp.Tags,
		"owner_store_id": tp.OwnerStoreID, "owner_koc_id": tp.OwnerKOCID, "archived": tp.Archived}
}

// Touchpoint returns one touchpoint.
func (s *Service) Touchpoint(ctx context.Context, id int64) (TouchpointInfo, error) {
	return s.Store.Touchpoint(ctx, id, false)
}

// ListTouchpoints lists touchpoints of a kind (all kinds when kind is "").
func (s *Service) ListTouchpoints(ctx context.Context, kind TouchpointKind, page domain.Page) ([]TouchpointInfo, string, error) {
	if kind != "" && !kind.Valid() {
		return nil, "", domain.Invalid(domain.FieldError{Field: "kind", Code: "oneof", Message: "must be one of group, koc, post, store, clerk"})
	}
	return s.Store.ListTouchpoints(ctx, kind, page)
}

// --- share links ---

// codeAlphabet is the share codes' alphabet: letters and digits, a subset of
// the mini-program scene alphabet that needs no escaping in a path either.
const codeAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// CodeLength is the length of a share code: 16 of 62 symbols, about 95 bits,
// so codes cannot be guessed; well within the scene's 32 characters.
const CodeLength = 16

// NewCode returns a random share code.
func NewCode() string {
	var b [CodeLength]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	// 256 = 4×62 + 8: reject the top 8 values so every symbol is equally likely.
	out := make([]byte, 0, CodeLength)
	for len(out) < CodeLength {
		for _, x := range b {
			if x < 248 && len(out) < CodeLength {
				out = append(out, codeAlphabet[int(x)%62])
			}
		}
		if _, err := rand.Read(b[:]); err != nil {
			panic(err)
		}
	}
	return string(out)
}

// ValidCode reports whether code could be a share code (to drop garbage
// before a lookup).
func ValidCode(code string) bool {
	if len(code) < 8 || len(code) > 32 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if !strings.ContainsRune(codeAlphabet, rune(code[i])) {
			return false
		}
	}
	return true
}

// SharePath is the mini-program page a share link opens, with ?tk=CODE.
func SharePath(productID, postID int64, code string) string {
	switch {
	case productID != 0:
		return fmt.Sprintf("pages/product/detail?id=%d&tk=%s", productID, code)
	case postID != 0:
		return fmt.Sprintf("pages/post/detail?id=%d&tk=%s", postID, code)
	}
	return "pages/index/index?tk=" + code
}

// Share creates a share link for one act of sharing. A shopper who shares
// becomes a KOC touchpoint (created on their first share); a clerk's links
// carry the clerk and their store.
func (s *Service) Share(ctx context.Context, r ShareRequest) (ShareLink, error) {
	if r.ProductID != 0 && r.PostID != 0 {
		return ShareLink{}, domain.Invalid(domain.FieldError{Field: "post_id", Code: "excluded_with", Message: "share a product or a post, not both"})
	}
	if r.ProductID < 0 || r.PostID < 0 {
		return ShareLink{}, domain.Invalid(domain.FieldError{Field: "product_id", Code: "gt", Message: "must be positive"})
	}
	var link ShareLink
	err := s.Store.InTx(ctx, func(st Store) error {
		var tps []int64
		if r.PostID != 0 {
			p, err := st.Touchpoint(ctx, r.PostID, false)
			if errors.Is(err, ErrTouchpointNotFound) || (err == nil && (p.Kind != KindPost || p.Archived)) {
				return ErrPostNotFound
			}
			if err != nil {
				return err
			}
			tps = append(tps, p.ID)
		}
		switch {
		case r.By.ShopperID != 0:
			koc, err := st.EnsureKOC(ctx, r.By.ShopperID)
			if err != nil {
				return err
			}
			tps = append(tps, koc)
		case r.By.Clerk:
			clerk, store, err := st.EnsureClerk(ctx, r.By.StaffID)
			if err != nil {
				return err
			}
			tps = append(tps, clerk, store)
		}
		code := NewCode()
		link = ShareLink{Code: code, Path: SharePath(r.ProductID, r.PostID, code), ProductID: r.ProductID, PostID: r.PostID,
			ShopperID: r.By.ShopperID, StaffID: r.By.StaffID, Touchpoints: tps, CreatedAt: s.now()}
		return st.CreateShareLink(ctx, link)
	})
	if err != nil {
		return ShareLink{}, fmt.Errorf("attribution: share: %w", err)
	}
	return link, nil
}

// ShareLinks lists a staff member's share links, newest first.
func (s *Service) ShareLinks(ctx context.Context, staffID int64, page domain.Page) ([]ShareLink, string, error) {
	return s.Store.ListShareLinks(ctx, staffID, page)
}

// WxaCodePNG draws the mini-program code of a share link: scene = the code,
// page = the link's page.
func (s *Service) WxaCodePNG(ctx context.Context, code string) ([]byte, error) {
	if !ValidCode(code) {
		return nil, ErrShareLinkNotFound
	}
	l, err := s.Store.ShareLink(ctx, code)
	if err != nil {
		return nil, err
	}
	if s.WxaCode == nil {
		return nil, domain.ErrUnavailable
	}
	png, err := s.WxaCode.Unlimited(ctx, l.Scene(), l.Page())
	if err != nil {
		return nil, fmt.Errorf("attribution: wxacode: %w", err)
	}
	return png, nil
}

// --- settings ---

// Settings returns the brand's settings, defaults filled in.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	set, err := s.Store.Settings(ctx)
	if err != nil {
		return Settings{}, fmt.Errorf("attribution: settings: %w", err)
	}
	return set.WithDefaults(), nil
}

// UpdateSettings changes the settings (audited). Zero fields keep their
// current value.
func (s *Service) UpdateSettings(ctx context.Context, by domain.Actor, reqID string, in Settings) (Settings, error) {
	if err := in.Validate(); err != nil {
		return Settings{}, err
	}
	var out Settings
	err := s.Store.InTx(ctx, func(st Store) error {
		before, err := st.Settings(ctx)
		if err != nil {
			return err
		}
		out = before
		if in.Model != "" {
			out.Model = in.Model
		}
		if in.Lookback != 0 {
			out.Lookback = in.Lookback
		}
		if in.HalfLife != 0 {
			out.HalfLife = in.HalfLife
		}
		out = out.WithDefaults()
		if err := st.SaveSettings(ctx, out); err != nil {
			return err
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "attribution_settings.update", Entity: "attribution_settings",
			Before: settingsAudit(before), After: settingsAudit(out), RequestID: reqID, At: s.now()})
	})
	if err != nil {
		return Settings{}, fmt.Errorf("attribution: update settings: %w", err)
	}
	return out, nil
}

func settingsAudit(s Settings) map[string]any {
	return map[string]any{"model": s.Model, "lookback_seconds": int64(s.Lookback / time.Second),
		"half_life_seconds": int64(s.HalfLife / time.Second)}
}

// --- touches ---

// Track stores a batch of touches from one visitor. Duplicate event ids are
// dropped; unknown codes are stored as unknown; each time is clamped to
// [now − TrackPast, now + TrackFuture]; group-enter data of a signed-in
// shopper is decrypted and linked to a group touchpoint (an undecryptable
// one is ignored, not an error).
func (s *Service) Track(ctx context.Context, v Visitor, events []Event) (TrackResult, error) {
	if v.ShopperID == 0 && v.AnonID == "" {
		return TrackResult{}, domain.ErrUnauthorized.WithMessage("Sign in or send X-Anon-Id.")
	}
	if len(events) == 0 || len(events) > MaxTrackBatch {
		return TrackResult{}, domain.Invalid(domain.FieldError{Field: "events", Code: "range", Message: "must have 1 to 100 events"})
	}
	var fe []domain.FieldError
	seen := make(map[string]bool, len(events))
	for i, e := range events {
		if e.ID == "" || len(e.ID) > 64 {
			fe = append(fe, domain.FieldError{Field: fmt.Sprintf("events[%d].id", i), Code: "length", Message: "must have 1 to 64 characters"})
		}
		if len(e.Code) > 64 {
			fe = append(fe, domain.FieldError{Field: fmt.Sprintf("events[%d].code", i), Code: "max", Message: "must have at most 64 characters"})
		}
		if len(e.Path) > 512 {
			fe = append(fe, domain.FieldError{Field: fmt.Sprintf("events[%d].path", i), Code: "max", Message: "must have at most 512 characters"})
		}
		if e.Scene < 0 || e.Scene > 99999 {
			fe = append(fe, domain.FieldError{Field: fmt.Sprintf("events[%d].scene", i), Code: "range", Message: "must be a WeChat scene value"})
		}
	}
	if len(fe) > 0 {
		return TrackResult{}, domain.Invalid(fe...)
	}
	now := s.now()
	past := s.TrackPast
	if past <= 0 {
		past = 24 * time.Hour
	}
	lo, hi := now.Add(-past), now.Add(s.TrackFuture)
	var sessionKey string
	var res TrackResult
	ins := make([]TouchInput, 0, len(events))
	for _, e := range events {
		if seen[e.ID] {
			res.Duplicates++
			continue
		}
		seen[e.ID] = true
		at := e.At
		switch {
		case at.IsZero() || at.After(hi):
			at = hi
		case at.Before(lo):
			at = lo
		}
		ti := TouchInput{EventID: e.ID, Code: e.Code, Scene: e.Scene, Path: e.Path, At: at}
		if e.Group != nil && v.ShopperID != 0 && s.DecryptGroup != nil {
			if sessionKey == "" {
				k, err := s.Store.SessionKey(ctx, v.ShopperID)
				if err != nil {
					return TrackResult{}, fmt.Errorf("attribution: track: %w", err)
				}
				sessionKey = k
			}
			if gid, err := s.DecryptGroup(sessionKey, e.Group.EncryptedData, e.Group.IV); err == nil && gid != "" {
				id, err := s.Store.EnsureGroup(ctx, gid)
				if err != nil {
					return TrackResult{}, fmt.Errorf("attribution: track: %w", err)
				}
				ti.OpenGID, ti.GroupID = gid, id
				res.Groups++
			}
		}
		ins = append(ins, ti)
	}
	r, err := s.Store.InsertTouches(ctx, v, ins, now)
	if err != nil {
		return TrackResult{}, fmt.Errorf("attribution: track: %w", err)
	}
	res.Accepted = r.Accepted
	res.Duplicates += r.Duplicates
	res.Unknown = r.Unknown
	return res, nil
}

// Stitch gives an anonymous visitor's touches (of the longest possible
// lookback) to the shopper who just signed in: an identity.AnonStitcher.
func (s *Service) Stitch(ctx context.Context, anonID string, shopperID int64) error {
	if err := s.Store.StitchTouches(ctx, anonID, shopperID, s.now().Add(-MaxLookback)); err != nil {
		return fmt.Errorf("attribution: stitch: %w", err)
	}
	return nil
}

// --- attributing orders ---

// AttributeOrder attributes a paid order under every model and stores the
// result, the credits and the rollups. st must run in the transaction that
// applies the payment, so the attribution commits with it. The default
// model (from the settings at payment time) is the one reports use unless
// asked for another; every model's credits are stored, so another model
// answers from the same touches without recomputing. Attributing an order
// twice does nothing the second time.
func (s *Service) AttributeOrder(ctx context.Context, st Store, orderID int64) error {
	if _, err := st.Attribution(ctx, orderID, false); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotAttributed) {
		return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
	}
	o, err := st.PaidOrder(ctx, orderID)
	if err != nil {
		return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
	}
	set, err := st.Settings(ctx)
	if err != nil {
		return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
	}
	set = set.WithDefaults()
	in := Input{OrderID: o.ID, PlacedAt: o.PlacedAt, Lines: o.Lines}
	if o.ClerkID != 0 {
		clerk, store, err := st.EnsureClerk(ctx, o.ClerkID)
		if err != nil {
			return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
		}
		if o.StoreID != 0 {
			if store, err = st.EnsureStore(ctx, o.StoreID); err != nil {
				return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
			}
		}
		in.InStore = &InStore{ClerkID: clerk, StoreID: store}
	} else {
		in.Touches, err = st.BuyerTouches(ctx, o.ShopperID, o.PlacedAt.Add(-set.Lookback), o.PlacedAt)
		if err != nil {
			return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
		}
	}
	a := OrderAttribution{Order: o, DefaultModel: set.Model, InStore: in.InStore != nil, At: s.now()}
	for _, m := range Models {
		in.Settings = Settings{Model: m, Lookback: set.Lookback, HalfLife: set.HalfLife}
		r, err := Attribute(in)
		if err != nil {
			return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
		}
		a.Models = append(a.Models, ModelAttribution{Model: m, Direct: r.Direct, Explanation: r.Explanation, Credits: r.Credits})
	}
	if err := st.SaveAttribution(ctx, a); err != nil {
		return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
	}
	return nil
}

// ReverseOrderCredits reverses, under every model, the credits of the
// refunded amounts of some lines (line ItemID → amount refunded now), pro
// rata to what each touch still has on each line. st must run in the
// transaction that records the refund. A direct or unattributed order has
// nothing to reverse.
func (s *Service) ReverseOrderCredits(ctx context.Context, st Store, orderID int64, refunded map[int64]domain.Fen) error {
	a, err := st.Attribution(ctx, orderID, true)
	if errors.Is(err, ErrNotAttributed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("attribution: reverse order %d: %w", orderID, err)
	}
	now := s.now()
	for _, m := range a.Models {
		all := append(append([]Credit(nil), m.Credits...), m.Reversals...)
		rev, err := Reverse(all, refunded)
		if err != nil {
			return fmt.Errorf("attribution: reverse order %d (%s): %w", orderID, m.Model, err)
		}
		if len(rev) == 0 {
			continue
		}
		if err := st.SaveReversals(ctx, orderID, m.Model, rev, now); err != nil {
			return fmt.Errorf("attribution: reverse order %d: %w", orderID, err)
		}
	}
	return nil
}

// OrderAttribution returns a paid order's attribution by order number.
func (s *Service) OrderAttribution(ctx context.Context, orderNo string) (OrderAttribution, error) {
	return s.Store.AttributionByNumber(ctx, orderNo)
}
