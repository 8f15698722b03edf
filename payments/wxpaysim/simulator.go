package wxpaysim

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config describes the merchant the simulator serves.
type Config struct {
	MchID    string
	AppID    string
	APIv3Key string // exactly 32 bytes

	// MerchantPublicKey verifies request signatures; MerchantCertSerial, when
	// set, must match their serial_no.
	MerchantPublicKey  *rsa.PublicKey
	MerchantCertSerial string

	// NotifyURL and RefundNotifyURL are used when a request names none.
	NotifyURL       string
	RefundNotifyURL string

	// RetrySchedule is the wait before each retry of a notification that was
	// not answered 2xx in time: nil means WeChat's (DefaultRetrySchedule),
	// empty means no retries.
	RetrySchedule []time.Duration
	// NotifyTimeout bounds each delivery (default 5 s, as WeChat's).
	NotifyTimeout time.Duration
	// Workers bounds concurrent deliveries (default 4).
	Workers int

	// RefundDelay is how long a refund stays PROCESSING before it succeeds
	// by itself (default 2 s); ManualRefunds turns that off.
	RefundDelay   time.Duration
	ManualRefunds bool

	// PlatformKey plays WeChat Pay's key (nil: generated). PlatformSerial,
	// when set, is sent in Wechatpay-Serial instead of a generated
	// PUB_KEY_ID_…: the serial of a certificate for PlatformKey, to test
	// certificate mode.
	PlatformKey    *rsa.PrivateKey
	PlatformSerial string

	HTTPClient *http.Client     // for notifications (nil: a plain client)
	Now        func() time.Time // business times (nil: time.Now)
}

// DefaultRetrySchedule returns WeChat Pay's notification retry intervals.
func DefaultRetrySchedule() []time.Duration {
	m, h := time.Minute, time.Hour
	return []time.Duration{15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * m, 10 * m,
		20 * m, 30 * m, 30 * m, 30 * m, 60 * m, 3 * h, 3 * h, 3 * h, 6 * h, 6 * h}
}

// ScaleSchedule divides every interval of s by divisor: with 1000, WeChat's
// 15 s become 15 ms.
func ScaleSchedule(s []time.Duration, divisor int64) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, d := range s {
		out[i] = d / time.Duration(divisor)
	}
	return out
}

// Simulator is a WeChat Pay APIv3 stand-in for one merchant. It is an
// http.Handler, safe for concurrent use; Close stops its deliveries.
type Simulator struct {
	cfg         Config
	platformKey *rsa.PrivateKey
	publicKeyID string
	gcm         cipher.AEAD
	client      *http.Client
	mux         *http.ServeMux
	sched       *scheduler

	mu           sync.Mutex
	trades       map[string]*trade  // by out_trade_no
	byTxID       map[string]*trade  // by transaction_id
	refunds      map[string]*refund // by out_refund_no
	notifyFaults map[string][]notifyFault
	apiFailures  int
	apiFailCode  int
	// afterEffect: the next calls do their work, then answer this failure.
	afterEffect []afterFault // faults.go
	deliveries  []Delivery
	transfers   map[string]*transfer // by out_bill_no (transfers.go)
	// refusals: the next refunds asked for are refused with these codes
	// (refunds_abnormal.go); abnormalNext: the next refunds accepted end
	// ABNORMAL instead of succeeding.
	refusals     []string
	abnormalNext int
	certs        certState // platform certificates (certs.go); its own lock
	billOnce     sync.Once
	billState    *billState // trade bills (bill.go); its own lock
	// journal keeps the state durable (Open, journal.go); nil in process.
	journal *journal
}

