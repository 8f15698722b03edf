// Package wxpaysim is a WeChat Pay APIv3 simulator: an
// http.Handler that the real wechatpay-go SDK (through payments.Gateway and
// payments.RewriteTransport) talks to in tests and in development.
//
// It checks each merchant request's WECHATPAY2-SHA256-RSA2048 signature,
// signs every 2xx answer (204 included) with its own platform key in
// public-key mode (PlatformPublicKeyPEM, PublicKeyID), answers errors as
// unsigned {"code","message"} JSON with WeChat-like statuses, and delivers
// AES-256-GCM encrypted, signed payment and refund notifications with
// WeChat's retry schedule (compressible: ScaleSchedule).
//
// WeChat Pay routes (mounted anywhere: the path is taken from "/v3/" on, so
// http.StripPrefix is optional):
//
//	POST /v3/pay/transactions/jsapi                          → {"prepay_id"}
//	POST /v3/pay/transactions/native                         → {"code_url"}
//	GET  /v3/pay/transactions/out-trade-no/{no}?mchid=       → transaction
//	POST /v3/pay/transactions/out-trade-no/{no}/close        → 204
//	POST /v3/refund/domestic/refunds                         → refund
//	GET  /v3/refund/domestic/refunds/{out_refund_no}         → refund
//
// Rules enforced: out_trade_no 6–32 characters of [0-9A-Za-z_-|*];
// description 1–127 and attach ≤ 128 characters; time_expire at least a
// minute ahead on the first prepay; a re-prepay with identical parameters
// gets a new prepay_id, with changed ones 403 OUT_TRADE_NO_USED; prepaying a
// paid or closed trade is refused; refunds never exceed the total (sum of
// all refunds not closed), at most 50 per trade, and the same out_refund_no
// returns the same refund.
//
// Control API, as Go methods and as unauthenticated HTTP routes on the same
// handler (development only; answers are plain JSON):
//
//	Pay(no, openid)                   POST /_sim/transactions/{no}/pay {"openid"}
//	Transaction(no)                   GET  /_sim/transactions/{no}
//	CompleteRefund(no)                POST /_sim/refunds/{no}/complete
//	FailRefund(no, status)            POST /_sim/refunds/{no}/fail {"status":"ABNORMAL"|"CLOSED"}
//	InjectNotificationFault(key, f)   POST /_sim/notifications/{key}/faults {"fault":"drop"|"duplicate"|"forge"|"signtest"|"stale"}
//	DelayNextNotification(key, d)     POST /_sim/notifications/{key}/faults {"fault":"delay","delay":"30s"}
//	FailNextAPICalls(n, status)       POST /_sim/api-faults {"count":n,"status":429}
//	FailNextAfterEffect(op, n, st)    POST /_sim/api-faults {"count":n,"status":500,"after_effect":true,"operation":"close"}
//	HangNextAfterEffect(op, n, d)     POST /_sim/api-faults {"count":n,"after_effect":true,"timeout":true,"hang":"15s","operation":"refund"}
//	Trades(state)                     GET  /_sim/transactions?state=SUCCESS
//	Deliveries()                      GET  /_sim/deliveries
//	PublicKeyID(), PlatformPublicKeyPEM()  GET /_sim/platform-key
//
// A notification fault applies to the next notification for key (the
// out_trade_no of a payment, the out_refund_no of a refund): drop loses it,
// duplicate sends it twice at once, delay holds the first attempt, forge,
// signtest and stale spoil the first attempt's signature or timestamp (the
// retries that follow are genuine, as WeChat's would be).
//
// Refunds complete by themselves after Config.RefundDelay unless
// Config.ManualRefunds is set. Business times come from Config.Now;
// signatures use the real clock, which the SDK checks.
//
// "After effect" faults do the work (a prepay, close or refund is accepted,
// a query answered) and then answer 5xx/429/4xx, or nothing at all: the
// request is held (until the client gives up, or "hang") and the connection
// dropped. "operation" (prepay, close, refund, query) aims them at one kind
// of call. Closing a paid trade answers 403 TRADE_ERROR, as APIv3 documents
// its refusals (v2's ORDERPAID is not an APIv3 close code).
//
// Deliveries run on a fixed pool of goroutines; Close stops them, WaitIdle
// waits until nothing is scheduled or in flight.
//
// New keeps everything in memory (tests, the mall's in-process simulator).
// Open keeps the same maps durable under a directory (journal.go, state.go):
// its keys in keys.json and every change in an fsync'd journal replayed and
// compacted at start, undelivered notifications resumed — what `yutang
// wxpaysim` runs, so the mall can crash while "WeChat" keeps its trades.
package wxpaysim
