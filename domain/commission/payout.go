package commission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/yutang/yutang/domain"
)

// Payout pays reviewed settlement batches by WeChat Pay merchant transfer
// (商家转账) to each KOC's WeChat balance; the KOC confirms each transfer in
// the mini-program (wx.requestMerchantTransfer with PackageInfo).
//
// A transfer is recorded "transferring" (committed) before WeChat Pay is
// asked, and is idempotent on its out_bill_no, fixed when the batch was
// created: an answer lost to a crash or a timeout is found again by Sync,
// which queries every transfer whose outcome is unknown and asks again
// (same out_bill_no, same parameters) when WeChat Pay never saw it. A
// transfer that ends FAIL or CANCELLED (not confirmed within 24 hours)
// returns its commission to settleable, for a later batch.
type Payout struct {
	Store     PayoutStore
	Transfers Transferer
	// MchID and AppID are what wx.requestMerchantTransfer needs with the
	// package.
	MchID, AppID string
	Now          func() time.Time
	Log          *slog.Logger
}

// TransferState is a merchant transfer's state at WeChat Pay.
type TransferState string

// The states of a merchant transfer.
const (
	TransferAccepted        TransferState = "ACCEPTED"
	TransferProcessing      TransferState = "PROCESSING"
	TransferWaitUserConfirm TransferState = "WAIT_USER_CONFIRM"
	TransferTransfering     TransferState = "TRANSFERING" // sic: WeChat's spelling
	TransferSuccess         TransferState = "SUCCESS"
	TransferFail            TransferState = "FAIL"
	TransferCanceling       TransferState = "CANCELING"
	TransferCancelled       TransferState = "CANCELLED"
)

// Final reports whether the state can no longer change.
func (s TransferState) Final() bool {
	return s == TransferSuccess || s == TransferFail || s == TransferCancelled
}

// Settlement item statuses.
const (
	ItemSettled      = "settled"
	ItemTransferring = "transferring"
	ItemPaid         = "paid"
	ItemFailed       = "failed"
)

// Why a transfer was not asked for (its fail_reason): these return the
// commission to settleable at once.
const (
	ReasonOverTransferLimit = "OVER_TRANSFER_LIMIT"
	ReasonRealNameRequired  = "REAL_NAME_REQUIRED"
	ReasonNoOpenID          = "NO_OPENID"
)

// TransferRequest is one transfer to ask WeChat Pay for.
type TransferRequest struct {
	OutBillNo string
	OpenID    string
	UserName  string // the real name, sent encrypted; empty below the threshold
	Amount    domain.Fen
	Remark    string // shown to the KOC, at most 32 characters
}

// Transfer is WeChat Pay's view of a transfer: an answer, a query or a
// notification. PackageInfo comes only with the answer to a request.
type Transfer struct {
	OutBillNo   string
	BillNo      string // transfer_bill_no
	State       TransferState
	Amount      domain.Fen // 0 when the source did not say
	OpenID      string
	PackageInfo string
	FailReason  string
}

// TransferNotice is a verified, decrypted transfer notification.
type TransferNotice struct {
	EventID, EventType string
	Transfer
}

// EventTransferFinished is the event type of a transfer that ended.
const EventTransferFinished = "MCHTRANSFER.BILL.FINISHED"

// Transferer asks WeChat Pay for merchant transfers. Errors: ErrTransferNotFound
// from QueryTransfer when WeChat Pay has no such bill, ErrTransferRejected
// when a request was refused for good; anything else leaves the outcome
// unknown.
type Transferer interface {
	Transfer(ctx context.Context, r TransferRequest) (Transfer, error)
	QueryTransfer(ctx context.Context, outBillNo string) (Transfer, error)
}

