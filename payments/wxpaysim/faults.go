package wxpaysim

import "net/http"

// FailNextAPICallsAfterEffect makes the next n API calls do their work (a
// prepay, close or refund is accepted, a query answered) and then answer
// status instead of the result: 429 FREQUENCY_LIMITED, 5xx SYSTEM_ERROR, or
// another 4xx INVALID_REQUEST — the ambiguous failure a merchant must
// resolve by querying.
func (s *Simulator) FailNextAPICallsAfterEffect(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterEffect = nil
	for range n {
		s.afterEffect = append(s.afterEffect, status)
	}
}

func (s *Simulator) failureAfterEffect() *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.afterEffect) == 0 {
		return nil
	}
	st := s.afterEffect[0]
	s.afterEffect = s.afterEffect[1:]
	switch {
	case st == http.StatusTooManyRequests:
		return errf(st, "FREQUENCY_LIMITED", "频率超限")
	case st >= 500:
		return errf(st, "SYSTEM_ERROR", "系统错误")
	}
	return errf(st, "INVALID_REQUEST", "请求无效")
}
