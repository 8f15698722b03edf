// Package weapp is a small client for WeChat's mini-program server APIs
// (code2session, phone number, mini-program codes, access tokens via
// stable_token) and a local stand-in with the same methods, used when no
// AppSecret is configured. The stand-in is deterministic: code2session derives
// the openid from the code, so {"code": "alice"} is always the same shopper.
package weapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
)

// DefaultBaseURL is WeChat's API host.
const DefaultBaseURL = "https://api.weixin.qq.com"

// Client talks to WeChat's mini-program server APIs.
type Client struct {
	AppID, Secret string
	BaseURL       string
	HTTP          *http.Client
	Now           func() time.Time

	mu       sync.Mutex
	token    string
	tokenExp time.Time
}

type apiError struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func (c *Client) base() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	return DefaultBaseURL
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Code2Session exchanges a wx.login code.
func (c *Client) Code2Session(ctx context.Context, code string) (identity.WeChatSession, error) {
	q := url.Values{"appid": {c.AppID}, "secret": {c.Secret}, "js_code": {code}, "grant_type": {"authorization_code"}}
	var out struct {
		apiError
		OpenID     string `json:"openid"`
		UnionID    string `json:"unionid"`
		SessionKey string `json:"session_key"`
	}
	if err := c.getJSON(ctx, "/sns/jscode2session?"+q.Encode(), &out); err != nil {
		return identity.WeChatSession{}, err
	}
	switch out.ErrCode {
	case 0:
	case 40029, 40163: // invalid or used code
		return identity.WeChatSession{}, identity.ErrWeChatCode
	case 45011:
		return identity.WeChatSession{}, domain.E(domain.KindTooMany, "wechat_rate_limited", "Too many sign-ins; wait a minute.")
	default:
		return identity.WeChatSession{}, fmt.Errorf("weapp: code2session: errcode %d: %s", out.ErrCode, out.ErrMsg)
	}
	return identity.WeChatSession{OpenID: out.OpenID, UnionID: out.UnionID, SessionKey: out.SessionKey}, nil
}

// PhoneNumber resolves a getPhoneNumber code.
func (c *Client) PhoneNumber(ctx context.Context, code string) (string, error) {
	tok, err := c.accessToken(ctx)
	if err != nil {
		return "", err
	}
	var out struct {
		apiError
		PhoneInfo struct {
			PurePhoneNumber string `json:"purePhoneNumber"`
			CountryCode     string `json:"countryCode"`
		} `json:"phone_info"`
	}
	if err := c.postJSON(ctx, "/wxa/business/getuserphonenumber?access_token="+url.QueryEscape(tok), map[string]string{"code": code}, &out); err != nil {
		return "", err
	}
	if out.ErrCode == 40029 {
		return "", identity.ErrWeChatCode
	}
	if out.ErrCode != 0 {
		return "", fmt.Errorf("weapp: phone number: errcode %d: %s", out.ErrCode, out.ErrMsg)
	}
	return out.PhoneInfo.PurePhoneNumber, nil
}

// Unlimited returns a mini-program code PNG for scene (≤ 32 chars) and page.
func (c *Client) Unlimited(ctx context.Context, scene, page string) ([]byte, error) {
	tok, err := c.accessToken(ctx)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]any{"scene": scene, "page": page, "check_path": false})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base()+"/wxa/getwxacodeunlimit?access_token="+url.QueryEscape(tok), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("weapp: wxacode: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("weapp: wxacode: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("weapp: wxacode: %w", err)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
		return b, nil
	}
	var e apiError
	_ = json.Unmarshal(b, &e)
	return nil, fmt.Errorf("weapp: wxacode: errcode %d: %s", e.ErrCode, e.ErrMsg)
}

// accessToken returns a cached stable_token, refreshed five minutes early.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Before(c.tokenExp.Add(-5*time.Minute)) {
		return c.token, nil
	}
	var out struct {
		apiError
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	in := map[string]any{"grant_type": "client_credential", "appid": c.AppID, "secret": c.Secret}
	if err := c.postJSON(ctx, "/cgi-bin/stable_token", in, &out); err != nil {
		return "", err
	}
	if out.ErrCode != 0 || out.AccessToken == "" {
		return "", fmt.Errorf("weapp: stable_token: errcode %d: %s", out.ErrCode, out.ErrMsg)
	}
	c.token = out.AccessToken
	c.tokenExp = c.now().Add(time.Duration(out.ExpiresIn) * time.Second)
	return c.token, nil
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base()+path, nil)
	if err != nil {
		return fmt.Errorf("weapp: %w", err)
	}
	return c.do(req, out)
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	b, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base()+path, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("weapp: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, out)
}

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.http().Do(req)
	if err != nil {
		return &domain.Error{Kind: domain.KindUnavailable, Code: "wechat_unavailable", Message: "WeChat is not reachable; try again.", Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &domain.Error{Kind: domain.KindUnavailable, Code: "wechat_unavailable", Message: "WeChat is not reachable; try again.",
			Err: fmt.Errorf("weapp: %s: HTTP %d", req.URL.Path, resp.StatusCode)}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("weapp: %s: decode: %w", req.URL.Path, err)
	}
	return nil
}

// Standin answers like WeChat without calling it. Code2Session accepts any
// non-empty code of printable characters and derives a stable openid and
// session_key from it; PhoneNumber derives a stable 1xx phone number from the
// code; Unlimited is provided by the caller's QR renderer (see SetQR).
type Standin struct {
	AppID string
	// QR renders a PNG for a scene and page (a real QR code of the path, so
	// printed posters work in development).
	QR func(content string) ([]byte, error)
}

// Code2Session derives a session from code.
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

// Unlimited renders the page and scene as a QR code PNG.
func (s *Standin) Unlimited(_ context.Context, scene, page string) ([]byte, error) {
	if s.QR == nil {
		return nil, fmt.Errorf("weapp: stand-in has no QR renderer")
	}
	return s.QR(page + "?scene=" + url.QueryEscape(scene))
}