// Errors of the payout.
var (
	ErrTransferNotFound = domain.E(domain.KindNotFound, "transfer_not_found", "No such transfer.")
	ErrTransferRejected = domain.E(domain.KindUnprocessable, "transfer_rejected", "WeChat Pay refused the transfer.")
	ErrTransferUnknown  = domain.E(domain.KindUnavailable, "transfer_unknown", "WeChat Pay did not answer; the transfer will be checked again.")
	ErrTransferMismatch = domain.E(domain.KindConflict, "transfer_mismatch", "The transfer does not match the settlement item.")
)

// PayoutSettings are the payout's limits.
type PayoutSettings struct {
	TransferLimit domain.Fen // per transfer
	DailyLimit    domain.Fen // asked per Shanghai day, failed transfers excepted
	RealNameFrom  domain.Fen // from this amount the real name is required and sent
}

// WeChatRealNameFrom is the amount from which WeChat Pay requires the
// payee's name (2000 yuan).
const WeChatRealNameFrom domain.Fen = 200000

// Validate reports every field out of bounds.
func (s PayoutSettings) Validate() error {
	var fe []domain.FieldError
	if s.TransferLimit < 1 || s.TransferLimit > 100_000_000 {
		fe = append(fe, domain.FieldError{Field: "transfer_limit_fen", Code: "out_of_range", Message: "must be 1 to 100000000"})
	}
	if s.DailyLimit < 1 || s.DailyLimit > 1_000_000_000 {
		fe = append(fe, domain.FieldError{Field: "daily_limit_fen", Code: "out_of_range", Message: "must be 1 to 1000000000"})
	}
	if s.RealNameFrom < 1 || s.RealNameFrom > WeChatRealNameFrom {
		fe = append(fe, domain.FieldError{Field: "real_name_from_fen", Code: "out_of_range", Message: "must be 1 to 200000 (WeChat Pay requires the name from 2000 yuan)"})
	}
	if len(fe) > 0 {
		return domain.OutOfRange(fe...)
	}
	return nil
}

// PayoutItem is a settlement item as the payout sees it.
type PayoutItem struct {
	ID, BatchID, KOCID int64
	OpenID, RealName   string
	Amount             domain.Fen
	Status             string
	OutBillNo          string
	BillNo             string
	PackageInfo        string
	WxState            TransferState
	FailReason         string
	AskedAt            time.Time
}

// Check decides whether an item may be asked for now: "" when it may, or
// the reason it returns to settleable.
func (s PayoutSettings) Check(it PayoutItem) string {
	switch {
	case it.OpenID == "":
		return ReasonNoOpenID
	case it.Amount > s.TransferLimit:
		return ReasonOverTransferLimit
	case it.Amount >= s.RealNameFrom && it.RealName == "":
		return ReasonRealNameRequired
	}
	return ""
}

// PayoutStore is what the payout needs of storage.
type PayoutStore interface {
	InPayoutTx(ctx context.Context, fn func(PayoutStore) error) error
	WriteAudit(ctx context.Context, e domain.AuditEntry) error

	PayoutSettings(ctx context.Context) (PayoutSettings, error)
	SavePayoutSettings(ctx context.Context, s PayoutSettings) error

	Batch(ctx context.Context, id int64, forUpdate bool) (Batch, error)
	SetBatchStatus(ctx context.Context, id int64, status, by string, at time.Time) error
	// PayoutItems lists a batch's items in a status.
	PayoutItems(ctx context.Context, batchID int64, status string) ([]PayoutItem, error)
	// PayoutItem reads one item, locked with forUpdate.
	PayoutItem(ctx context.Context, id int64, forUpdate bool) (PayoutItem, error)
	PayoutItemByOutBillNo(ctx context.Context, outBillNo string) (PayoutItem, error)
	// LockPayoutDay serialises the daily-limit check until the transaction ends.
	LockPayoutDay(ctx context.Context) error
	// AskedSince sums the transfers asked since t that did not fail.
	AskedSince(ctx context.Context, t time.Time) (domain.Fen, error)
	MarkTransferring(ctx context.Context, id int64, at time.Time) error
	// SaveTransferState records what WeChat Pay said of an open transfer.
	SaveTransferState(ctx context.Context, id int64, t Transfer, at time.Time) error
	// EndTransfer ends an item paid (its settled commission moves to paid)
	// or failed (back to settleable), once: false when it had ended.
	EndTransfer(ctx context.Context, id int64, status, reason string, at time.Time) (bool, error)
	// FinishBatch marks a paying batch paid when none of its items is open.
	FinishBatch(ctx context.Context, id int64, at time.Time) error
	// OpenTransfers lists transferring items to ask WeChat Pay about:
	// asked before askedBefore, and never answered or not checked since
	// checkedBefore.
	OpenTransfers(ctx context.Context, askedBefore, checkedBefore time.Time, limit int) ([]PayoutItem, error)
	// KOCTransfers lists a KOC's transfers, newest first.
	KOCTransfers(ctx context.Context, kocID int64, status string) ([]PayoutItem, error)
}

