package platform

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
)

// Subject is what an order's moment needs to know to tell WeChat: the
// order, its shopper and the WeChat Pay payment that paid it.
type Subject struct {
	OrderID       int64
	OrderNumber   string
	ShopperID     int64
	OpenID        string // the shopper's openid ("" for a walk-in)
	Fulfillment   order.FulfillmentType
	TransactionID string // the applied WeChat Pay payment ("" when none)
	MchID         string
	OutTradeNo    string
	PayerOpenID   string
	ItemDesc      string
	ReceiverPhone string
	StoreName     string
}

// Store is what this area needs from the database. Methods taking a
// transaction's store run in the moment's transaction.
type Store interface {
	Subject(ctx context.Context, orderID int64) (Subject, error)
	EnqueueUpload(ctx context.Context, u Upload) error
	// TakeAcceptance marks one unused acceptance of the shopper for
	// templateID used and returns its id (0: none left).
	TakeAcceptance(ctx context.Context, shopperID int64, templateID string, at time.Time) (int64, error)
	EnqueueMessage(ctx context.Context, m Message) error

	RecordAcceptances(ctx context.Context, shopperID int64, reportID string, acc map[string]string, at time.Time) (int, error)
	LeaseUploads(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Upload, error)
	FinishUpload(ctx context.Context, u Upload) error
	LeaseMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Message, error)
	FinishMessage(ctx context.Context, m Message) error
	UploadOf(ctx context.Context, orderNo string) (Upload, error)
	RetryUpload(ctx context.Context, orderNo string, now time.Time, e domain.AuditEntry) (Upload, error)
	OrderByPayment(ctx context.Context, transactionID, outTradeNo string) (string, error)
}

// Completer completes an order whose receipt was confirmed at WeChat.
type Completer interface {
	ConfirmedAtWeChat(ctx context.Context, number string) (order.Order, error)
}

// Service is the platform's use cases.
type Service struct {
	Store     Store
	WeChat    WeChat
	Orders    Completer
	Templates map[string]Template // by kind
	Now       func() time.Time
	// MaxAttempts before an upload or a message is given up (default 10).
	MaxAttempts int
	// PushToken is the message-push token ("": every push is refused).
	PushToken string
}

// PushSigned checks WeChat's message-push signature: the SHA-1 of the
// token, timestamp and nonce, sorted and joined. Safe mode (encrypted
// bodies) is not supported: configure plaintext or compatible mode.
func (s *Service) PushSigned(timestamp, nonce, signature string) bool {
	if s.PushToken == "" || signature == "" || len(timestamp) > 20 || len(nonce) > 64 {
		return false
	}
	parts := []string{s.PushToken, timestamp, nonce}
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(signature))) == 1
}

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

