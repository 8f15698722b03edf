package wxpaysim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiError is an unsigned WeChat Pay error answer.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// apiHandler handles one WeChat Pay route: it gets the verified request and
// its body and returns a status and a value to encode (nil for no body).
type apiHandler func(r *http.Request, body []byte) (int, any, *apiError)

const maxBody = 1 << 20

// admit reads an API call's body and lets it through unless the journal
// failed, a fault is armed, or its signature does not verify (then it has
// answered the error).
func (s *Simulator) admit(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, errf(http.StatusBadRequest, "PARAM_ERROR", "请求体无法读取"))
		return nil, false
	}
	for _, check := range []func() *apiError{s.journalFailure, s.injectedFailure, func() *apiError { return s.authenticate(r, body) }} {
		if e := check(); e != nil {
			writeError(w, e)
			return nil, false
		}
	}
	return body, true
}

// api wraps h with fault injection, request authentication and response
// signing.
func (s *Simulator) api(h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := s.admit(w, r)
		if !ok {
			return
		}
		status, v, e := h(r, body)
		if err := s.flush(); err != nil { // nothing is answered that a crash would forget
			writeError(w, errf(http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误"))
			return
		}
		if e != nil {
			writeError(w, e)
			return
		}
		if e, hang, d := s.failureAfterEffect(r); hang {
			hangUp(w, r, d)
			return
		} else if e != nil {
			writeError(w, e)
			return
		}
		var out []byte
		if v != nil {
			var err error
			if out, err = json.Marshal(v); err != nil {
				writeError(w, errf(http.StatusInternalServerError, "SYSTEM_ERROR", "%v", err))
				return
			}
			w.Header().Set("Content-Type", "application/json")
		}
		s.signHeaders(w.Header(), out, time.Now().Unix(), "")
		w.WriteHeader(status)
		_, _ = w.Write(out)
	})
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", randomHex(16))
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}

// signHeaders sets the Wechatpay-* headers over "ts\nnonce\nbody\n".
// A non-empty spoil replaces the signature (forged, SIGNTEST).
func (s *Simulator) signHeaders(h http.Header, body []byte, ts int64, spoil string) {
	nonce := randomString(32, alnum)
	tsText := strconv.FormatInt(ts, 10)
	key, serial := s.signer() // certs.go: a platform certificate in certificate mode
	sig := signSHA256(key, tsText+"\n"+nonce+"\n"+string(body)+"\n")
	switch spoil {
	case "":
	case string(FaultForge):
		sig = signSHA256(key, tsText+"\n"+nonce+"\n"+string(body)+"tampered\n")
	case string(FaultSignTest):
		sig = "WECHATPAY/SIGNTEST/" + sig
	}
	h.Set("Request-Id", randomHex(16))
	h.Set("Wechatpay-Timestamp", tsText)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", serial)
}

// injectedFailure consumes one FailNextAPICalls failure, if any.
func (s *Simulator) injectedFailure() *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apiFailures == 0 {
		return nil
	}
	s.apiFailures--
	switch st := s.apiFailCode; {
	case st == http.StatusTooManyRequests:
		return errf(st, "FREQUENCY_LIMITED", "频率超限")
	case st >= 500:
		return errf(st, "SYSTEM_ERROR", "系统错误")
	default:
		return errf(st, "INVALID_REQUEST", "注入的错误")
	}
}

const authScheme = "WECHATPAY2-SHA256-RSA2048"

// authenticate checks the merchant's Authorization header over
// "METHOD\nURL\nts\nnonce\nbody\n", URL being the path and query the SDK
// signed: r.URL after any prefix was cut, or the raw request URI from "/v3/".
func (s *Simulator) authenticate(r *http.Request, body []byte) *apiError {
	h := r.Header.Get("Authorization")
	scheme, params, ok := strings.Cut(h, " ")
	if !ok || scheme != authScheme {
		return errf(http.StatusUnauthorized, "SIGN_ERROR", "Authorization 不是 %s", authScheme)
	}
	p := parseAuthParams(params)
	if p["mchid"] != s.cfg.MchID {
		return errf(http.StatusUnauthorized, "SIGN_ERROR", "mchid %q 与商户不符", p["mchid"])
	}
	if s.cfg.MerchantCertSerial != "" && !strings.EqualFold(p["serial_no"], s.cfg.MerchantCertSerial) {
		return errf(http.StatusUnauthorized, "SIGN_ERROR", "商户证书序列号 %q 不正确", p["serial_no"])
	}
	ts, err := strconv.ParseInt(p["timestamp"], 10, 64)
	if err != nil {
		return errf(http.StatusUnauthorized, "SIGN_ERROR", "timestamp 不正确")
	}
	if d := time.Now().Unix() - ts; d > 300 || d < -300 {
		return errf(http.StatusUnauthorized, "SIGN_ERROR", "timestamp 已过期")
	}
	if p["nonce_str"] == "" || p["signature"] == "" {
		return errf(http.StatusUnauthorized, "SIGN_ERROR", "缺少 nonce_str 或 signature")
	}
	for _, uri := range signedURIs(r) {
		msg := r.Method + "\n" + uri + "\n" + p["timestamp"] + "\n" + p["nonce_str"] + "\n" + string(body) + "\n"
		if verifySHA256(s.cfg.MerchantPublicKey, msg, p["signature"]) == nil {
			return nil
		}
	}
	return errf(http.StatusUnauthorized, "SIGN_ERROR", "签名错误")
}

// signedURIs are the candidates for the URL the client signed.
func signedURIs(r *http.Request) []string {
	uris := []string{r.URL.RequestURI()}
	if i := strings.Index(r.RequestURI, "/v3/"); i >= 0 && r.RequestURI[i:] != uris[0] {
		uris = append(uris, r.RequestURI[i:])
	}
	return uris
}

// parseAuthParams reads k="v",k="v" pairs.
func parseAuthParams(s string) map[string]string {
	m := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		m[k] = strings.Trim(v, `"`)
	}
	return m
}
