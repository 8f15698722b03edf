package wxpaysim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Durability (Open): the simulator's in-memory maps stay as they are; every
// mutation appends the whole new state of the trade, refund or transfer it
// touched, and every notification scheduled or finished, as one JSON line to
// a journal, written and fsync'd before the call that caused it answers.
// At start the journal is replayed (the last line for a key wins; a torn
// last line from a crash is ignored), compacted into a fresh file holding
// only the current records, and the notifications not yet acknowledged are
// delivered again, with their attempt count.

const journalName = "journal.jsonl"

type journal struct {
	f       *os.File
	buf     bytes.Buffer
	err     error // the first write error: the simulator then answers 5xx
	written int64 // batches written (under Simulator.mu)

	syncMu sync.Mutex // one fsync at a time (group commit: flush)
	synced int64      // batches known durable (under syncMu)
}

// record is one journal line; exactly one field besides K is set.
type record struct {
	K         string     `json:"k"` // trade, refund, transfer, notify, delivered, faults
	Trade     *jTrade    `json:"trade,omitempty"`
	Refund    *jRefund   `json:"refund,omitempty"`
	Transfer  *jTransfer `json:"transfer,omitempty"`
	Delivery  *jDelivery `json:"delivery,omitempty"`
	Delivered string     `json:"delivered,omitempty"` // an event id
	Faults    *jFaults   `json:"faults,omitempty"`
}

type jTrade struct {
	OutTradeNo    string    `json:"out_trade_no"`
	TradeType     string    `json:"trade_type"`
	AppID         string    `json:"appid"`
	MchID         string    `json:"mchid"`
	Description   string    `json:"description"`
	Attach        string    `json:"attach,omitempty"`
	NotifyURL     string    `json:"notify_url"`
	PayerOpenID   string    `json:"payer_openid,omitempty"`
	Total         int64     `json:"total"`
	TimeExpire    time.Time `json:"time_expire,omitzero"`
	CreateTime    time.Time `json:"create_time"`
	State         string    `json:"state"`
	TransactionID string    `json:"transaction_id,omitempty"`
	SuccessTime   time.Time `json:"success_time,omitzero"`
	PrepayIDs     []string  `json:"prepay_ids"`
}

type jRefund struct {
	OutRefundNo string    `json:"out_refund_no"`
	RefundID    string    `json:"refund_id"`
	OutTradeNo  string    `json:"out_trade_no"`
	Reason      string    `json:"reason,omitempty"`
	NotifyURL   string    `json:"notify_url,omitempty"`
	Amount      int64     `json:"amount"`
	Status      string    `json:"status"`
	CreateTime  time.Time `json:"create_time"`
	SuccessTime time.Time `json:"success_time,omitzero"`
}

type jTransfer struct {
	OutBillNo   string    `json:"out_bill_no"`
	BillNo      string    `json:"bill_no"`
	AppID       string    `json:"appid"`
	OpenID      string    `json:"openid"`
	SceneID     string    `json:"scene_id"`
	Remark      string    `json:"remark"`
	UserName    string    `json:"user_name,omitempty"`
	NotifyURL   string    `json:"notify_url,omitempty"`
	Amount      int64     `json:"amount"`
	State       string    `json:"state"`
	FailReason  string    `json:"fail_reason,omitempty"`
	PackageInfo string    `json:"package_info"`
	CreateTime  time.Time `json:"create_time"`
	Update      time.Time `json:"update"`
}

type jDelivery struct {
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	Key       string `json:"key"`
	URL       string `json:"url"`
	Body      []byte `json:"body"`
	Attempt   int    `json:"attempt"`
}

// jFaults keeps the refund faults armed through the control API (a refusal
// or an ABNORMAL end still to come), so a restart does not disarm them.
type jFaults struct {
	Refusals     []string `json:"refusals,omitempty"`
	AbnormalNext int      `json:"abnormal_next,omitempty"`
}

func (t *trade) record() record {
	return record{K: "trade", Trade: &jTrade{
		OutTradeNo: t.outTradeNo, TradeType: t.tradeType, AppID: t.appID, MchID: t.mchID,
		Description: t.description, Attach: t.attach, NotifyURL: t.notifyURL, PayerOpenID: t.payerOpenID,
		Total: t.total, TimeExpire: t.timeExpire, CreateTime: t.createTime, State: t.state,
		TransactionID: t.transactionID, SuccessTime: t.successTime, PrepayIDs: t.prepayIDs,
	}}
}

func (rf *refund) record() record {
	return record{K: "refund", Refund: &jRefund{
		OutRefundNo: rf.outRefundNo, RefundID: rf.refundID, OutTradeNo: rf.trade.outTradeNo,
		Reason: rf.reason, NotifyURL: rf.notifyURL, Amount: rf.amount, Status: rf.status,
		CreateTime: rf.createTime, SuccessTime: rf.successTime,
	}}
}

