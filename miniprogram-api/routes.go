package mpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
)

// registerRoutes is the one list of every route, grouped by audience and
// guarded by its auth middleware. openapi.yaml lists the same set (a test
// checks it). Each area keeps its routes in its own block below.
func (a *API) registerRoutes(e *echo.Echo) {
	e.Use(withRequestID, a.withMetrics, a.withAccessLog, a.withRecover, a.bodyLimit(), checkText)

	// Operations.
	e.GET("/healthz", a.healthz)
	e.GET("/readyz", a.readyz)
	e.GET("/metrics", a.metricsHandler())
	e.GET("/openapi.yaml", a.openapi)

	shop := e.Group("/api/v1/shop", a.authenticate(false))
	clerk := e.Group("/api/v1/clerk")
	admin := e.Group("/api/v1/admin")
	hooks := e.Group("/webhooks")
	_ = hooks

	// Staff routes need a token, except signing in.
	staffAuth := a.authenticate(true)
	asShopper := []echo.MiddlewareFunc{a.authenticate(true), shopperOnly}
	asStore := []echo.MiddlewareFunc{staffAuth, staffWith(storeStaff...)}
	asAdmin := func(roles ...identity.Role) []echo.MiddlewareFunc {
		return []echo.MiddlewareFunc{staffAuth, staffWith(roles...)}
	}
	_, _ = asShopper, asStore

	// Which areas are wired: a route whose service is not wired answers 503.
	d := a.deps
	catalog, stores := d.Catalog != nil, d.Stores != nil
	cart, orders, addresses := d.Cart != nil, d.Orders != nil, d.Addresses != nil
	cashier, attribution := d.Cashier != nil, d.Attribution != nil

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
	shop.GET("/categories", guard(catalog, a.shopCategories))
	shop.GET("/products", guard(catalog, a.shopProducts))
	shop.GET("/products/:id", guard(catalog, a.shopProduct))
	admin.GET("/categories", guard(catalog, a.adminCategories), asAdmin(backOffice...)...)
	admin.POST("/categories", guard(catalog, a.createCategory), asAdmin(catalogEditors...)...)
	admin.PUT("/categories/:id", guard(catalog, a.updateCategory), asAdmin(catalogEditors...)...)
	admin.DELETE("/categories/:id", guard(catalog, a.deleteCategory), asAdmin(catalogEditors...)...)
	admin.GET("/products", guard(catalog, a.adminProducts), asAdmin(backOffice...)...)
	admin.POST("/products", guard(catalog, a.createProduct), asAdmin(catalogEditors...)...)
	admin.GET("/products/:id", guard(catalog, a.adminProduct), asAdmin(backOffice...)...)
	admin.PATCH("/products/:id", guard(catalog, a.patchProduct), asAdmin(catalogEditors...)...)
	admin.DELETE("/products/:id", guard(catalog, a.deleteProduct), asAdmin(catalogEditors...)...)
	admin.POST("/products/:id/status", guard(catalog, a.setProductStatus), asAdmin(catalogEditors...)...)
	admin.POST("/products/:id/skus", guard(catalog, a.createSKU), asAdmin(catalogEditors...)...)
	admin.PATCH("/skus/:id", guard(catalog, a.patchSKU), asAdmin(catalogEditors...)...)
	admin.POST("/skus/:id/stock-adjustments", guard(catalog, a.adjustStock), asAdmin(catalogEditors...)...)
	admin.GET("/skus/:id/stock-ledger", guard(catalog, a.stockLedger), asAdmin(backOffice...)...)
	admin.GET("/stores", guard(stores, a.listStores), asAdmin(backOffice...)...)
	admin.POST("/stores", guard(stores, a.createStore), asAdmin(catalogEditors...)...)
	admin.GET("/stores/:id", guard(stores, a.getStore), asAdmin(backOffice...)...)
	admin.PATCH("/stores/:id", guard(stores, a.patchStore), asAdmin(catalogEditors...)...)
	admin.DELETE("/stores/:id", guard(stores, a.deleteStore), asAdmin(catalogEditors...)...)

	// --- cart and orders (routes:orders) ---
	shop.GET("/cart", guard(cart, a.getCart))
	shop.POST("/cart/items", guard(cart, a.addCartItem))
	shop.PATCH("/cart/items/:sku_id", guard(cart, a.updateCartItem))
	shop.DELETE("/cart/items/:sku_id", guard(cart, a.removeCartItem))
	shop.POST("/checkout/preview", guard(orders, a.previewCheckout), asShopper...)
	shop.POST("/orders", guard(orders, a.placeOrder), asShopper...)
	shop.GET("/orders", guard(orders, a.listOrders), asShopper...)
	shop.GET("/orders/:no", guard(orders, a.getOrder), asShopper...)
	shop.POST("/orders/:no/cancel", guard(orders, a.cancelOrder), asShopper...)
	shop.POST("/orders/:no/confirm", guard(orders, a.confirmOrder), asShopper...)
	shop.GET("/addresses", guard(addresses, a.listAddresses), asShopper...)
	shop.POST("/addresses", guard(addresses, a.createAddress), asShopper...)
	shop.GET("/addresses/:id", guard(addresses, a.getAddress), asShopper...)
	shop.PATCH("/addresses/:id", guard(addresses, a.updateAddress), asShopper...)
	shop.DELETE("/addresses/:id", guard(addresses, a.deleteAddress), asShopper...)
	admin.GET("/orders", guard(orders, a.adminListOrders), asAdmin(backOffice...)...)
	admin.GET("/orders/:no", guard(orders, a.adminGetOrder), asAdmin(backOffice...)...)
	admin.POST("/orders/:no/ship", guard(orders, a.shipOrder), asAdmin(operators...)...)

	// --- payments (routes:payments) ---
	shop.POST("/orders/:no/pay", guard(cashier, a.payOrder), asShopper...)
	shop.POST("/orders/:no/after-sales", guard(cashier, a.requestAfterSales), asShopper...)
	admin.GET("/after-sales", guard(cashier, a.listAfterSales), asAdmin(operators...)...)
	admin.POST("/after-sales/:id/approve", guard(cashier, a.approveAfterSales), asAdmin(operators...)...)
	admin.POST("/after-sales/:id/reject", guard(cashier, a.rejectAfterSales), asAdmin(operators...)...)
	// Notifications: the SDK reads the body first (no bindJSON here).
	hooks.POST("/wechatpay/transactions", a.wechatPayTransactions)
	hooks.POST("/wechatpay/refunds", a.wechatPayRefunds)

	// --- attribution (routes:attribution) ---
	shop.POST("/track", guard(attribution, a.track))
	shop.POST("/share-links", guard(attribution, a.createShareLink), asShopper...)
	clerk.GET("/share-links", guard(attribution, a.listClerkShareLinks), asStore...)
	clerk.POST("/share-links", guard(attribution, a.createShareLink), asStore...)
	admin.POST("/share-links", guard(attribution, a.createShareLink), asAdmin(operators...)...)
	admin.GET("/share-links/:code/wxacode", guard(attribution, a.shareLinkWxaCode), asAdmin(backOffice...)...)
	admin.GET("/touchpoints", guard(attribution, a.listTouchpoints), asAdmin(backOffice...)...)
	admin.POST("/touchpoints", guard(attribution, a.createTouchpoint), asAdmin(operators...)...)
	admin.GET("/touchpoints/:id", guard(attribution, a.getTouchpoint), asAdmin(backOffice...)...)
	admin.PATCH("/touchpoints/:id", guard(attribution, a.patchTouchpoint), asAdmin(operators...)...)
	admin.GET("/attribution/settings", guard(attribution, a.getAttributionSettings), asAdmin(backOffice...)...)
	admin.PUT("/attribution/settings", guard(attribution, a.putAttributionSettings), asAdmin(adminOnly...)...)
	admin.GET("/reports/attribution", guard(attribution, a.attributionReport), asAdmin(backOffice...)...)
	admin.GET("/reports/attribution/:dimension/:id/daily", guard(attribution, a.attributionDaily), asAdmin(backOffice...)...)
	admin.GET("/reports/attribution/:dimension/:id/products", guard(attribution, a.attributionProducts), asAdmin(backOffice...)...)
	admin.GET("/orders/:no/attribution", guard(attribution, a.orderAttribution), asAdmin(backOffice...)...)

	// Development stand-ins (absent with real credentials).
	if a.deps.Dev != nil {
		e.Any("/_dev/*", echo.WrapHandler(http.StripPrefix("", a.deps.Dev)))
	}
}

// guard makes h answer 503 unavailable while its service is not wired, so a
// partial wiring never dereferences a nil service.
func guard(wired bool, h echo.HandlerFunc) echo.HandlerFunc {
	if wired {
		return h
	}
	return func(echo.Context) error { return domain.ErrUnavailable }
}