// Backoff is the wait before attempt n+1 after n failures: 30 s doubling,
// at most an hour.
func Backoff(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// --- in the moment's transaction ---

// UploadFor is the upload an order's moment calls for (false: none): a
// delivery order that ships, a pickup order picked up, an in-store order
// paid (the goods leave with the shopper).
func UploadFor(e order.Event) (LogisticsType, bool) {
	switch e.Moment {
	case order.MomentShipped:
		switch e.ShipMethod {
		case order.ShipSameCity:
			return LogisticsSameCity, true
		case order.ShipVirtual:
			return LogisticsVirtual, true
		}
		return LogisticsExpress, true
	case order.MomentCompleted:
		if e.Cause == order.CausePickedUp || e.Cause == order.CausePaidInStore {
			return LogisticsPickup, true
		}
	}
	return 0, false
}

// OnMoment records, in the moment's transaction, the shipping upload and
// the subscribe messages the moment calls for (a lifecycle handler).
func (s *Service) OnMoment(ctx context.Context, st Store, e order.Event) error {
	lt, upload := UploadFor(e)
	kinds := MessagesFor(e)
	if !upload && len(kinds) == 0 {
		return nil
	}
	sub, err := st.Subject(ctx, e.OrderID)
	if err != nil {
		return fmt.Errorf("platform: %s: %w", e.Moment, err)
	}
	if upload {
		u := Upload{OrderID: e.OrderID, OrderNumber: e.OrderNumber, State: UploadPending, NextAt: e.At, CreatedAt: e.At,
			Shipment: Shipment{TransactionID: sub.TransactionID, MchID: sub.MchID, OutTradeNo: sub.OutTradeNo,
				PayerOpenID: sub.PayerOpenID, Logistics: lt, ItemDesc: truncate(sub.ItemDesc, 120)}}
		if lt == LogisticsExpress {
			u.Shipment.Carrier, u.Shipment.TrackingNo = e.Carrier, e.TrackingNo
			u.Shipment.ReceiverContact = MaskPhone(sub.ReceiverPhone)
		}
		if sub.TransactionID == "" || sub.PayerOpenID == "" {
			u.State, u.LastError = UploadNotRequired, "not paid through WeChat Pay"
		}
		if err := st.EnqueueUpload(ctx, u); err != nil {
			return fmt.Errorf("platform: %s: %w", e.Moment, err)
		}
	}
	if sub.ShopperID == 0 || sub.OpenID == "" {
		return nil
	}
	if e.Moment == order.MomentPaid && sub.Fulfillment == order.FulfillmentPickup && e.Channel == order.ChannelOnline {
		kinds = append(kinds, KindPickupReady)
	}
	for _, k := range kinds {
		t, ok := s.Templates[k]
		if !ok || t.ID == "" {
			continue
		}
		acc, err := st.TakeAcceptance(ctx, sub.ShopperID, t.ID, e.At)
		if err != nil {
			return fmt.Errorf("platform: %s: %w", e.Moment, err)
		}
		if acc == 0 {
			continue // the shopper did not subscribe (or has none left)
		}
		m := Message{OrderID: e.OrderID, OrderNumber: e.OrderNumber, ShopperID: sub.ShopperID, OpenID: sub.OpenID,
			Kind: k, TemplateID: t.ID, Page: Render(t.Page, e, sub), Data: map[string]string{}, AcceptanceID: acc,
			State: MessagePending, CreatedAt: e.At}
		for field, pattern := range t.Fields {
			m.Data[field] = Render(pattern, e, sub)
		}
		if err := st.EnqueueMessage(ctx, m); err != nil {
			return fmt.Errorf("platform: %s: %w", e.Moment, err)
		}
	}
	return nil
}

// MessagesFor is the message kinds an order's moment sends.
func MessagesFor(e order.Event) []string {
	switch e.Moment {
	case order.MomentPaid:
		return []string{KindPaid}
	case order.MomentShipped:
		return []string{KindShipped}
	case order.MomentRefunded:
		if len(e.Lines) > 0 {
			return []string{KindRefundResult}
		}
	}
	return nil
}

// Render fills a template pattern's placeholders for a moment.
func Render(pattern string, e order.Event, sub Subject) string {
	amount := e.Payable
	if e.Moment == order.MomentRefunded {
		amount = e.Amount
	}
	status := map[order.Moment]string{order.MomentPaid: "已支付", order.MomentShipped: "已发货", order.MomentRefunded: "已退款"}[e.Moment]
	r := strings.NewReplacer("{order_no}", e.OrderNumber, "{amount}", fmt.Sprintf("%d.%02d", amount/100, amount%100),
		"{time}", e.At.In(domain.Shanghai).Format("2006-01-02 15:04"), "{carrier}", e.Carrier,
		"{tracking_no}", e.TrackingNo, "{status}", status, "{store}", sub.StoreName)
	return truncate(r.Replace(pattern), 200)
}

// MaskPhone masks a phone number but its last four digits (what WeChat
// accepts as receiver_contact).
func MaskPhone(p string) string {
	if len(p) < 7 {
		return ""
	}
	return p[:3] + strings.Repeat("*", len(p)-7) + p[len(p)-4:]
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// --- the shopper ---

// Accept records the one-time acceptances a shopper's
// wx.requestSubscribeMessage reported (template id → "accept", "reject",
// "ban" or "filter"); reportID makes a repeated report count once. It
// returns how many acceptances were recorded.
func (s *Service) Accept(ctx context.Context, shopperID int64, reportID string, results map[string]string) (int, error) {
	known := map[string]bool{}
	for _, t := range s.Templates {
		known[t.ID] = true
	}
	acc := map[string]string{}
	var fe []domain.FieldError
	for id, r := range results {
		switch {
		case !known[id]:
			fe = append(fe, domain.FieldError{Field: "results." + truncate(id, 64), Code: ErrUnknownTemplate.Code, Message: ErrUnknownTemplate.Message})
		case r == "accept":
			acc[id] = kindOf(s.Templates, id)
		case r == "reject" || r == "ban" || r == "filter":
		default:
			fe = append(fe, domain.FieldError{Field: "results." + truncate(id, 64), Code: "oneof", Message: "must be one of: accept reject ban filter"})
		}
	}
	if len(fe) > 0 {
		return 0, domain.Invalid(fe...)
	}
	if len(acc) == 0 {
		return 0, nil
	}
	return s.Store.RecordAcceptances(ctx, shopperID, reportID, acc, s.now())
}

func kindOf(ts map[string]Template, id string) string {
	for k, t := range ts {
		if t.ID == id {
			return k
		}
	}
	return ""
}

// --- workers ---

// drain leases due jobs, runs each (do says whether it reached WeChat and
// updates the job) and records the outcome; it returns how many reached
// WeChat.
func drain[J any](ctx context.Context, lease func() ([]J, error), do func(*J) bool, finish func(context.Context, J) error) (int, error) {
	js, err := lease()
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, j := range js {
		if do(&j) {
			n++
		}
		if err := finish(ctx, j); err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// retryLater records a failed attempt: the next one after the backoff, or
// none (failed is true) once MaxAttempts are spent.
func (s *Service) retryLater(err error, attempts int) (lastError string, next time.Time, failed bool) {
	return truncate(err.Error(), 500), s.now().Add(Backoff(attempts)), attempts >= s.maxAttempts()
}

// UploadDue uploads up to limit due shipping uploads; it returns how many
// reached WeChat. Several workers may run it: each leases different jobs.
func (s *Service) UploadDue(ctx context.Context, limit int) (int, error) {
	n, err := drain(ctx, func() ([]Upload, error) { return s.Store.LeaseUploads(ctx, s.now(), 2*time.Minute, limit) },
		func(u *Upload) bool {
			u.Shipment.UploadedAt = s.now()
			err := s.WeChat.UploadShipping(ctx, u.Shipment)
			u.Attempts++
			switch {
			case err == nil || errors.Is(err, ErrAlreadyShipped):
				u.State, u.UploadedAt, u.LastError = UploadUploaded, u.Shipment.UploadedAt, ""
				return true
			case errors.Is(err, ErrNotManaged):
				u.State, u.LastError = UploadNotRequired, err.Error()
			default:
				var failed bool
				if u.LastError, u.NextAt, failed = s.retryLater(err, u.Attempts); failed {
					u.State = UploadFailed
				}
			}
			return false
		}, s.Store.FinishUpload)
	if err != nil {
		return n, fmt.Errorf("platform: upload: %w", err)
	}
	return n, nil
}

func (s *Service) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return 10
}

// SendDue sends up to limit due subscribe messages; it returns how many
// were sent. A message whose acceptance WeChat no longer has (43101) is
// refused, not retried: retrying a message that may have been sent is
// safe, because a one-time acceptance is spent by the first send and the
// second is refused with 43101.
func (s *Service) SendDue(ctx context.Context, limit int) (int, error) {
	n, err := drain(ctx, func() ([]Message, error) { return s.Store.LeaseMessages(ctx, s.now(), 2*time.Minute, limit) },
		func(m *Message) bool {
			err := s.WeChat.SendMessage(ctx, *m)
			m.Attempts++
			switch {
			case err == nil:
				m.State, m.SentAt, m.LastError = MessageSent, s.now(), ""
				return true
			case errors.Is(err, ErrMessageRefused):
				m.State, m.LastError = MessageRefused, err.Error()
			default:
				var failed bool
				if m.LastError, m.NextAt, failed = s.retryLater(err, m.Attempts); failed {
					m.State = MessageFailed
				}
			}
			return false
		}, s.Store.FinishMessage)
	if err != nil {
		return n, fmt.Errorf("platform: send: %w", err)
	}
	return n, nil
}

// --- the back office ---

// UploadOf returns an order's shipping upload (ErrUploadNotFound).
func (s *Service) UploadOf(ctx context.Context, orderNo string) (Upload, error) {
	if !order.ValidNumber(orderNo) {
		return Upload{}, ErrUploadNotFound
	}
	return s.Store.UploadOf(ctx, orderNo)
}

// RetryUpload puts a failed upload back in the queue, audited.
func (s *Service) RetryUpload(ctx context.Context, orderNo string, by domain.Actor, requestID string) (Upload, error) {
	if !order.ValidNumber(orderNo) {
		return Upload{}, ErrUploadNotFound
	}
	now := s.now()
	return s.Store.RetryUpload(ctx, orderNo, now, domain.AuditEntry{Actor: by, Action: "order.shipping_upload.retry",
		Entity: "order", EntityID: orderNo, Before: map[string]any{"state": UploadFailed},
		After: map[string]any{"state": UploadPending}, RequestID: requestID, At: now})
}

// Carriers returns WeChat's carriers for the ship form.
func (s *Service) Carriers(ctx context.Context) ([]Delivery, error) {
	return s.WeChat.DeliveryList(ctx)
}

// Settlement is the platform's trade_manage_order_settlement push: a
// payment's receipt was confirmed (ConfirmReceiveTime > 0) and, later,
// settled.
type Settlement struct {
	TransactionID      string
	MerchantTradeNo    string
	ConfirmReceiveTime int64
	SettlementTime     int64
}

// Settled completes the order whose receipt was confirmed at WeChat. A
// push for no order of ours, or before confirmation, changes nothing.
func (s *Service) Settled(ctx context.Context, st Settlement) (string, error) {
	if st.ConfirmReceiveTime <= 0 && st.SettlementTime <= 0 {
		return "", nil
	}
	no, err := s.Store.OrderByPayment(ctx, st.TransactionID, st.MerchantTradeNo)
	if errors.Is(err, order.ErrOrderNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("platform: settled: %w", err)
	}
	o, err := s.Orders.ConfirmedAtWeChat(ctx, no)
	if errors.Is(err, order.ErrInvalidTransition) {
		return no, nil // a pickup, or still paid: nothing to confirm
	}
	if err != nil {
		return "", err
	}
	return o.Number, nil
}
