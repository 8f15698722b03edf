// Package weapp is a small client for WeChat's mini-program server APIs
// (code2session, phone number, mini-program codes, shipping information,
// carriers, subscribe messages; access tokens via stable_token) and a local
// stand-in that answers the same HTTP requests (standin.go), used when no
// AppSecret is configured: the stand-in is reached through the same Client,
// so development and tests run the code that talks to WeChat.
//
// Errors are WeChat's documented codes mapped to *domain.Error with stable
// codes (see errors.go). An access token WeChat calls invalid or expired
// (40001, 42001, 40014) is dropped and fetched again, and the call retried
// once.
package weapp

import (
	"bytes"
	"context"
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
	"github.com/yutang/yutang/domain/platform"
)

// DefaultBaseURL is WeChat's API host.
const DefaultBaseURL = "https://api.weixin.qq.com"

// Client talks to WeChat's mini-program server APIs.
type Client struct {
	AppID, Secret string
	BaseURL       string
	HTTP          *http.Client
	Now           func() time.Time
	// EnvVersion is the mini-program build codes open and messages target:
	// release (default), trial or develop.
	EnvVersion string

	mu       sync.Mutex
	token    string
	tokenExp time.Time
}

type apiError struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func (e apiError) code() apiError { return e }

type coded interface{ code() apiError }

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

func (c *Client) envVersion() string {
	if c.EnvVersion == "" {
		return "release"
	}
	return c.EnvVersion
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base()+"/sns/jscode2session?"+q.Encode(), nil)
	if err != nil {
		return identity.WeChatSession{}, fmt.Errorf("weapp: code2session: %w", err)
	}
	if err := c.do(req, &out); err != nil {
		return identity.WeChatSession{}, err
	}
	if out.ErrCode != 0 {
		return identity.WeChatSession{}, mapError("code2session", out.apiError)
	}
	if out.OpenID == "" || out.SessionKey == "" {
		return identity.WeChatSession{}, fmt.Errorf("weapp: code2session: no openid or session_key")
	}
	return identity.WeChatSession{OpenID: out.OpenID, UnionID: out.UnionID, SessionKey: out.SessionKey}, nil
}

// PhoneNumber resolves a getPhoneNumber code, keeping the country code.
func (c *Client) PhoneNumber(ctx context.Context, code string) (identity.Phone, error) {
	var out struct {
		apiError
		PhoneInfo struct {
			PhoneNumber     string `json:"phoneNumber"`
			PurePhoneNumber string `json:"purePhoneNumber"`
			CountryCode     string `json:"countryCode"`
		} `json:"phone_info"`
	}
	if err := c.postToken(ctx, "phone", "/wxa/business/getuserphonenumber", map[string]string{"code": code}, &out); err != nil {
		return identity.Phone{}, err
	}
	p := out.PhoneInfo
	if p.PurePhoneNumber == "" {
		return identity.Phone{}, fmt.Errorf("weapp: phone number: no purePhoneNumber")
	}
	cc := strings.TrimPrefix(p.CountryCode, "+")
	if cc == "" {
		cc = "86"
	}
	return identity.Phone{Number: p.PurePhoneNumber, CountryCode: cc}, nil
}

// Unlimited returns a mini-program code PNG for scene (≤ 32 chars) and
// page, for the configured env_version.
func (c *Client) Unlimited(ctx context.Context, scene, page string) ([]byte, error) {
	in := map[string]any{"scene": scene, "page": page, "check_path": false, "env_version": c.envVersion()}
	var img []byte
	err := c.withToken(ctx, "wxacode", func(tok string) (apiError, error) {
		body, ctype, err := c.post(ctx, "/wxa/getwxacodeunlimit?access_token="+url.QueryEscape(tok), in, 4<<20)
		if err != nil {
			return apiError{}, err
		}
		if strings.HasPrefix(ctype, "image/") {
			img = body
			return apiError{}, nil
		}
		var e apiError
		if err := json.Unmarshal(body, &e); err != nil || e.ErrCode == 0 {
			return apiError{}, fmt.Errorf("weapp: wxacode: neither an image nor an error (%s)", ctype)
		}
		return e, nil
	})
	return img, err
}

// UploadShipping uploads a paid order's shipping information
// (upload_shipping_info, unified delivery).
func (c *Client) UploadShipping(ctx context.Context, s platform.Shipment) error {
	in := shippingBody(s)
	var out apiError
	return c.postToken(ctx, "upload_shipping_info", "/wxa/sec/order/upload_shipping_info", in, &out)
}

func shippingBody(s platform.Shipment) map[string]any {
	key := map[string]any{"order_number_type": 2, "transaction_id": s.TransactionID}
	if s.TransactionID == "" {
		key = map[string]any{"order_number_type": 1, "mchid": s.MchID, "out_trade_no": s.OutTradeNo}
	}
	item := map[string]any{"item_desc": s.ItemDesc}
	if s.Logistics == platform.LogisticsExpress {
		item["tracking_no"], item["express_company"] = s.TrackingNo, s.Carrier
		if s.ReceiverContact != "" {
			item["contact"] = map[string]string{"receiver_contact": s.ReceiverContact}
		}
	}
	return map[string]any{"order_key": key, "logistics_type": int(s.Logistics), "delivery_mode": 1,
		"shipping_list": []any{item}, "upload_time": s.UploadedAt.Format(time.RFC3339),
		"payer": map[string]string{"openid": s.PayerOpenID}}
}

