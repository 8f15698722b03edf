package weapp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/yutang/yutang/domain/identity"
)

// Standin answers WeChat's mini-program server APIs over HTTP, as WeChat
// would, without calling it: the program talks to it through the same
// Client (see Client()), so tokens, error codes and bodies take the real
// code path. It is deterministic: code2session derives the openid from the
// code, so {"code": "alice"} is always the same shopper; a phone code gives
// a stable 1xx number. It keeps what it was sent (shipping uploads,
// subscribe messages) for development to show, and on demand invalidates
// its tokens (as when another system force-refreshes the stable token) or
// answers an API with an error code (Fail).
type Standin struct {
	AppID string
	// QR renders a PNG for a page and scene (a real QR code of the path, so
	// printed posters work in development).
	QR  func(content string) ([]byte, error)
	Now func() time.Time

	mu       sync.Mutex
	tokens   map[string]bool // issued tokens → still valid
	seq      int
	fails    map[string][]int
	calls    map[string]int
	shipping []ShippingRecord
	messages []MessageRecord
	shipped  map[string]int // order key → uploads
}

// StandinPushToken is the message-push token of development: the stand-in
// signs the pushes it sends with it.
const StandinPushToken = "yutang-standin-push"

// ShippingRecord is one upload_shipping_info the stand-in accepted.
type ShippingRecord struct {
	At   time.Time      `json:"at"`
	Body map[string]any `json:"body"`
}

// MessageRecord is one subscribe message the stand-in "sent".
type MessageRecord struct {
	At   time.Time      `json:"at"`
	Body map[string]any `json:"body"`
}

// The stand-in's API names, for Fail and Calls.
const (
	APICode2Session = "code2session"
	APIStableToken  = "stable_token"
	APIPhone        = "phone"
	APIWxaCode      = "wxacode"
	APIUpload       = "upload_shipping_info"
	APIDeliveryList = "delivery_list"
	APISend         = "subscribe_send"
)

var standinPaths = map[string]string{
	"/sns/jscode2session":                                  APICode2Session,
	"/cgi-bin/stable_token":                                APIStableToken,
	"/wxa/business/getuserphonenumber":                     APIPhone,
	"/wxa/getwxacodeunlimit":                               APIWxaCode,
	"/wxa/sec/order/upload_shipping_info":                  APIUpload,
	"/cgi-bin/express/delivery/open_msg/get_delivery_list": APIDeliveryList,
	"/cgi-bin/message/subscribe/send":                      APISend,
}

// Client returns a Client that reaches the stand-in in process.
func (s *Standin) Client(envVersion string) *Client {
	return &Client{AppID: s.AppID, Secret: "stand-in", BaseURL: "http://weapp.standin", EnvVersion: envVersion,
		HTTP: &http.Client{Timeout: 10 * time.Second, Transport: handlerTransport{s}}, Now: s.Now}
}

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// Fail makes the next times calls of api answer errcode.
func (s *Standin) Fail(api string, errcode, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails == nil {
		s.fails = map[string][]int{}
	}
	for range times {
		s.fails[api] = append(s.fails[api], errcode)
	}
}

// InvalidateTokens makes every token issued so far invalid (40001), as
// when another system force-refreshes the stable token.
func (s *Standin) InvalidateTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.tokens {
		s.tokens[k] = false
	}
}

// Calls returns how many requests api received.
func (s *Standin) Calls(api string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[api]
}

// Shipping returns the accepted shipping uploads, oldest first.
func (s *Standin) Shipping() []ShippingRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ShippingRecord{}, s.shipping...)
}

// Messages returns the sent subscribe messages, oldest first.
func (s *Standin) Messages() []MessageRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]MessageRecord{}, s.messages...)
}

