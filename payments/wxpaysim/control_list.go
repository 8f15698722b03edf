package wxpaysim

import (
	"net/http"
	"sort"
)

// Trades returns a snapshot of every trade, by out_trade_no; state, when not
// empty, keeps only trades in that state (SUCCESS, REFUND, NOTPAY, CLOSED).
func (s *Simulator) Trades(state string) []Trade {
	s.mu.Lock()
	var nos []string
	for no, t := range s.trades {
		if state == "" || t.state == state {
			nos = append(nos, no)
		}
	}
	s.mu.Unlock()
	out := make([]Trade, 0, len(nos))
	for _, no := range nos {
		if t, ok := s.Trade(no); ok {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OutTradeNo < out[j].OutTradeNo }) // by number: stable for a reader
	return out
}

// listRoute serves GET /_sim/transactions[?state=SUCCESS]: every trade the
// simulator holds (a crash test compares them with the mall's payments).
func (s *Simulator) listRoute(m *http.ServeMux) {
	m.HandleFunc("GET /_sim/transactions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"items": s.Trades(r.URL.Query().Get("state"))})
	})
}