func (p *Payout) now() time.Time { return domain.Clock(p.Now).Now() }

func (p *Payout) log() *slog.Logger { return domain.Logger(p.Log) }

// Settings returns the payout settings.
func (p *Payout) Settings(ctx context.Context) (PayoutSettings, error) {
	return p.Store.PayoutSettings(ctx)
}

// SaveSettings replaces the payout settings (audited).
func (p *Payout) SaveSettings(ctx context.Context, by domain.Actor, reqID string, s PayoutSettings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return p.Store.InPayoutTx(ctx, func(st PayoutStore) error {
		before, err := st.PayoutSettings(ctx)
		if err != nil {
			return err
		}
		if err := st.SavePayoutSettings(ctx, s); err != nil {
			return err
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "koc.payout_settings", Entity: "koc_settings", EntityID: "1",
			Before: before, After: s, RequestID: reqID, At: p.now()})
	})
}

// PayResult is what one PayBatch call did.
type PayResult struct {
	Asked    int // transfers asked for (answered or not)
	Returned int // items returned to settleable without asking (limits, real name)
	Deferred int // items left for another day (the daily limit)
}

// remark is shown to the KOC in WeChat (at most 32 characters).
func remark(batchID int64) string { return fmt.Sprintf("推广佣金结算 第%d批", batchID) }

// PayBatch pays a reviewed batch (audited): the batch becomes "paying" and
// each settled item is checked against the limits and asked for. Calling it
// again on a paying batch continues with the items still settled (those the
// daily limit deferred). The batch becomes "paid" when every item has ended.
func (p *Payout) PayBatch(ctx context.Context, by domain.Actor, reqID string, batchID int64) (PayResult, error) {
	var res PayResult
	err := p.Store.InPayoutTx(ctx, func(st PayoutStore) error {
		b, err := st.Batch(ctx, batchID, true)
		if err != nil {
			return err
		}
		if b.Status != "reviewed" && b.Status != "paying" {
			return ErrBatchStatus
		}
		if b.Status == "reviewed" {
			if err := st.SetBatchStatus(ctx, batchID, "paying", by.String(), p.now()); err != nil {
				return err
			}
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "settlement.pay", Entity: "settlement_batch",
			EntityID: fmt.Sprint(batchID), Before: map[string]any{"status": b.Status},
			After: map[string]any{"status": "paying", "total_fen": b.Total}, RequestID: reqID, At: p.now()})
	})
	if err != nil {
		return res, fmt.Errorf("commission: pay batch %d: %w", batchID, err)
	}
	items, err := p.Store.PayoutItems(ctx, batchID, ItemSettled)
	if err != nil {
		return res, fmt.Errorf("commission: pay batch %d: %w", batchID, err)
	}
	for _, it := range items {
		outcome, err := p.start(ctx, it.ID)
		if err != nil {
			return res, fmt.Errorf("commission: pay batch %d: item %d: %w", batchID, it.ID, err)
		}
		switch outcome {
		case "ask":
			res.Asked++
			it.Status = ItemTransferring
			p.ask(ctx, it)
		case "returned":
			res.Returned++
		case "deferred":
			res.Deferred++
		}
	}
	if err := p.Store.FinishBatch(ctx, batchID, p.now()); err != nil {
		return res, fmt.Errorf("commission: pay batch %d: %w", batchID, err)
	}
	return res, nil
}