// New starts a simulator. Call Close when done.
func New(cfg Config) (*Simulator, error) {
	var problems []string
	if cfg.MchID == "" {
		problems = append(problems, "MchID is empty")
	}
	if cfg.AppID == "" {
		problems = append(problems, "AppID is empty")
	}
	if len(cfg.APIv3Key) != 32 {
		problems = append(problems, fmt.Sprintf("APIv3Key is %d bytes, want 32", len(cfg.APIv3Key)))
	}
	if cfg.MerchantPublicKey == nil {
		problems = append(problems, "MerchantPublicKey is nil")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("wxpaysim: config: %s", strings.Join(problems, "; "))
	}
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = DefaultRetrySchedule()
	}
	if cfg.NotifyTimeout <= 0 {
		cfg.NotifyTimeout = 5 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.RefundDelay <= 0 {
		cfg.RefundDelay = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	key := cfg.PlatformKey
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("wxpaysim: platform key: %w", err)
		}
	}
	if cfg.PlatformSerial == "" {
		cfg.PlatformSerial = "PUB_KEY_ID_01" + randomDigits(28)
	}
	block, err := aes.NewCipher([]byte(cfg.APIv3Key))
	if err != nil {
		return nil, fmt.Errorf("wxpaysim: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("wxpaysim: %w", err)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	s := &Simulator{
		cfg:          cfg,
		platformKey:  key,
		publicKeyID:  cfg.PlatformSerial,
		gcm:          gcm,
		client:       client,
		trades:       map[string]*trade{},
		byTxID:       map[string]*trade{},
		refunds:      map[string]*refund{},
		notifyFaults: map[string][]notifyFault{},
	}
	s.mux = s.routes()
	s.sched = newScheduler(cfg.Workers, s.attempt)
	return s, nil
}

// PublicKeyID is the platform public key id ("PUB_KEY_ID_…") that signs
// every answer and notification.
func (s *Simulator) PublicKeyID() string { return s.publicKeyID }

// PlatformPublicKeyPEM is the platform public key ("BEGIN PUBLIC KEY") to
// configure the gateway with.
func (s *Simulator) PlatformPublicKeyPEM() []byte { return publicKeyPEM(&s.platformKey.PublicKey) }

// Close stops the delivery goroutines; pending notifications are dropped.
func (s *Simulator) Close() {
	s.sched.close()
	s.closeJournal()
}

func (s *Simulator) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.Handle("POST /v3/pay/transactions/jsapi", s.api(s.prepayJSAPI))
	m.Handle("POST /v3/pay/transactions/native", s.api(s.prepayNative))
	m.Handle("GET /v3/pay/transactions/out-trade-no/{no}", s.api(s.query))
	m.Handle("POST /v3/pay/transactions/out-trade-no/{no}/close", s.api(s.close))
	m.Handle("POST /v3/refund/domestic/refunds", s.api(s.createRefund))
	m.Handle("GET /v3/refund/domestic/refunds/{no}", s.api(s.queryRefund))
	m.Handle("POST /v3/refund/domestic/refunds/{id}/apply-abnormal-refund", s.api(s.applyAbnormalRefund))
	s.transferRoutes(m)
	s.certRoutes(m) // certs.go: GET /v3/certificates, /_sim/certificates…
	s.billRoutes(m)
	m.Handle("/v3/", s.api(func(*http.Request, []byte) (int, any, *apiError) {
		return 0, nil, errf(http.StatusNotFound, "NOT_FOUND", "接口不存在")
	}))
	s.controlRoutes(m)
	s.listRoute(m)
	return m
}

// ServeHTTP serves the WeChat Pay routes and the /_sim control routes
// wherever the simulator is mounted: everything before "/v3/" or "/_sim/"
// in the path is ignored.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	cut := -1
	for _, root := range []string{"/v3/", "/_sim/"} {
		if i := strings.Index(path, root); i > 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut > 0 {
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path = path[cut:]
		u.RawPath = ""
		r2.URL = &u
		r = r2
	}
	if r.Method == http.MethodGet || !strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.mux.ServeHTTP(w, r) // the API flushes before answering (api)
		return
	}
	// A control call (pay, refund outcomes, faults) answers only once its
	// changes are durable: held until the journal's flush.
	rec := &heldResponse{header: http.Header{}}
	s.mux.ServeHTTP(rec, r)
	if err := s.flush(); err != nil {
		http.Error(w, "wxpaysim: journal: "+err.Error(), http.StatusInternalServerError)
		return
	}
	maps.Copy(w.Header(), rec.header)
	w.WriteHeader(rec.status())
	_, _ = w.Write(rec.body.Bytes())
}

// heldResponse holds a control call's answer until the journal is flushed.
type heldResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (h *heldResponse) Header() http.Header         { return h.header }
func (h *heldResponse) Write(b []byte) (int, error) { return h.body.Write(b) }
func (h *heldResponse) WriteHeader(code int) {
	if h.code == 0 {
		h.code = code
	}
}
func (h *heldResponse) status() int {
	if h.code == 0 {
		return http.StatusOK
	}
	return h.code
}