func (s *Standin) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ServeHTTP answers like api.weixin.qq.com.
func (s *Standin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	api, ok := standinPaths[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := json.Unmarshal(b, &body); err != nil {
			writeJSON(w, map[string]any{"errcode": 47001, "errmsg": "data format error"})
			return
		}
	}
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[api]++
	if api != APICode2Session && api != APIStableToken {
		if valid, known := s.tokens[r.URL.Query().Get("access_token")]; !known || !valid {
			s.mu.Unlock()
			code := 40001
			if !known {
				code = 40014
			}
			writeJSON(w, map[string]any{"errcode": code, "errmsg": "invalid credential, access_token is invalid or not latest"})
			return
		}
	}
	if f := s.fails[api]; len(f) > 0 {
		s.fails[api] = f[1:]
		s.mu.Unlock()
		writeJSON(w, map[string]any{"errcode": f[0], "errmsg": "stand-in: injected error"})
		return
	}
	s.mu.Unlock()
	switch api {
	case APICode2Session:
		ws, err := s.Code2Session(r.Context(), r.URL.Query().Get("js_code"))
		if err != nil {
			writeJSON(w, map[string]any{"errcode": 40029, "errmsg": "invalid code"})
			return
		}
		writeJSON(w, map[string]any{"openid": ws.OpenID, "session_key": ws.SessionKey})
	case APIStableToken:
		s.mu.Lock()
		if s.tokens == nil {
			s.tokens = map[string]bool{}
		}
		var tok string
		for k, v := range s.tokens {
			if v {
				tok = k
			}
		}
		if tok == "" {
			s.seq++
			tok = fmt.Sprintf("standin-token-%d", s.seq)
			s.tokens[tok] = true
		}
		s.mu.Unlock()
		writeJSON(w, map[string]any{"access_token": tok, "expires_in": 7200})
	case APIPhone:
		code, _ := body["code"].(string)
		p, err := s.PhoneNumber(r.Context(), code)
		if err != nil {
			writeJSON(w, map[string]any{"errcode": 40029, "errmsg": "invalid code"})
			return
		}
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "phone_info": map[string]any{
			"phoneNumber": p, "purePhoneNumber": p, "countryCode": "86"}})
	case APIWxaCode:
		scene, _ := body["scene"].(string)
		page, _ := body["page"].(string)
		if s.QR == nil || len(scene) > 32 {
			writeJSON(w, map[string]any{"errcode": 40169, "errmsg": "invalid length for scene"})
			return
		}
		env, _ := body["env_version"].(string)
		png, err := s.QR(page + "?scene=" + url.QueryEscape(scene) + "&env_version=" + env)
		if err != nil {
			writeJSON(w, map[string]any{"errcode": -1, "errmsg": "system error"})
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	case APIUpload:
		s.upload(w, body)
	case APIDeliveryList:
		writeJSON(w, map[string]any{"errcode": 0, "count": len(standinCarriers), "delivery_list": standinCarriers})
	case APISend:
		if to, _ := body["touser"].(string); to == "" {
			writeJSON(w, map[string]any{"errcode": 40003, "errmsg": "invalid openid"})
			return
		}
		s.mu.Lock()
		s.messages = append(s.messages, MessageRecord{At: s.now(), Body: body})
		s.mu.Unlock()
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok"})
	}
}

var standinCarriers = []map[string]string{
	{"delivery_id": "SF", "delivery_name": "顺丰速运"}, {"delivery_id": "ZTO", "delivery_name": "中通快递"},
	{"delivery_id": "YTO", "delivery_name": "圆通速递"}, {"delivery_id": "STO", "delivery_name": "申通快递"},
	{"delivery_id": "YD", "delivery_name": "韵达快递"}, {"delivery_id": "JTSD", "delivery_name": "极兔速递"},
	{"delivery_id": "EMS", "delivery_name": "EMS"}, {"delivery_id": "JD", "delivery_name": "京东物流"},
}

