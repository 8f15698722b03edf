package weapp

import (
	"fmt"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/platform"
)

// The errors WeChat's documented codes map to. Kinds decide the HTTP status:
// busy is a retryable 503, a blocked user a 403, a bad code a 400.
var (
	ErrUnavailable = domain.E(domain.KindUnavailable, "wechat_unavailable", "WeChat is not reachable; try again.")
	ErrBusy        = domain.E(domain.KindUnavailable, "wechat_busy", "WeChat is busy; try again in a moment.")
	ErrUserBlocked = domain.E(domain.KindForbidden, "wechat_user_blocked",
		"WeChat has restricted this account's sign-in to mini-programs (high-risk account).")
	ErrRateLimited = domain.E(domain.KindTooMany, "wechat_rate_limited", "Too many requests to WeChat; wait a minute.")
	ErrPhoneQuota  = domain.E(domain.KindUnavailable, "wechat_phone_quota",
		"Phone-number binding is unavailable for now (the mini-program's quota is used up); try again later.")
	ErrWxaCodeQuota = domain.E(domain.KindTooMany, "wxacode_quota", "Today's mini-program code quota is used up; try tomorrow.")
	ErrWxaCodePage  = domain.E(domain.KindUnprocessable, "wxacode_page_invalid",
		"The page does not exist in the published mini-program (or in the configured env_version).")
	ErrWxaCodeScene = domain.E(domain.KindInvalid, "wxacode_scene_invalid", "The mini-program code's scene or parameters are not valid.")
	ErrTemplate     = domain.E(domain.KindInternal, "message_template_invalid", "A subscribe-message template or its data is not valid.")
	ErrCredentials  = domain.E(domain.KindInternal, "wechat_credentials_invalid", "The mini-program's AppID or AppSecret is not valid.")
)

// APIError is a WeChat errcode no rule maps; it is an internal error.
type APIError struct {
	API     string
	ErrCode int
	ErrMsg  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("weapp: %s: errcode %d: %s", e.API, e.ErrCode, e.ErrMsg)
}

// codes maps (api, errcode) to an error; api "" holds codes every API may
// answer. Sources: WeChat's pages for each API; codes marked unverified are
// from community answers and handled defensively.
var codes = map[string]map[int]*domain.Error{
	"": {
		-1:    ErrBusy,
		45011: ErrRateLimited,
		40013: ErrCredentials,
		40125: ErrCredentials,
		41002: ErrCredentials,
	},
	"code2session": {
		40029: identity.ErrWeChatCode,
		40163: identity.ErrWeChatCode, // the code was used
		40226: ErrUserBlocked,
	},
	"phone": {
		40029:   identity.ErrWeChatCode,
		1400001: ErrPhoneQuota,
	},
	"wxacode": {
		45009: ErrWxaCodeQuota,
		41030: ErrWxaCodePage,
		40159: ErrWxaCodePage,
		40097: ErrWxaCodeScene,
		40169: ErrWxaCodeScene,
		40129: ErrWxaCodeScene,
	},
	"upload_shipping_info": {
		10060001: platform.ErrNotManaged,     // 支付单不存在 (unverified)
		10060020: platform.ErrNotManaged,     // 该笔支付单不支持发货 (unverified)
		10060002: platform.ErrAlreadyShipped, // 支付单已完成发货，无法继续发货 (unverified)
		10060003: platform.ErrAlreadyShipped, // 支付单已使用重新发货机会 (unverified)
		10060012: ErrBusy,                    // 系统繁忙 (unverified)
		10060019: ErrBusy,                    // 系统繁忙 (unverified)
	},
	"subscribe_send": {
		43101: platform.ErrMessageRefused,
		40037: ErrTemplate,
		47003: ErrTemplate,
		41030: ErrTemplate,
	},
}

// mapError turns a non-zero errcode of api into its error.
func mapError(api string, e apiError) error {
	de, ok := codes[api][e.ErrCode]
	if !ok {
		de, ok = codes[""][e.ErrCode]
	}
	if !ok {
		return &APIError{API: api, ErrCode: e.ErrCode, ErrMsg: e.ErrMsg}
	}
	return &domain.Error{Kind: de.Kind, Code: de.Code, Message: de.Message, Err: &APIError{API: api, ErrCode: e.ErrCode, ErrMsg: e.ErrMsg}}
}
