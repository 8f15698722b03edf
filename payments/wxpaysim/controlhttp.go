package wxpaysim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

func (s *Simulator) controlRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /_sim/transactions/{no}/pay", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			OpenID string `json:"openid"`
		}
		if !decodeOptional(w, r, &b) {
			return
		}
		s.answer(w, s.Pay(r.PathValue("no"), b.OpenID), r.PathValue("no"))
	})
	m.HandleFunc("GET /_sim/transactions/{no}", func(w http.ResponseWriter, r *http.Request) {
		t, ok := s.Trade(r.PathValue("no"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such trade"})
			return
		}
		writeJSON(w, http.StatusOK, t)
	})
	m.HandleFunc("POST /_sim/refunds/{no}/complete", func(w http.ResponseWriter, r *http.Request) {
		s.answer(w, s.CompleteRefund(r.PathValue("no")), "")
	})
	m.HandleFunc("POST /_sim/refunds/{no}/fail", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Status string `json:"status"`
		}
		if !decodeOptional(w, r, &b) {
			return
		}
		if b.Status == "" {
			b.Status = "ABNORMAL"
		}
		s.answer(w, s.FailRefund(r.PathValue("no"), b.Status), "")
	})
	m.HandleFunc("POST /_sim/notifications/{key}/faults", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Fault string `json:"fault"`
			Delay string `json:"delay"`
		}
		if !decodeOptional(w, r, &b) {
			return
		}
		if b.Fault == "delay" {
			d, err := time.ParseDuration(b.Delay)
			if err != nil || d < 0 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "delay must be a duration like 30s"})
				return
			}
			s.DelayNextNotification(r.PathValue("key"), d)
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
			return
		}
		err := s.InjectNotificationFault(r.PathValue("key"), Fault(b.Fault))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("POST /_sim/api-faults", func(w http.ResponseWriter, r *http.Request) {
		// {"count", "status"}: fail before doing anything; with
		// "after_effect": true, do the work and then answer status, or
		// with "timeout": true answer nothing (held for "hang", default
		// until the client gives up, then the connection is dropped);
		// "operation" aims it at prepay, close, refund or query.
		var b struct {
			Count       int    `json:"count"`
			Status      int    `json:"status"`
			AfterEffect bool   `json:"after_effect"`
			Timeout     bool   `json:"timeout"`
			Hang        string `json:"hang"`
			Operation   string `json:"operation"`
		}
		if !decodeOptional(w, r, &b) {
			return
		}
		var hang time.Duration
		if b.Hang != "" {
			d, err := time.ParseDuration(b.Hang)
			if err != nil || d < 0 || d > MaxHang {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "hang must be a duration like 15s, at most 2m"})
				return
			}
			hang = d
		}
		switch b.Operation {
		case "", OpPrepay, OpClose, OpRefund, OpQuery:
		default:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "operation must be prepay, close, refund or query"})
			return
		}
		switch {
		case b.Count < 0 || b.Count > 10000:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "count must be from 0 to 10000"})
			return
		case b.Timeout && !b.AfterEffect:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "timeout needs after_effect: true"})
			return
		case b.Timeout:
			s.HangNextAfterEffect(b.Operation, b.Count, hang)
		case b.Status < 400 || b.Status > 599:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "count ≥ 0 and a 4xx or 5xx status"})
			return
		case b.AfterEffect:
			s.FailNextAfterEffect(b.Operation, b.Count, b.Status)
		case b.Operation != "":
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "operation needs after_effect: true"})
			return
		default:
			s.FailNextAPICalls(b.Count, b.Status)
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /_sim/deliveries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"items": s.Deliveries()})
	})
	m.HandleFunc("GET /_sim/platform-key", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{
			"public_key_id":  s.PublicKeyID(),
			"public_key_pem": string(s.PlatformPublicKeyPEM()),
		})
	})
}

// answer writes the result of a control call; no is the trade to show.
func (s *Simulator) answer(w http.ResponseWriter, err error, no string) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	case no != "":
		t, _ := s.Trade(no)
		writeJSON(w, http.StatusOK, t)
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

// decodeOptional decodes a JSON body if there is one.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength == 0 {
		return true
	}
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(v)
	if err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body is not valid JSON"})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