// upload checks an upload_shipping_info body as WeChat documents it and
// keeps it; a second upload for the same payment is 10060002.
func (s *Standin) upload(w http.ResponseWriter, body map[string]any) {
	key, _ := body["order_key"].(map[string]any)
	lt, _ := body["logistics_type"].(float64)
	list, _ := body["shipping_list"].([]any)
	payer, _ := body["payer"].(map[string]any)
	k := fmt.Sprint(key["transaction_id"], "|", key["mchid"], "|", key["out_trade_no"])
	bad := key == nil || lt < 1 || lt > 4 || len(list) < 1 || len(list) > 15 || payer == nil || payer["openid"] == ""
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(body["upload_time"])); err != nil {
		bad = true
	}
	for _, it := range list {
		m, _ := it.(map[string]any)
		desc, _ := m["item_desc"].(string)
		if desc == "" || len([]rune(desc)) > 120 || (lt == 1 && (fmt.Sprint(m["tracking_no"]) == "" || fmt.Sprint(m["express_company"]) == "" || m["tracking_no"] == nil || m["express_company"] == nil)) {
			bad = true
		}
	}
	if bad {
		writeJSON(w, map[string]any{"errcode": 10060014, "errmsg": "stand-in: invalid argument"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shipped == nil {
		s.shipped = map[string]int{}
	}
	if s.shipped[k] > 0 {
		writeJSON(w, map[string]any{"errcode": 10060002, "errmsg": "支付单已完成发货，无法继续发货"})
		return
	}
	s.shipped[k]++
	s.shipping = append(s.shipping, ShippingRecord{At: s.now(), Body: body})
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok"})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// DevHandler serves what the stand-in was sent, under prefix:
// GET {prefix}/messages, GET {prefix}/shipping; and lets a developer
// provoke WeChat's failures: POST {prefix}/fail?api=…&errcode=…&times=…,
// POST {prefix}/invalidate-token.
func (s *Standin) DevHandler(prefix string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"items": s.Messages()})
	})
	mux.HandleFunc("GET "+prefix+"/shipping", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"items": s.Shipping()})
	})
	mux.HandleFunc("POST "+prefix+"/invalidate-token", func(w http.ResponseWriter, r *http.Request) {
		s.InvalidateTokens()
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("POST "+prefix+"/fail", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var code, times int
		if _, err := fmt.Sscan(q.Get("errcode"), &code); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]any{"error": "errcode must be an integer"})
			return
		}
		if _, err := fmt.Sscan(q.Get("times"), &times); err != nil || times < 1 || times > 100 {
			times = 1
		}
		known := false
		for _, a := range standinPaths {
			known = known || a == q.Get("api")
		}
		if !known {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]any{"error": "api must be one of code2session, stable_token, phone, wxacode, upload_shipping_info, delivery_list, subscribe_send"})
			return
		}
		s.Fail(q.Get("api"), code, times)
		writeJSON(w, map[string]any{"ok": true})
	})
	return mux
}

// Code2Session derives a session from code (what the stand-in answers).
func (s *Standin) Code2Session(_ context.Context, code string) (identity.WeChatSession, error) {
	if code == "" || len(code) > 128 || strings.ContainsAny(code, " \t\r\n") {
		return identity.WeChatSession{}, identity.ErrWeChatCode
	}
	h := sha256.Sum256([]byte("openid:" + s.AppID + ":" + code))
	k := sha256.Sum256([]byte("session_key:" + code))
	return identity.WeChatSession{
		OpenID:     "o" + base64.RawURLEncoding.EncodeToString(h[:])[:27],
		SessionKey: base64.StdEncoding.EncodeToString(k[:16]),
	}, nil
}

// PhoneNumber derives a stable mainland mobile number from code.
func (s *Standin) PhoneNumber(_ context.Context, code string) (string, error) {
	if code == "" || len(code) > 128 {
		return "", identity.ErrWeChatCode
	}
	h := sha256.Sum256([]byte("phone:" + code))
	digits := ""
	for _, b := range hex.EncodeToString(h[:]) {
		if b >= '0' && b <= '9' {
			digits += string(b)
		}
		if len(digits) == 9 {
			break
		}
	}
	for len(digits) < 9 {
		digits += "0"
	}
	return "13" + digits, nil
}
