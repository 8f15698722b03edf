// Package platform is the mall's duties towards the WeChat mini-program
// platform: uploading each paid order's shipping information (发货信息管理)
// when it ships, is picked up or completes in a store, and sending order
// subscribe messages (订阅消息) to shoppers who accepted them.
//
// Both are outboxes: the job or the message is recorded in the transaction
// of the order's moment (a lifecycle handler), and a worker talks to WeChat
// afterwards, with retries and backoff, never holding a transaction open
// across the call.
package platform

import (
	"context"
	"time"

	"github.com/yutang/yutang/domain"
)

// LogisticsType is upload_shipping_info's logistics_type.
type LogisticsType int

// The logistics types WeChat knows.
const (
	LogisticsExpress  LogisticsType = 1 // 实体物流: a carrier and a tracking number
	LogisticsSameCity LogisticsType = 2 // 同城配送
	LogisticsVirtual  LogisticsType = 3 // 虚拟商品
	LogisticsPickup   LogisticsType = 4 // 用户自提
)

// String is the name shown on the admin order.
func (t LogisticsType) String() string {
	switch t {
	case LogisticsExpress:
		return "express"
	case LogisticsSameCity:
		return "same_city"
	case LogisticsVirtual:
		return "virtual"
	case LogisticsPickup:
		return "pickup"
	}
	return "unknown"
}

// Shipment is what WeChat is told about one paid order (one WeChat Pay
// transaction): upload_shipping_info with delivery_mode 1 (unified).
type Shipment struct {
	TransactionID string // order_key with order_number_type 2
	MchID         string
	OutTradeNo    string
	PayerOpenID   string
	Logistics     LogisticsType
	Carrier       string // express_company (a delivery_id of get_delivery_list)
	TrackingNo    string
	ItemDesc      string // ≤ 120 characters
	// ReceiverContact is the receiver's phone, masked but for the last
	// four digits (WeChat requires a contact for SF Express).
	ReceiverContact string
	UploadedAt      time.Time // upload_time
}

// Upload states.
const (
	UploadPending     = "pending"      // waiting for the worker (or its next retry)
	UploadUploaded    = "uploaded"     // WeChat has it
	UploadNotRequired = "not_required" // WeChat does not manage this payment (or it was not paid through WeChat Pay)
	UploadFailed      = "failed"       // gave up after the retries: a person looks (retry from the admin)
)

// Upload is one order's shipping-information job.
type Upload struct {
	ID          int64
	OrderID     int64
	OrderNumber string
	State       string
	Shipment    Shipment
	Attempts    int
	NextAt      time.Time
	LastError   string
	UploadedAt  time.Time
	CreatedAt   time.Time
}

// Delivery is one carrier of get_delivery_list.
type Delivery struct {
	ID   string // delivery_id: what the ship form sends as carrier
	Name string
}

// Message is one subscribe message for one shopper.
type Message struct {
	ID           int64
	OrderID      int64
	OrderNumber  string
	ShopperID    int64
	OpenID       string
	Kind         string // paid, shipped, refund_result, pickup_ready, coupon_expiring
	TemplateID   string
	Page         string
	Data         map[string]string // template field → value
	AcceptanceID int64
	State        string
	Attempts     int
	NextAt       time.Time
	LastError    string
	SentAt       time.Time
	CreatedAt    time.Time
}

// Message states.
const (
	MessagePending = "pending"
	MessageSent    = "sent"
	MessageRefused = "refused" // 43101: the shopper has no acceptance left at WeChat
	MessageFailed  = "failed"
)

// Message kinds (the templates the mini-program asks the shopper about).
const (
	KindPaid           = "paid"
	KindShipped        = "shipped"
	KindRefundResult   = "refund_result"
	KindPickupReady    = "pickup_ready"
	KindCouponExpiring = "coupon_expiring"
)

// Kinds are the message kinds, in order.
var Kinds = []string{KindPaid, KindShipped, KindRefundResult, KindPickupReady, KindCouponExpiring}

// Template is a configured subscribe-message template: its id at WeChat,
// the page the message opens and how each of its fields is filled. A field
// value is a pattern with {placeholders}: {order_no}, {amount} (yuan),
// {time}, {carrier}, {tracking_no}, {status}, {store}.
type Template struct {
	Kind   string
	ID     string
	Page   string
	Fields map[string]string
}

// Errors of the platform area (some come from WeChat through the weapp
// client, which maps WeChat's codes to them).
var (
	ErrMessageRefused = domain.E(domain.KindConflict, "message_not_subscribed",
		"The shopper has no subscription left for this message (WeChat 43101).")
	ErrAlreadyShipped = domain.E(domain.KindConflict, "shipping_already_uploaded",
		"WeChat already has this payment's shipping information.")
	ErrNotManaged = domain.E(domain.KindConflict, "shipping_not_required",
		"WeChat does not manage shipping for this payment.")
	ErrUploadNotFound = domain.E(domain.KindNotFound, "shipping_upload_not_found",
		"This order has no shipping-information upload.")
	ErrUploadNotFailed = domain.E(domain.KindConflict, "shipping_upload_not_failed",
		"Only a failed upload can be retried.")
	ErrUnknownTemplate = domain.E(domain.KindInvalid, "template_unknown",
		"The template is not one the mall uses.")
	ErrPushSignature = domain.E(domain.KindUnauthorized, "push_signature_invalid",
		"The message push signature does not verify.")
)

// WeChat is what this area asks of WeChat's server APIs.
type WeChat interface {
	UploadShipping(ctx context.Context, s Shipment) error
	DeliveryList(ctx context.Context) ([]Delivery, error)
	SendMessage(ctx context.Context, m Message) error
}