// start decides and records, in one transaction, what becomes of a settled
// item: "ask" (recorded transferring: the request may now be sent),
// "returned" (to settleable, with the reason), "deferred" (the day's limit
// is reached) or "" (no longer settled).
func (p *Payout) start(ctx context.Context, id int64) (string, error) {
	var outcome string
	err := p.Store.InPayoutTx(ctx, func(st PayoutStore) error {
		outcome = ""
		if err := st.LockPayoutDay(ctx); err != nil {
			return err
		}
		it, err := st.PayoutItem(ctx, id, true)
		if err != nil || it.Status != ItemSettled {
			return err
		}
		set, err := st.PayoutSettings(ctx)
		if err != nil {
			return err
		}
		now := p.now()
		if reason := set.Check(it); reason != "" {
			outcome = "returned"
			if _, err := st.EndTransfer(ctx, id, ItemFailed, reason, now); err != nil {
				return err
			}
			return nil
		}
		asked, err := st.AskedSince(ctx, startOfDay(now))
		if err != nil {
			return err
		}
		if asked+it.Amount > set.DailyLimit {
			outcome = "deferred"
			return nil
		}
		outcome = "ask"
		return st.MarkTransferring(ctx, id, now)
	})
	return outcome, err
}

// ask sends the transfer request of a transferring item and records the
// answer; when the outcome is unknown it leaves the item for Sync.
func (p *Payout) ask(ctx context.Context, it PayoutItem) {
	req := TransferRequest{OutBillNo: it.OutBillNo, OpenID: it.OpenID, Amount: it.Amount, Remark: remark(it.BatchID)}
	if set, err := p.Store.PayoutSettings(ctx); err == nil && it.Amount >= set.RealNameFrom {
		req.UserName = it.RealName
	} else if err != nil {
		p.log().WarnContext(ctx, "payout settings unreadable; real name sent", "err", err)
		req.UserName = it.RealName
	}
	t, err := p.Transfers.Transfer(ctx, req)
	switch {
	case err == nil:
	case errors.Is(err, ErrTransferRejected):
		t = Transfer{OutBillNo: it.OutBillNo, State: TransferFail, FailReason: rejectReason(err)}
	default:
		p.log().WarnContext(ctx, "transfer outcome unknown", "out_bill_no", it.OutBillNo, "err", err)
		return
	}
	if err := p.record(ctx, it.ID, t); err != nil {
		p.log().ErrorContext(ctx, "transfer answer not recorded", "out_bill_no", it.OutBillNo, "err", err)
	}
}

// startOfDay is the start of t's business day (Asia/Shanghai).
func startOfDay(t time.Time) time.Time {
	t = t.In(domain.Shanghai)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, domain.Shanghai)
}

func rejectReason(err error) string {
	var de *domain.Error
	if errors.As(err, &de) && de.Err != nil {
		var code interface{ TransferCode() string }
		if errors.As(de.Err, &code) {
			return code.TransferCode()
		}
	}
	return "REJECTED"
}

