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
