package wxpaysim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Fault spoils the next notification for a trade or refund.
type Fault string

const (
	FaultDrop      Fault = "drop"      // never sent (WeChat does not guarantee delivery)
	FaultDuplicate Fault = "duplicate" // sent twice at once
	FaultForge     Fault = "forge"     // first attempt's signature does not verify
	FaultSignTest  Fault = "signtest"  // first attempt signed WECHATPAY/SIGNTEST/…
	FaultStale     Fault = "stale"     // first attempt's timestamp is 10 minutes old
)

func (f Fault) valid() bool {
	switch f {
	case FaultDrop, FaultDuplicate, FaultForge, FaultSignTest, FaultStale:
		return true
	}
	return false
}

type notifyFault struct {
	fault Fault
	delay time.Duration
}

// Delivery records one attempt to deliver a notification.
type Delivery struct {
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	Key       string    `json:"key"` // out_trade_no or out_refund_no
	URL       string    `json:"url"`
	Attempt   int       `json:"attempt"` // 1 for the first
	Fault     Fault     `json:"fault,omitempty"`
	Status    int       `json:"status"` // the receiver's HTTP status, 0 if none
	Err       string    `json:"error,omitempty"`
	At        time.Time `json:"at"`
}

// OK reports whether the receiver acknowledged this attempt.
func (d Delivery) OK() bool { return d.Status >= 200 && d.Status < 300 }

// delivery is a notification on its way, with its attempt count.
type delivery struct {
	eventID, eventType, key, url string
	body                         []byte
	attempt                      int   // attempts made so far
	fault                        Fault // spoils the next attempt only
}

// notification is the body WeChat Pay POSTs.
type notification struct {
	ID           string           `json:"id"`
	CreateTime   string           `json:"create_time"`
	ResourceType string           `json:"resource_type"`
	EventType    string           `json:"event_type"`
	Summary      string           `json:"summary"`
	Resource     notificationData `json:"resource"`
}

type notificationData struct {
	OriginalType   string `json:"original_type"`
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

var summaries = map[string]string{
	"TRANSACTION.SUCCESS": "支付成功",
	"REFUND.SUCCESS":      "退款成功",
	"REFUND.ABNORMAL":     "退款异常",
	"REFUND.CLOSED":       "退款关闭",
}

// notify encrypts plain into a notification and schedules its delivery,
// applying the key's next fault. Call with s.mu held.
func (s *Simulator) notify(key, url, eventType, originalType string, plain any) {
	if url == "" {
		return
	}
	pt, err := json.Marshal(plain)
	if err != nil {
		panic(err) // our own structs always marshal
	}
	nonce := randomString(12, alnum)
	sealed := s.gcm.Seal(nil, []byte(nonce), pt, []byte(originalType))
	n := notification{
		ID:           randomHex(4) + "-" + randomHex(2) + "-" + randomHex(2) + "-" + randomHex(2) + "-" + randomHex(6),
		CreateTime:   wechatTime(s.cfg.Now()),
		ResourceType: "encrypt-resource",
		EventType:    eventType,
		Summary:      summaries[eventType],
		Resource: notificationData{
			OriginalType: originalType, Algorithm: "AEAD_AES_256_GCM",
			Ciphertext: base64.StdEncoding.EncodeToString(sealed), AssociatedData: originalType, Nonce: nonce,
		},
	}
	body, err := json.Marshal(n)
	if err != nil {
		panic(err)
	}
	d := &delivery{eventID: n.ID, eventType: eventType, key: key, url: url, body: body}

	var f notifyFault
	if q := s.notifyFaults[key]; len(q) > 0 {
		f = q[0]
		if len(q) == 1 {
			delete(s.notifyFaults, key)
		} else {
			s.notifyFaults[key] = q[1:]
		}
	}
	switch f.fault {
	case FaultDrop:
		s.deliveries = append(s.deliveries, Delivery{EventID: d.eventID, EventType: eventType,
			Key: key, URL: url, Fault: FaultDrop, At: time.Now()})
		return
	case FaultDuplicate:
		twin := *d
		s.sched.deliverAfter(0, &twin)
	case FaultForge, FaultSignTest, FaultStale:
		d.fault = f.fault
	}
	s.persist(d.record()) // undelivered until acknowledged (journal.go)
	s.sched.deliverAfter(f.delay, d)
}

// attempt makes one delivery attempt and schedules a retry on failure.
func (s *Simulator) attempt(ctx context.Context, d *delivery) {
	d.attempt++
	fault := d.fault
	d.fault = ""
	status, err := s.post(ctx, d, fault)
	rec := Delivery{EventID: d.eventID, EventType: d.eventType, Key: d.key, URL: d.url,
		Attempt: d.attempt, Fault: fault, Status: status, At: time.Now()}
	if err != nil {
		rec.Err = err.Error()
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, rec)
	s.mu.Unlock()
	if ctx.Err() != nil {
		return // stopping: the journal still holds it as undelivered
	}
	if rec.OK() {
		s.persistDelivered(d.eventID)
		return
	}
	if i := d.attempt - 1; i < len(s.cfg.RetrySchedule) {
		s.mu.Lock()
		s.persist(d.record()) // the attempts made so far survive a restart
		s.mu.Unlock()
		s.sched.deliverAfter(s.cfg.RetrySchedule[i], d)
		return
	}
	s.persistDelivered(d.eventID) // out of retries, as WeChat gives up
}

func (s *Simulator) post(ctx context.Context, d *delivery, fault Fault) (int, error) {
	if err := s.flush(); err != nil { // never tell the mall of a change a crash would forget
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.NotifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	ts := time.Now().Unix()
	spoil := ""
	switch fault {
	case FaultStale:
		ts -= 600
	case FaultForge, FaultSignTest:
		spoil = string(fault)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Mozilla/4.0 (wxpaysim)")
	req.Header.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	s.signHeaders(req.Header, d.body, ts, spoil)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("wxpaysim: notify: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
