package attribution

import (
	"context"
	"fmt"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
)

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
	Chat    Chat  // where the share was opened: a group, a one-to-one chat, or unknown
	// Touchpoints, when set, are the touch's touchpoints themselves (a
	// coupon grant): Code then names no share link.
	Touchpoints []int64
}

// TrackResult says what became of a batch.
type TrackResult struct {
	Accepted   int // new touches stored
	Duplicates int // event ids seen before
	Unknown    int // stored, but the code is no share link
	Groups     int // group-enter infos decrypted and linked
	Singles    int // group-enter infos that named a one-to-one chat
	Refused    int // group-enter infos that did not decrypt or were another mini-program's
}

// MaxTrackBatch is the most events one track call may carry.
const MaxTrackBatch = 100

// TrackPast is how late a touch may arrive: one stamped earlier than that
// before the server's now is stamped now − TrackPast (reports close a day
// by it: ClosedThrough).
const TrackPast = 24 * time.Hour

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
	lo, hi := now.Add(-TrackPast), now.Add(s.TrackFuture)
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
		var ge *GroupEnter
		if e.Group != nil && v.ShopperID != 0 && s.DecryptGroup != nil {
			if sessionKey == "" {
				k, err := s.Store.SessionKey(ctx, v.ShopperID)
				if err != nil {
					return TrackResult{}, fmt.Errorf("attribution: track: %w", err)
				}
				sessionKey = k
			}
			g, err := s.DecryptGroup(sessionKey, e.Group.EncryptedData, e.Group.IV)
			switch {
			case err != nil:
				res.Refused++
			case g.OpenGID != "":
				id, err := s.Store.EnsureGroup(ctx, g.OpenGID)
				if err != nil {
					return TrackResult{}, fmt.Errorf("attribution: track: %w", err)
				}
				ti.OpenGID, ti.GroupID = g.OpenGID, id
				res.Groups++
				ge = &g
			case g.SingleRoomID != "":
				res.Singles++
				ge = &g
			}
		}
		ti.Chat = ChatOf(e.Scene, ge)
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

// Grant is a coupon handed to a shopper by a clerk (StaffID) or a KOC
// (KOCShopperID): the shopper met the granter, so attribution sees the
// grant as a touch of the granter's touchpoint (the clerk's and their
// store's, or the KOC's), at the time of the grant.
type Grant struct {
	GrantID      int64
	ShopperID    int64
	StaffID      int64
	KOCShopperID int64
	At           time.Time
}

// GrantCode is the code of a grant's touch (it names no share link).
const GrantCode = "coupon_grant"

// RecordGrant stores a coupon grant as a touch of the shopper, in st (the
// grant's transaction). It is stored once per grant (its event id is the
// grant's), through the same statement as tracked touches, so reports and
// rollups count it as any other touch.
func (s *Service) RecordGrant(ctx context.Context, st Store, g Grant) error {
	if g.ShopperID == 0 || g.GrantID == 0 || (g.StaffID == 0) == (g.KOCShopperID == 0) {
		return fmt.Errorf("attribution: record grant: a grant needs its shopper and exactly one granter")
	}
	var tps []int64
	if g.KOCShopperID != 0 {
		koc, err := st.EnsureKOC(ctx, g.KOCShopperID)
		if err != nil {
			return fmt.Errorf("attribution: record grant: %w", err)
		}
		tps = []int64{koc}
	} else {
		clerk, store, err := st.EnsureClerk(ctx, g.StaffID)
		if err != nil {
			return fmt.Errorf("attribution: record grant: %w", err)
		}
		tps = []int64{clerk, store}
	}
	at := g.At
	if at.IsZero() {
		at = s.now()
	}
	ti := TouchInput{EventID: fmt.Sprintf("%s:%d", GrantCode, g.GrantID), Code: GrantCode, At: at, Touchpoints: tps}
	if _, err := st.InsertTouches(ctx, Visitor{ShopperID: g.ShopperID}, []TouchInput{ti}, s.now()); err != nil {
		return fmt.Errorf("attribution: record grant: %w", err)
	}
	return nil
}

// Chat is where a shared card was opened: the touch's kind of sharing, so
// that "shared to a friend" and "shared into a group" can be told apart.
type Chat string

// The chats.
const (
	ChatUnknown Chat = ""       // not a chat share, or not known
	ChatGroup   Chat = "group"  // a WeChat (or WeCom) group
	ChatSingle  Chat = "single" // a one-to-one chat
)

// ChatOf is the chat of a touch: from decrypted group-enter data when there
// is some (its chat_type, else which id it carries), else from the scene
// (1007 a card in a one-to-one chat; 1008 and 1044 a card in a group).
func ChatOf(scene int, g *GroupEnter) Chat {
	if g != nil {
		switch g.ChatType {
		case 1, 2:
			return ChatSingle
		case 3, 4:
			return ChatGroup
		}
		if g.OpenGID != "" {
			return ChatGroup
		}
		if g.SingleRoomID != "" {
			return ChatSingle
		}
	}
	switch scene {
	case 1007:
		return ChatSingle
	case 1008, 1044:
		return ChatGroup
	}
	return ChatUnknown
}

// Stitch gives an anonymous visitor's touches (of the longest possible
// lookback) to the shopper who just signed in (an identity.SignedIn
// handler; st runs in the sign-in transaction).
func (s *Service) Stitch(ctx context.Context, st Store, e identity.SignedIn) error {
	if err := st.StitchTouches(ctx, e.AnonID, e.ShopperID, e.At.Add(-MaxLookback)); err != nil {
		return fmt.Errorf("attribution: stitch: %w", err)
	}
	return nil
}
