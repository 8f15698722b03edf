package attribution

import (
	"context"
	"time"

	"github.com/yutang/yutang/domain"
)

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

	// PaidOrder returns a paid order with its lines, and the settings, in
	// one statement.
	PaidOrder(ctx context.Context, orderID int64) (PaidOrder, Settings, error)
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

// GroupDecrypter decrypts group-enter data with a shopper's session_key,
// checks it is this mini-program's, and returns the chat it names.
type GroupDecrypter func(sessionKey, encryptedData, iv string) (GroupEnter, error)

// GroupEnter is the decrypted group-enter data: a group's opengid, or a
// one-to-one chat's open_single_roomid, and the chat type.
type GroupEnter struct {
	OpenGID      string
	SingleRoomID string
	GroupOpenID  string
	ChatType     int // 1 one-to-one, 2 WeCom contact, 3 WeChat group, 4 WeCom group
}

// Service is the attribution use cases: touchpoints, share links, touches,
// settings, attributing paid orders, reversing refunds and reports.
type Service struct {
	Store        Store
	Reports      ReportStore
	WxaCode      WxaCoder
	DecryptGroup GroupDecrypter
	Now          func() time.Time
	// TrackFuture bounds a touch's time: later than now + TrackFuture is
	// clamped (default 0); earlier than now − TrackPast too.
	TrackFuture time.Duration
}

// Errors of the attribution service.
var (
	ErrTouchpointNotFound = domain.E(domain.KindNotFound, "touchpoint_not_found", "No such touchpoint.")
	ErrPostNotFound       = domain.E(domain.KindNotFound, "post_not_found", "No such post.")
	ErrShareLinkNotFound  = domain.E(domain.KindNotFound, "share_link_not_found", "No such share link.")
	ErrNotAttributed      = domain.E(domain.KindNotFound, "order_not_attributed", "The order has not been attributed (it is not paid yet).")
	// ErrAlreadyAttributed: Store.SaveAttribution found the order
	// attributed already and wrote nothing.
	ErrAlreadyAttributed = domain.E(domain.KindConflict, "order_already_attributed", "The order is already attributed.")
	ErrNotManaged        = domain.E(domain.KindConflict, "touchpoint_not_managed",
		"Only groups and posts are managed here; KOCs, clerks and stores are touchpoints by being who they are.")
	ErrCodeCollision = domain.E(domain.KindConflict, "share_code_collision", "A share code collided; try again.")
)

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }
