package payments

import (
	"errors"
	"net/http"
	"strings"

	"github.com/wechatpay-apiv3/wechatpay-go/core"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/payment"
)

// WeChat Pay spells some codes two ways (ORDERNOTEXIST / ORDER_NOT_EXIST);
// codes are compared with underscores removed, so one entry covers both.
var (
	unknownCodes = set("SYSTEMERROR", "BANKERROR", "FREQUENCYLIMITED", "TRADEERROR_RETRY")
	codeErrors   = map[string]*domain.Error{
		"ORDERNOTEXIST":     payment.ErrOrderNotExist,
		"RESOURCENOTEXISTS": payment.ErrOrderNotExist,
		"RESOURCENOTEXIST":  payment.ErrOrderNotExist,
		"ORDERPAID":         payment.ErrOrderPaid,
		"ORDERCLOSED":       payment.ErrOrderClosed,
		"OUTTRADENOUSED":    payment.ErrOutTradeNoUsed,
		"NOTENOUGH":         payment.ErrNotEnough,
	}
)

func set(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

func normalizeCode(code string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), "_", ""))
}

// classify maps an SDK error to a payment sentinel carrying err as its cause.
// notFound replaces ErrOrderNotExist for operations on refunds.
//
// Only an *core.APIError with a 4xx status other than 429 is a definite
// failure; anything else — a transport error, a timeout, a cancelled
// context, 429, 5xx, SYSTEM_ERROR, a 2xx whose signature does not verify —
// leaves the outcome unknown.
func classify(err error, notFound *domain.Error) *domain.Error {
	var apiErr *core.APIError
	if !errors.As(err, &apiErr) {
		return withCause(payment.ErrUnknown, err)
	}
	code := normalizeCode(apiErr.Code)
	switch {
	case apiErr.StatusCode == http.StatusTooManyRequests,
		apiErr.StatusCode >= 500,
		unknownCodes[code]:
		return withCause(payment.ErrUnknown, err)
	case codeErrors[code] != nil:
		e := codeErrors[code]
		if e == payment.ErrOrderNotExist && notFound != nil {
			e = notFound
		}
		return withCause(e, err)
	case apiErr.StatusCode == http.StatusNotFound && notFound != nil:
		return withCause(notFound, err)
	// Unverified: WeChat Pay reports these refund refusals as INVALID_REQUEST
	// told apart only by the message; the order service checks amounts and
	// counts before asking, so this mapping is a second line.
	case code == "INVALIDREQUEST" && strings.Contains(apiErr.Message, "次数"):
		return withCause(payment.ErrRefundLimit, err)
	case code == "INVALIDREQUEST" && refundExceeded(apiErr.Message):
		return withCause(payment.ErrRefundExceeded, err)
	}
	return withCause(payment.ErrRejected, err)
}

func refundExceeded(msg string) bool {
	return strings.Contains(msg, "超过") && strings.Contains(msg, "退款") ||
		strings.Contains(msg, "全额退款")
}

func withCause(sentinel *domain.Error, cause error) *domain.Error {
	e := *sentinel
	e.Err = cause
	return &e
}