// DeliveryList returns WeChat's carriers (get_delivery_list).
func (c *Client) DeliveryList(ctx context.Context) ([]platform.Delivery, error) {
	var out struct {
		apiError
		DeliveryList []struct {
			ID   string `json:"delivery_id"`
			Name string `json:"delivery_name"`
		} `json:"delivery_list"`
	}
	if err := c.postToken(ctx, "delivery_list", "/cgi-bin/express/delivery/open_msg/get_delivery_list", map[string]any{}, &out); err != nil {
		return nil, err
	}
	ds := make([]platform.Delivery, 0, len(out.DeliveryList))
	for _, d := range out.DeliveryList {
		ds = append(ds, platform.Delivery{ID: d.ID, Name: d.Name})
	}
	return ds, nil
}

// miniprogramState is subscribeMessage.send's miniprogram_state for an
// env_version.
func miniprogramState(env string) string {
	switch env {
	case "develop":
		return "developer"
	case "trial":
		return "trial"
	}
	return "formal"
}

// SendMessage sends a subscribe message (subscribeMessage.send).
func (c *Client) SendMessage(ctx context.Context, m platform.Message) error {
	data := make(map[string]map[string]string, len(m.Data))
	for k, v := range m.Data {
		data[k] = map[string]string{"value": v}
	}
	in := map[string]any{"touser": m.OpenID, "template_id": m.TemplateID, "page": m.Page, "data": data,
		"miniprogram_state": miniprogramState(c.envVersion()), "lang": "zh_CN"}
	var out apiError
	return c.postToken(ctx, "subscribe_send", "/cgi-bin/message/subscribe/send", in, &out)
}

// postToken posts in as JSON with the access token and decodes out; a
// non-zero errcode is mapped for api.
func (c *Client) postToken(ctx context.Context, api, path string, in any, out coded) error {
	return c.withToken(ctx, api, func(tok string) (apiError, error) {
		body, _, err := c.post(ctx, path+"?access_token="+url.QueryEscape(tok), in, 1<<20)
		if err != nil {
			return apiError{}, err
		}
		if err := json.Unmarshal(body, out); err != nil {
			return apiError{}, fmt.Errorf("weapp: %s: decode: %w", api, err)
		}
		return out.code(), nil
	})
}

// tokenInvalid: the access token is invalid (40001), expired (42001) or
// not this app's (40014): drop it, fetch another, retry once.
func tokenInvalid(code int) bool { return code == 40001 || code == 42001 || code == 40014 }

// withToken runs call with the access token; when WeChat refuses the token
// it is dropped and call runs once more with a fresh one.
func (c *Client) withToken(ctx context.Context, api string, call func(tok string) (apiError, error)) error {
	for try := 0; ; try++ {
		tok, err := c.accessToken(ctx)
		if err != nil {
			return err
		}
		e, err := call(tok)
		if err != nil {
			return err
		}
		if e.ErrCode == 0 {
			return nil
		}
		if tokenInvalid(e.ErrCode) && try == 0 {
			c.dropToken(tok)
			continue
		}
		return mapError(api, e)
	}
}

// dropToken forgets tok (unless another call already replaced it).
func (c *Client) dropToken(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token, c.tokenExp = "", time.Time{}
	}
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
	body, _, err := c.post(ctx, "/cgi-bin/stable_token", in, 1<<20)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("weapp: stable_token: decode: %w", err)
	}
	if out.ErrCode != 0 || out.AccessToken == "" {
		return "", mapError("stable_token", out.apiError)
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

// post sends in as JSON and returns the body (at most limit bytes) and its
// content type; anything but HTTP 200 is ErrUnavailable.
func (c *Client) post(ctx context.Context, path string, in any, limit int64) ([]byte, string, error) {
	b, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base()+path, bytes.NewReader(b))
	if err != nil {
		return nil, "", fmt.Errorf("weapp: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, "", unavailable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", unavailable(fmt.Errorf("weapp: %s: HTTP %d", req.URL.Path, resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, "", unavailable(err)
	}
	return body, resp.Header.Get("Content-Type"), nil
}

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.http().Do(req)
	if err != nil {
		return unavailable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return unavailable(fmt.Errorf("weapp: %s: HTTP %d", req.URL.Path, resp.StatusCode))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("weapp: %s: decode: %w", req.URL.Path, err)
	}
	return nil
}

func unavailable(err error) error {
	return &domain.Error{Kind: domain.KindUnavailable, Code: ErrUnavailable.Code, Message: ErrUnavailable.Message, Err: err}
}
