package payment

import (
	"errors"

	"github.com/yutang/yutang/domain"
)

// Errors a Gateway returns. Match them with errors.Is; the provider's answer
// (or the transport error) is the wrapped cause.
//
// A definite failure (every sentinel but ErrUnknown) means the provider
// refused and nothing happened. ErrUnknown means the request may or may not
// have taken effect (timeout, 429, 5xx, SYSTEM_ERROR, an unverifiable
// answer): query first, then retry with identical parameters.
var (
	ErrUnknown = domain.E(domain.KindUnavailable, "payment_unknown",
		"The payment provider did not give a definite answer; try again shortly.")

	ErrOrderNotExist = domain.E(domain.KindNotFound, "payment_order_not_exist",
		"The payment provider knows no such payment.")
	ErrOrderPaid = domain.E(domain.KindConflict, "payment_order_paid",
		"This payment has already been paid.")
	ErrOrderClosed = domain.E(domain.KindConflict, "payment_order_closed",
		"This payment has been closed.")
	ErrOutTradeNoUsed = domain.E(domain.KindConflict, "payment_out_trade_no_used",
		"This payment number was already used with other parameters.")

	ErrRefundNotExist = domain.E(domain.KindNotFound, "refund_not_exist",
		"The payment provider knows no such refund.")
	ErrRefundExceeded = domain.E(domain.KindConflict, "refund_amount_exceeded",
		"The refund exceeds what is left to refund on this payment.")
	ErrRefundLimit = domain.E(domain.KindConflict, "refund_limit_reached",
		"This payment cannot be refunded any more times.")

	// ErrNotEnough: the merchant's balance is short (NOT_ENOUGH); the same
	// refund succeeds once it is topped up, so it is retried with backoff.
	ErrNotEnough = domain.E(domain.KindConflict, "refund_balance_short",
		"The merchant balance is too low for this refund now.")

	// ErrRejected is any other definite refusal (bad parameters, no
	// authority, insufficient merchant balance …).
	ErrRejected = domain.E(domain.KindUnprocessable, "payment_rejected",
		"The payment provider refused the request.")

	// ErrNotificationUnverified: the notification's headers, timestamp or
	// signature do not verify (forged, replayed, SIGNTEST probe). Answer 4xx.
	ErrNotificationUnverified = domain.E(domain.KindUnauthorized, "payment_notification_unverified",
		"The notification could not be verified.")
	// ErrNotificationInvalid: the notification verified but could not be
	// decrypted or decoded (wrong APIv3 key, unexpected shape). Answer 5xx.
	ErrNotificationInvalid = domain.E(domain.KindInvalid, "payment_notification_invalid",
		"The notification could not be read.")
)

// Retryable reports whether err leaves the outcome unknown, so that the
// caller must query before acting and may retry with identical parameters.
func Retryable(err error) bool { return errors.Is(err, ErrUnknown) }
