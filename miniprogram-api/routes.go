package mpapi

import (
	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain/commission"
	"github.com/yutang/yutang/domain/identity"
)

// registerRoutes is the one list of every route, grouped by audience and
// guarded by its auth middleware. openapi.yaml lists the same set (a test
// checks it). Each area keeps its routes in its own block below.
func (a *API) registerRoutes(e *echo.Echo) {
	e.Use(withRequestID, a.withMetrics, a.withAccessLog, a.withRecover, a.bodyLimit(), checkText, a.touchVersions)

	// Operations.
	e.GET("/healthz", a.healthz)
	e.GET("/readyz", a.readyz)
	e.GET("/metrics", a.metricsHandler())
	e.GET("/openapi.yaml", a.openapi)

	// Shop routes resolve a bearer token once, in the group (anonymous
	// visitors pass); asShopper then only asks that it was a shopper's.
	shop := e.Group("/api/v1/shop", a.authenticate(false))
	clerk := e.Group("/api/v1/clerk")
	admin := e.Group("/api/v1/admin")
	hooks := e.Group("/webhooks")

	// Staff routes need a token, except signing in.
	staffAuth := a.authenticate(true)
	asShopper := []echo.MiddlewareFunc{shopperOnly}
	asStore := []echo.MiddlewareFunc{staffAuth, staffWith(storeStaff...)}
	asAdmin := func(roles ...identity.Role) []echo.MiddlewareFunc {
		return []echo.MiddlewareFunc{staffAuth, staffWith(roles...)}
	}

	// --- identity ---
	shop.POST("/session", a.shopSession)
	shop.POST("/session/phone", a.shopSessionPhone, asShopper...)
	shop.DELETE("/session", a.signOut, asShopper...)
	clerk.POST("/session", a.staffSession(storeStaff))
	clerk.DELETE("/session", a.signOut, asStore...)
	admin.POST("/session", a.staffSession(backOffice))
	admin.DELETE("/session", a.signOut, asAdmin(backOffice...)...)
	admin.GET("/audit-log", a.listAudit, asAdmin(adminOnly...)...)

	// --- catalog (routes:catalog) ---
	shop.GET("/categories", a.shopCategories)
	shop.GET("/products", a.shopProducts)
	shop.GET("/products/:id", a.shopProduct)
	admin.GET("/categories", a.adminCategories, asAdmin(backOffice...)...)
	admin.POST("/categories", a.createCategory, asAdmin(catalogEditors...)...)
	admin.PUT("/categories/:id", a.updateCategory, asAdmin(catalogEditors...)...)
	admin.DELETE("/categories/:id", a.deleteCategory, asAdmin(catalogEditors...)...)
	admin.GET("/products", a.adminProducts, asAdmin(backOffice...)...)
	admin.POST("/products", a.createProduct, asAdmin(catalogEditors...)...)
	admin.GET("/products/:id", a.adminProduct, asAdmin(backOffice...)...)
	admin.PATCH("/products/:id", a.patchProduct, asAdmin(catalogEditors...)...)
	admin.DELETE("/products/:id", a.deleteProduct, asAdmin(catalogEditors...)...)
	admin.POST("/products/:id/status", a.setProductStatus, asAdmin(catalogEditors...)...)
	admin.POST("/products/:id/skus", a.createSKU, asAdmin(catalogEditors...)...)
	admin.PATCH("/skus/:id", a.patchSKU, asAdmin(catalogEditors...)...)
	admin.POST("/skus/:id/stock-adjustments", a.adjustStock, asAdmin(catalogEditors...)...)
	admin.GET("/skus/:id/stock-ledger", a.stockLedger, asAdmin(backOffice...)...)
	admin.GET("/stores", a.listStores, asAdmin(backOffice...)...)
	admin.POST("/stores", a.createStore, asAdmin(catalogEditors...)...)
	admin.GET("/stores/:id", a.getStore, asAdmin(backOffice...)...)
	admin.PATCH("/stores/:id", a.patchStore, asAdmin(catalogEditors...)...)
	admin.DELETE("/stores/:id", a.deleteStore, asAdmin(catalogEditors...)...)

	// --- cart and orders (routes:orders) ---
	shop.GET("/cart", a.getCart)
	shop.POST("/cart/items", a.addCartItem)
	shop.PATCH("/cart/items/:sku_id", a.updateCartItem)
	shop.DELETE("/cart/items/:sku_id", a.removeCartItem)
	shop.POST("/checkout/preview", a.previewCheckout, asShopper...)
	shop.POST("/orders", a.placeOrder, asShopper...)
	shop.GET("/orders", a.listOrders, asShopper...)
	shop.GET("/orders/:no", a.getOrder, asShopper...)
	shop.POST("/orders/:no/cancel", a.cancelOrder, asShopper...)
	shop.POST("/orders/:no/confirm", a.confirmOrder, asShopper...)
	shop.GET("/addresses", a.listAddresses, asShopper...)
	shop.POST("/addresses", a.createAddress, asShopper...)
	shop.GET("/addresses/:id", a.getAddress, asShopper...)
	shop.PATCH("/addresses/:id", a.updateAddress, asShopper...)
	shop.DELETE("/addresses/:id", a.deleteAddress, asShopper...)
	admin.GET("/orders", a.adminListOrders, asAdmin(backOffice...)...)
	admin.GET("/orders/:no", a.adminGetOrder, asAdmin(backOffice...)...)
	admin.POST("/orders/:no/ship", a.shipOrder, asAdmin(operators...)...)

	// --- payments (routes:payments) ---
	shop.POST("/orders/:no/pay", a.payOrder, asShopper...)
	shop.POST("/orders/:no/pay/check", a.checkPayment, asShopper...)
	// Notifications: the SDK reads the body first (no bindJSON here).
	hooks.POST("/wechatpay/transactions", a.wechatPayTransactions)
	hooks.POST("/wechatpay/refunds", a.wechatPayRefunds)
	admin.GET("/refunds", a.listRefunds, asAdmin(operators...)...)
	admin.POST("/refunds/:id/retry", a.retryRefund, asAdmin(operators...)...)
	admin.POST("/refunds/:id/apply-abnormal", a.applyAbnormalRefund, asAdmin(operators...)...)

	// --- after-sales (routes:aftersales) ---
	shop.POST("/orders/:no/after-sales", a.requestAfterSales, asShopper...)
	admin.GET("/after-sales", a.listAfterSales, asAdmin(operators...)...)
	admin.POST("/after-sales/:id/approve", a.approveAfterSales, asAdmin(operators...)...)
	admin.POST("/after-sales/:id/reject", a.rejectAfterSales, asAdmin(operators...)...)

	// --- attribution (routes:attribution) ---
	shop.POST("/track", a.track)
	shop.POST("/share-links", a.createShareLink, asShopper...)
	clerk.GET("/share-links", a.listClerkShareLinks, asStore...)
	clerk.POST("/share-links", a.createShareLink, asStore...)
	admin.POST("/share-links", a.createShareLink, asAdmin(operators...)...)
	admin.GET("/share-links/:code/wxacode", a.shareLinkWxaCode, asAdmin(backOffice...)...)
	admin.GET("/touchpoints", a.listTouchpoints, asAdmin(backOffice...)...)
	admin.POST("/touchpoints", a.createTouchpoint, asAdmin(operators...)...)
	admin.GET("/touchpoints/:id", a.getTouchpoint, asAdmin(backOffice...)...)
	admin.PATCH("/touchpoints/:id", a.patchTouchpoint, asAdmin(operators...)...)
	admin.GET("/attribution/settings", a.getAttributionSettings, asAdmin(backOffice...)...)
	admin.PUT("/attribution/settings", a.putAttributionSettings, asAdmin(adminOnly...)...)
	admin.GET("/reports/attribution", a.attributionReport, asAdmin(backOffice...)...)
	admin.GET("/reports/attribution/:dimension/:id/daily", a.attributionDaily, asAdmin(backOffice...)...)
	admin.GET("/reports/attribution/:dimension/:id/products", a.attributionProducts, asAdmin(backOffice...)...)
	admin.GET("/orders/:no/attribution", a.orderAttribution, asAdmin(backOffice...)...)

	// --- clerks (routes:clerks) ---
	// Writes are the store staff's (clerks, store managers); admins read
	// every store's desk.
	asDesk := asAdmin(deskStaff...)
	clerk.POST("/orders/preview", a.previewClerkOrder, asStore...)
	clerk.POST("/orders", a.placeClerkOrder, asStore...)
	clerk.GET("/orders", a.listClerkOrders, asDesk...)
	clerk.GET("/orders/:no", a.getClerkOrder, asDesk...)
	clerk.POST("/orders/:no/collect", a.collectClerkOrder, asStore...)
	clerk.GET("/orders/:no/qr", a.clerkOrderQR, asDesk...)
	clerk.POST("/orders/:no/cancel", a.cancelClerkOrder, asStore...)
	clerk.POST("/pickups/verify", a.verifyPickup, asStore...)
	clerk.GET("/performance", a.clerkPerformance, asDesk...)
	clerk.GET("/store/performance", a.storePerformance, asDesk...)
	clerk.GET("/customers", a.clerkCustomers, asDesk...)
	shop.GET("/orders/:no/pickup", a.shopPickup, asShopper...)
	shop.GET("/orders/:no/pickup/qr", a.shopPickupQR, asShopper...)
	// --- membership ---
	shop.POST("/member/activate", a.activateMember, asShopper...)
	shop.GET("/member", a.getMember, asShopper...)
	shop.GET("/member/code", a.memberCode, asShopper...)
	shop.GET("/member/ledger", a.memberLedger, asShopper...)
	shop.GET("/member/topup-packages", a.listPackages(true), asShopper...)
	shop.POST("/member/topups", a.topUp, asShopper...)
	clerk.GET("/members/lookup", a.lookUpMember, asStore...)
	admin.GET("/member-tiers", a.listTiers, asAdmin(backOffice...)...)
	admin.POST("/member-tiers", a.saveTier, asAdmin(operators...)...)
	admin.PUT("/member-tiers/:id", a.saveTier, asAdmin(operators...)...)
	admin.GET("/member-settings", a.getMemberSettings, asAdmin(backOffice...)...)
	admin.PUT("/member-settings", a.putMemberSettings, asAdmin(adminOnly...)...)
	admin.GET("/topup-packages", a.listPackages(false), asAdmin(backOffice...)...)
	admin.POST("/topup-packages", a.createPackage, asAdmin(operators...)...)
	admin.POST("/topups/:out_trade_no/refund", a.refundTopUp, asAdmin(operators...)...)
	admin.POST("/members/:shopper_id/points-adjustments", a.adjustPoints, asAdmin(operators...)...)
	admin.PUT("/skus/:id/member-price", a.setMemberPrice, asAdmin(catalogEditors...)...)
	// --- coupons and campaigns (routes:coupons) ---
	shop.GET("/coupon-center", a.couponCentre)
	shop.POST("/coupons/claim", a.claimCoupon, asShopper...)
	shop.GET("/coupons", a.listMyCoupons, asShopper...)
	admin.GET("/coupon-templates", a.listCouponTemplates, asAdmin(backOffice...)...)
	admin.POST("/coupon-templates", a.createCouponTemplate, asAdmin(catalogEditors...)...)
	admin.GET("/coupon-templates/:id", a.getCouponTemplate, asAdmin(backOffice...)...)
	admin.PATCH("/coupon-templates/:id", a.patchCouponTemplate, asAdmin(catalogEditors...)...)
	admin.POST("/coupon-templates/:id/status", a.setCouponTemplateStatus, asAdmin(catalogEditors...)...)
	admin.POST("/coupon-templates/:id/codes", a.generateCodes, asAdmin(catalogEditors...)...)
	admin.GET("/coupon-templates/:id/codes", a.listCodes, asAdmin(catalogEditors...)...)
	admin.POST("/coupon-templates/:id/bulk-issue", a.bulkIssue, asAdmin(operators...)...)
	admin.GET("/jobs/:id", a.getJob, asAdmin(backOffice...)...)
	admin.GET("/coupon-budgets", a.listBudgets, asAdmin(backOffice...)...)
	admin.POST("/coupon-budgets", a.createBudget, asAdmin(operators...)...)
	shop.POST("/coupons/redeem", a.redeemCode, asShopper...)
	clerk.POST("/coupon-grants", a.grantCoupon, asStore...)
	admin.GET("/campaigns", a.listCampaigns, asAdmin(backOffice...)...)
	admin.POST("/campaigns", a.createCampaign, asAdmin(catalogEditors...)...)
	admin.GET("/campaigns/:id", a.getCampaign, asAdmin(backOffice...)...)
	admin.PATCH("/campaigns/:id", a.patchCampaign, asAdmin(catalogEditors...)...)
	admin.POST("/campaigns/:id/status", a.setCampaignStatus, asAdmin(catalogEditors...)...)
	admin.GET("/coupon-settings", a.getCouponSettings, asAdmin(backOffice...)...)
	admin.PUT("/coupon-settings", a.putCouponSettings, asAdmin(catalogEditors...)...)

	// --- mini-program platform (routes:platform) ---
	shop.POST("/subscriptions", a.recordSubscriptions, asShopper...)
	shop.GET("/subscriptions/templates", a.subscriptionTemplates)
	admin.GET("/orders/:no/shipping-upload", a.getShippingUpload, asAdmin(backOffice...)...)
	admin.POST("/orders/:no/shipping-upload/retry", a.retryShippingUpload, asAdmin(operators...)...)
	admin.GET("/delivery-companies", a.listDeliveryCompanies, asAdmin(backOffice...)...)
	// Message push: signed by the push token in the query; the body is read
	// leniently (WeChat adds fields).
	hooks.GET("/weapp", a.weappPushVerify)
	hooks.POST("/weapp", a.weappPush)

	// --- KOC programme (routes:koc) ---
	shop.POST("/koc/apply", a.kocApply, asShopper...)
	shop.POST("/koc/coupon-grants", a.kocGrantCoupon, asShopper...)
	shop.GET("/koc/dashboard", a.kocDashboard, asShopper...)
	shop.GET("/koc/commissions", a.kocCommissions, asShopper...)
	shop.GET("/koc/customers", a.kocCustomers, asShopper...)
	shop.GET("/koc/share-links", a.kocShareLinks, asShopper...)
	shop.GET("/koc/performance", a.kocPerformance, asShopper...)
	admin.GET("/kocs", a.adminKOCs, asAdmin(backOffice...)...)
	admin.GET("/kocs/:id", a.adminKOC, asAdmin(backOffice...)...)
	admin.POST("/kocs/:id/approve", a.kocDecide(commission.Approve), asAdmin(operators...)...)
	admin.POST("/kocs/:id/reject", a.kocDecide(commission.Reject), asAdmin(operators...)...)
	admin.POST("/kocs/:id/suspend", a.kocDecide(commission.Suspend), asAdmin(operators...)...)
	admin.POST("/kocs/:id/resume", a.kocDecide(commission.Resume), asAdmin(operators...)...)
	admin.GET("/koc-levels", a.kocLevels, asAdmin(backOffice...)...)
	admin.POST("/koc-levels", a.saveKOCLevel, asAdmin(adminOnly...)...)
	admin.PUT("/koc-levels/:id", a.saveKOCLevel, asAdmin(adminOnly...)...)
	admin.PUT("/koc-levels/:id/rates", a.setKOCLevelRate, asAdmin(adminOnly...)...)
	admin.GET("/koc/settings", a.kocSettings, asAdmin(backOffice...)...)
	admin.PUT("/koc/settings", a.putKOCSettings, asAdmin(adminOnly...)...)
	admin.GET("/bindings/:shopper_id", a.adminBinding, asAdmin(backOffice...)...)
	admin.POST("/bindings/:shopper_id/rebind", a.rebind, asAdmin(operators...)...)
	admin.POST("/commission-orders/:order_id/release", a.releaseCommission, asAdmin(adminOnly...)...)
	admin.GET("/settlements", a.listSettlements, asAdmin(adminOnly...)...)
	admin.POST("/settlements", a.createSettlement, asAdmin(adminOnly...)...)
	admin.GET("/settlements/:id", a.getSettlement, asAdmin(adminOnly...)...)
	admin.POST("/settlements/:id/review", a.reviewSettlement, asAdmin(adminOnly...)...)
	admin.POST("/settlements/:id/pay", a.paySettlement, asAdmin(adminOnly...)...)
	admin.GET("/koc/payout-settings", a.payoutSettings, asAdmin(adminOnly...)...)
	admin.PUT("/koc/payout-settings", a.putPayoutSettings, asAdmin(adminOnly...)...)
	shop.GET("/koc/transfers", a.kocTransfers, asShopper...)
	hooks.POST("/wechatpay/transfers", a.wechatPayTransfers)
	// --- reconciliation (routes:reconciliation) ---
	admin.GET("/reconciliation", a.listDiscrepancies, asAdmin(operators...)...)
	admin.GET("/reconciliation/runs", a.listReconciliationRuns, asAdmin(operators...)...)
	admin.POST("/reconciliation/runs", a.triggerReconciliation, asAdmin(operators...)...)
	admin.POST("/reconciliation/discrepancies/:id/resolve", a.resolveDiscrepancy, asAdmin(operators...)...)

	// Development stand-ins (absent with real credentials and in
	// production), answered only on a loopback connection.
	if a.deps.Dev != nil {
		e.Any("/_dev/*", echo.WrapHandler(LoopbackOnly(a.deps.Dev)))
	}
}