// record applies what WeChat Pay said of an item's transfer: the state
// (and bill number and package) of an open transfer; paid on SUCCESS;
// failed, back to settleable, on FAIL or CANCELLED. It is idempotent.
func (p *Payout) record(ctx context.Context, id int64, t Transfer) error {
	err := p.Store.InPayoutTx(ctx, func(st PayoutStore) error {
		it, err := st.PayoutItem(ctx, id, true)
		if err != nil {
			return err
		}
		if it.Status != ItemTransferring {
			return nil
		}
		if t.OutBillNo != it.OutBillNo || (t.Amount != 0 && t.Amount != it.Amount) ||
			(it.BillNo != "" && t.BillNo != "" && t.BillNo != it.BillNo) {
			return ErrTransferMismatch.WithMessage("Transfer %s (%d fen, bill %s) does not match item %d (%s, %d fen, bill %s).",
				t.OutBillNo, t.Amount, t.BillNo, it.ID, it.OutBillNo, it.Amount, it.BillNo)
		}
		now := p.now()
		if err := st.SaveTransferState(ctx, id, t, now); err != nil {
			return err
		}
		switch t.State {
		case TransferSuccess:
			_, err = st.EndTransfer(ctx, id, ItemPaid, "", now)
		case TransferFail, TransferCancelled:
			reason := t.FailReason
			if reason == "" {
				reason = string(t.State)
			}
			_, err = st.EndTransfer(ctx, id, ItemFailed, reason, now)
		}
		if err != nil {
			return err
		}
		return st.FinishBatch(ctx, it.BatchID, now)
	})
	if err != nil {
		return fmt.Errorf("commission: record transfer %s: %w", t.OutBillNo, err)
	}
	return nil
}

// HandleNotice applies a transfer notification. Unknown out_bill_nos and
// other event types are ignored (answered 2xx: retrying cannot help).
func (p *Payout) HandleNotice(ctx context.Context, n TransferNotice) error {
	if n.EventType != EventTransferFinished {
		p.log().InfoContext(ctx, "transfer notification ignored", "event_type", n.EventType, "out_bill_no", n.OutBillNo)
		return nil
	}
	it, err := p.Store.PayoutItemByOutBillNo(ctx, n.OutBillNo)
	if errors.Is(err, ErrTransferNotFound) {
		p.log().WarnContext(ctx, "transfer notification for an unknown bill", "out_bill_no", n.OutBillNo)
		return nil
	}
	if err != nil {
		return err
	}
	return p.record(ctx, it.ID, n.Transfer)
}

// Sync asks WeChat Pay about transfers whose outcome is unknown or still
// open (a worker): asked more than a minute ago and never answered, or not
// checked for ten minutes. One WeChat Pay has no record of is asked for
// again (same out_bill_no); one waiting for the KOC whose package was lost
// is asked again too, which returns the same bill with its package. It
// returns how many it looked at.
func (p *Payout) Sync(ctx context.Context, limit int) (int, error) {
	now := p.now()
	items, err := p.Store.OpenTransfers(ctx, now.Add(-time.Minute), now.Add(-10*time.Minute), limit)
	if err != nil {
		return 0, fmt.Errorf("commission: sync transfers: %w", err)
	}
	var errs []error
	for _, it := range items {
		t, err := p.Transfers.QueryTransfer(ctx, it.OutBillNo)
		switch {
		case errors.Is(err, ErrTransferNotFound):
			p.ask(ctx, it)
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("query %s: %w", it.OutBillNo, err))
			continue
		}
		if t.State == TransferWaitUserConfirm && it.PackageInfo == "" {
			p.ask(ctx, it)
			continue
		}
		if err := p.record(ctx, it.ID, t); err != nil {
			errs = append(errs, err)
		}
	}
	return len(items), errors.Join(errs...)
}

// PendingTransfers lists the KOC's transfers waiting for them to confirm
// in the mini-program.
func (p *Payout) PendingTransfers(ctx context.Context, kocID int64) ([]PayoutItem, error) {
	items, err := p.Store.KOCTransfers(ctx, kocID, ItemTransferring)
	if err != nil {
		return nil, err
	}
	out := items[:0]
	for _, it := range items {
		if it.PackageInfo != "" && (it.WxState == TransferWaitUserConfirm || it.WxState == "") {
			out = append(out, it)
		}
	}
	return out, nil
}