func (t *transfer) record() record {
	return record{K: "transfer", Transfer: &jTransfer{
		OutBillNo: t.outBillNo, BillNo: t.billNo, AppID: t.appID, OpenID: t.openID, SceneID: t.sceneID,
		Remark: t.remark, UserName: t.userName, NotifyURL: t.notifyURL, Amount: t.amount, State: t.state,
		FailReason: t.failReason, PackageInfo: t.packageInfo, CreateTime: t.createTime, Update: t.update,
	}}
}

func (d *delivery) record() record {
	return record{K: "notify", Delivery: &jDelivery{EventID: d.eventID, EventType: d.eventType, Key: d.key,
		URL: d.url, Body: d.body, Attempt: d.attempt}}
}

// persist appends records to the journal. Call with s.mu held (the
// journal's order is the order of the changes). The records are durable
// only after flush, which every answer and every notification waits for,
// outside the lock: one fsync then covers every change written while the
// previous one ran (group commit), instead of each change holding the
// simulator's lock through its own fsync. In-process simulators (New) have
// no journal.
func (s *Simulator) persist(recs ...record) {
	j := s.journal
	if j == nil || j.err != nil {
		return
	}
	j.buf.Reset()
	enc := json.NewEncoder(&j.buf)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			panic(err) // our own structs always marshal
		}
	}
	if _, err := j.f.Write(j.buf.Bytes()); err != nil {
		j.err = fmt.Errorf("wxpaysim: journal: %w", err)
		return
	}
	j.written++
}

// flush makes every change written so far durable; call it without s.mu,
// before answering a request or sending a notification. A caller whose
// changes another caller's fsync already covered returns at once.
func (s *Simulator) flush() error {
	j := s.journal
	if j == nil {
		return nil
	}
	s.mu.Lock()
	want, f, err := j.written, j.f, j.err
	s.mu.Unlock()
	if err != nil || f == nil {
		return err
	}
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced >= want {
		return nil
	}
	s.mu.Lock()
	upto := j.written
	s.mu.Unlock()
	if err := f.Sync(); err != nil {
		s.mu.Lock()
		if j.err == nil {
			j.err = fmt.Errorf("wxpaysim: journal: %w", err)
		}
		s.mu.Unlock()
		return err
	}
	j.synced = upto
	return nil
}

// journalFailure is the error every API call answers once the journal can
// no longer be written: nothing may be acknowledged that would be forgotten.
func (s *Simulator) journalFailure() *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal != nil && s.journal.err != nil {
		return errf(500, "SYSTEM_ERROR", "系统错误")
	}
	return nil
}

func (s *Simulator) persistTrade(t *trade)    { s.persist(t.record()) }
func (s *Simulator) persistRefund(rf *refund) { s.persist(rf.record(), rf.trade.record()) }
func (s *Simulator) persistTransfer(t *transfer) {
	s.persist(t.record())
}
func (s *Simulator) persistFaults() {
	s.persist(record{K: "faults", Faults: &jFaults{Refusals: s.refusals, AbnormalNext: s.abnormalNext}})
}

// persistDelivered records that the notification with this event id needs
// no more attempts (acknowledged, dropped, or out of retries).
func (s *Simulator) persistDelivered(eventID string) {
	s.mu.Lock()
	s.persist(record{K: "delivered", Delivered: eventID})
	s.mu.Unlock()
	_ = s.flush()
}

// Open starts a simulator whose state lives under dir (created if needed):
// its keys (State; generated on first start, files 0600) and a journal of
// its trades, refunds, transfers, armed refund faults and undelivered
// notifications. cfg's keys (APIv3Key, MerchantPublicKey,
// MerchantCertSerial, PlatformKey, PlatformSerial) are taken from the state
// and must be left empty. Notifications not acknowledged before the last
// stop are delivered again at once; refunds left PROCESSING complete after
// RefundDelay (unless ManualRefunds).
func Open(dir string, cfg Config) (*Simulator, State, error) {
	st, err := LoadState(dir)
	if err != nil {
		return nil, State{}, err
	}
	cfg.APIv3Key = st.APIv3Key
	cfg.MerchantPublicKey = st.Merchant.PublicKey
	cfg.MerchantCertSerial = st.Merchant.Serial
	cfg.PlatformKey = st.PlatformKey
	cfg.PlatformSerial = st.PlatformSerial
	s, err := New(cfg)
	if err != nil {
		return nil, State{}, err
	}
	pending, err := s.replay(filepath.Join(dir, journalName))
	if err != nil {
		s.Close()
		return nil, State{}, err
	}
	if err := s.compact(dir, pending); err != nil {
		s.Close()
		return nil, State{}, err
	}
	s.mu.Lock()
	for _, d := range pending {
		s.sched.deliverAfter(0, d)
	}
	if !s.cfg.ManualRefunds {
		for no, rf := range s.refunds {
			if rf.status == "PROCESSING" {
				s.sched.after(s.cfg.RefundDelay, func() { _ = s.CompleteRefund(no) })
			}
		}
	}
	s.mu.Unlock()
	return s, st, nil
}

