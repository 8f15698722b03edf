// Package payments is yutang's WeChat Pay APIv3 adapter, the only importer of
// wechatpay-go. Gateway implements payment.Gateway (JSAPI and native
// prepay, query, close, refunds) and parses payment and refund
// notifications. Package wxpaysim is a local stand-in for WeChat Pay that the
// same code talks to through RewriteTransport.
package payments

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/cipher"
	"github.com/wechatpay-apiv3/wechatpay-go/core/cipher/decryptors"
	"github.com/wechatpay-apiv3/wechatpay-go/core/cipher/encryptors"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/native"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

	"github.com/yutang/yutang/domain/payment"
)

// DefaultTimeout bounds each API call when Config.HTTPClient is nil.
const DefaultTimeout = 10 * time.Second

// Gateway talks to WeChat Pay for one merchant and one mini-program.
// It is safe for concurrent use.
type Gateway struct {
	mchID, appID    string
	notifyURL       string
	refundNotifyURL string

	jsapi   jsapi.JsapiApiService
	native  native.NativeApiService
	refunds refunddomestic.RefundsApiService
	notify  *notify.Handler
	client  *core.Client   // for APIs without an SDK service (merchant transfers)
	certs   *platformCerts // certificate and combined modes: the platform certificates in force
}

var _ payment.Gateway = (*Gateway)(nil)

// New validates cfg and builds the SDK client and the notification handler.
func New(cfg Config) (*Gateway, error) {
	k, err := cfg.parse()
	if err != nil {
		return nil, err
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultTimeout}
	}

	var verifier auth.Verifier
	var authOpt core.ClientOption
	var certs *platformCerts
	switch cfg.Mode {
	case ModePublicKey:
		verifier = verifiers.NewSHA256WithRSAPubkeyVerifier(cfg.PlatformPublicKeyID, *k.publicKey)
		authOpt = option.WithWechatPayPublicKeyAuthCipher(
			cfg.MchID, cfg.MchCertSerial, k.mchKey, cfg.PlatformPublicKeyID, k.publicKey)
	case ModeCertificate, ModeCombined:
		// The configured certificates start a set that RefreshCertificates
		// (and unknown serials, rate-limited) keep current: certs.go.
		certs = newPlatformCerts(k.certs, cfg.APIv3Key, cfg.Now, cfg.CertRefreshGap)
		verifier = verifiers.NewSHA256WithRSAVerifier(certs)
		var encryptor cipher.Encryptor = encryptors.NewWechatPayEncryptor(certs)
		if cfg.Mode == ModeCombined {
			certs.pubKeyID, certs.publicKey = cfg.PlatformPublicKeyID, k.publicKey
			verifier = verifiers.NewSHA256WithRSACombinedVerifier(certs, cfg.PlatformPublicKeyID, *k.publicKey)
			encryptor = encryptors.NewWechatPayPubKeyEncryptor(cfg.PlatformPublicKeyID, *k.publicKey)
		}
		authOpt = combinedOption{
			option.WithMerchantCredential(cfg.MchID, cfg.MchCertSerial, k.mchKey),
			option.WithVerifier(verifier),
			option.WithWechatPayCipher(encryptor, decryptors.NewWechatPayDecryptor(k.mchKey)),
		}
	}

	client, err := core.NewClient(context.Background(), authOpt, option.WithHTTPClient(httpClient))
	if err != nil {
		return nil, fmt.Errorf("payments: new client: %w", err)
	}
	if certs != nil {
		// Downloads verify their answer themselves (certs.refresh).
		certs.client = core.NewClientWithValidator(client, &validators.NullValidator{})
	}
	handler, err := notify.NewRSANotifyHandler(cfg.APIv3Key, verifier)
	if err != nil {
		return nil, fmt.Errorf("payments: new notify handler: %w", err)
	}
	return &Gateway{
		mchID:           cfg.MchID,
		appID:           cfg.AppID,
		notifyURL:       cfg.NotifyURL,
		refundNotifyURL: cfg.RefundNotifyURL,
		jsapi:           jsapi.JsapiApiService{Client: client},
		native:          native.NativeApiService{Client: client},
		refunds:         refunddomestic.RefundsApiService{Client: client},
		notify:          handler,
		client:          client,
		certs:           certs,
	}, nil
}

// combinedOption applies several client options in order.
type combinedOption []core.ClientOption

func (o combinedOption) Apply(s *core.DialSettings) error {
	for _, opt := range o {
		if err := opt.Apply(s); err != nil {
			return err
		}
	}
	return nil
}
