package wxpaysim

import (
	"net/http"
	"strings"
	"time"
)

// afterFault is a failure an API call answers after doing its work.
type afterFault struct {
	op     string        // "" any call, or prepay, close, refund, query
	status int           // the answer; 0: no answer at all (hang)
	hang   time.Duration // with status 0: how long to hold the request (0: until the client gives up, at most MaxHang)
}

// MaxHang bounds how long a hanging answer holds a request.
const MaxHang = 2 * time.Minute

// Operations a fault can be aimed at (the op argument; "" is any call).
const (
	OpPrepay = "prepay" // POST /v3/pay/transactions/jsapi, /native
	OpClose  = "close"  // POST /v3/pay/transactions/out-trade-no/{no}/close
	OpRefund = "refund" // POST /v3/refund/domestic/refunds
	OpQuery  = "query"  // any GET (transaction, refund, transfer)
)

// FailNextAPICallsAfterEffect makes the next n API calls do their work (a
// prepay, close or refund is accepted, a query answered) and then answer
// status instead of the result: 429 FREQUENCY_LIMITED, 5xx SYSTEM_ERROR, or
// another 4xx INVALID_REQUEST — the ambiguous failure a merchant must
// resolve by querying.
func (s *Simulator) FailNextAPICallsAfterEffect(n, status int) {
	s.FailNextAfterEffect("", n, status)
}

// FailNextAfterEffect is FailNextAPICallsAfterEffect for the next n calls
// of one operation (OpPrepay, OpClose, OpRefund, OpQuery; "" any).
func (s *Simulator) FailNextAfterEffect(op string, n, status int) {
	s.armAfterEffect(op, n, afterFault{op: op, status: status})
}

// HangNextAfterEffect makes the next n calls of op ("" any) do their work
// and then never answer: the request is held for hang (0: until the client
// gives up, at most MaxHang) and the connection is dropped — the timeout
// after which a merchant cannot know whether its request took effect.
func (s *Simulator) HangNextAfterEffect(op string, n int, hang time.Duration) {
	s.armAfterEffect(op, n, afterFault{op: op, hang: hang})
}

func (s *Simulator) armAfterEffect(op string, n int, f afterFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Arming replaces what was armed for the same operation.
	kept := s.afterEffect[:0]
	for _, a := range s.afterEffect {
		if a.op != op {
			kept = append(kept, a)
		}
	}
	s.afterEffect = kept
	for range n {
		s.afterEffect = append(s.afterEffect, f)
	}
}

// opOf names the operation of a WeChat Pay request.
func opOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet:
		return OpQuery
	case strings.HasSuffix(p, "/jsapi"), strings.HasSuffix(p, "/native"):
		return OpPrepay
	case strings.HasSuffix(p, "/close"):
		return OpClose
	case strings.HasSuffix(p, "/refund/domestic/refunds"):
		return OpRefund
	}
	return ""
}

// failureAfterEffect takes the first armed fault that applies to r: an
// error to answer, or hang > 0 / hangUntilGone to answer nothing.
func (s *Simulator) failureAfterEffect(r *http.Request) (e *apiError, hang bool, d time.Duration) {
	op := opOf(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.afterEffect {
		if f.op != "" && f.op != op {
			continue
		}
		s.afterEffect = append(s.afterEffect[:i:i], s.afterEffect[i+1:]...)
		st := f.status
		switch {
		case st == 0:
			return nil, true, f.hang
		case st == http.StatusTooManyRequests:
			return errf(st, "FREQUENCY_LIMITED", "频率超限"), false, 0
		case st >= 500:
			return errf(st, "SYSTEM_ERROR", "系统错误"), false, 0
		}
		return errf(st, "INVALID_REQUEST", "请求无效"), false, 0
	}
	return nil, false, 0
}

// hangUp holds r for d (0: until the client goes, at most MaxHang), then
// drops the connection without an answer.
func hangUp(w http.ResponseWriter, r *http.Request, d time.Duration) {
	if d <= 0 || d > MaxHang {
		d = MaxHang
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