// replay loads the journal into the maps and returns the notifications
// still to deliver, in the order they were scheduled.
func (s *Simulator) replay(path string) ([]*delivery, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wxpaysim: journal: %w", err)
	}
	defer f.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := map[string]*delivery{}
	var order []string
	r := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// A last line without its newline was torn by a crash: the
			// call that wrote it never answered, so it is dropped.
			break
		}
		if err != nil {
			return nil, fmt.Errorf("wxpaysim: journal: %w", err)
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("wxpaysim: journal %s line %d: %w", path, line, err)
		}
		switch {
		case rec.Trade != nil:
			s.loadTrade(rec.Trade)
		case rec.Refund != nil:
			if err := s.loadRefund(rec.Refund); err != nil {
				return nil, fmt.Errorf("wxpaysim: journal %s line %d: %w", path, line, err)
			}
		case rec.Transfer != nil:
			s.loadTransfer(rec.Transfer)
		case rec.Delivery != nil:
			jd := rec.Delivery
			if _, ok := pending[jd.EventID]; !ok {
				order = append(order, jd.EventID)
			}
			pending[jd.EventID] = &delivery{eventID: jd.EventID, eventType: jd.EventType, key: jd.Key,
				url: jd.URL, body: jd.Body, attempt: jd.Attempt}
		case rec.Delivered != "":
			delete(pending, rec.Delivered)
		case rec.Faults != nil:
			s.refusals, s.abnormalNext = rec.Faults.Refusals, rec.Faults.AbnormalNext
		}
	}
	var out []*delivery
	for _, id := range order {
		if d := pending[id]; d != nil {
			out = append(out, d)
			delete(pending, id) // a twin (duplicate fault) shares the id
		}
	}
	return out, nil
}

func (s *Simulator) loadTrade(j *jTrade) {
	t := s.trades[j.OutTradeNo]
	if t == nil {
		t = &trade{}
		s.trades[j.OutTradeNo] = t
	}
	refunds := t.refunds
	*t = trade{outTradeNo: j.OutTradeNo, tradeType: j.TradeType, appID: j.AppID, mchID: j.MchID,
		description: j.Description, attach: j.Attach, notifyURL: j.NotifyURL, payerOpenID: j.PayerOpenID,
		total: j.Total, timeExpire: j.TimeExpire, createTime: j.CreateTime, state: j.State,
		transactionID: j.TransactionID, successTime: j.SuccessTime, prepayIDs: j.PrepayIDs, refunds: refunds}
	if t.transactionID != "" {
		s.byTxID[t.transactionID] = t
	}
}

func (s *Simulator) loadRefund(j *jRefund) error {
	t := s.trades[j.OutTradeNo]
	if t == nil {
		return fmt.Errorf("refund %s of unknown trade %s", j.OutRefundNo, j.OutTradeNo)
	}
	rf := s.refunds[j.OutRefundNo]
	if rf == nil {
		rf = &refund{}
		s.refunds[j.OutRefundNo] = rf
		t.refunds = append(t.refunds, rf)
	}
	*rf = refund{outRefundNo: j.OutRefundNo, refundID: j.RefundID, trade: t, reason: j.Reason,
		notifyURL: j.NotifyURL, amount: j.Amount, status: j.Status, createTime: j.CreateTime, successTime: j.SuccessTime}
	return nil
}

func (s *Simulator) loadTransfer(j *jTransfer) {
	if s.transfers == nil {
		s.transfers = map[string]*transfer{}
	}
	s.transfers[j.OutBillNo] = &transfer{outBillNo: j.OutBillNo, billNo: j.BillNo, appID: j.AppID, openID: j.OpenID,
		sceneID: j.SceneID, remark: j.Remark, userName: j.UserName, notifyURL: j.NotifyURL, amount: j.Amount,
		state: j.State, failReason: j.FailReason, packageInfo: j.PackageInfo, createTime: j.CreateTime, update: j.Update}
}

// compact writes the current state as a fresh journal, replaces the old one
// atomically, and keeps it open for appending.
func (s *Simulator) compact(dir string, pending []*delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tmp := filepath.Join(dir, journalName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("wxpaysim: journal: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	for _, t := range s.trades {
		_ = enc.Encode(t.record())
	}
	for _, rf := range s.refunds {
		_ = enc.Encode(rf.record())
	}
	for _, t := range s.transfers {
		_ = enc.Encode(t.record())
	}
	for _, d := range pending {
		_ = enc.Encode(d.record())
	}
	if len(s.refusals) > 0 || s.abnormalNext > 0 {
		_ = enc.Encode(record{K: "faults", Faults: &jFaults{Refusals: s.refusals, AbnormalNext: s.abnormalNext}})
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, journalName))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("wxpaysim: journal: %w", err)
	}
	s.journal = &journal{f: f}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// closeJournal closes the journal file (Close calls it).
func (s *Simulator) closeJournal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal != nil && s.journal.f != nil {
		_ = s.journal.f.Close()
		s.journal.f = nil
		s.journal.err = errors.New("wxpaysim: closed")
	}
}
