package main

import (
	"context"
	"errors"

	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/commission"
	"github.com/yutang/yutang/domain/coupon"
	"github.com/yutang/yutang/storage"
)

// wireGrants joins coupon grants to the areas they touch, through the
// interfaces the coupon area declares: the KOC programme says whether a
// KOC may be given a budget and may hand coupons out (coupon.KOCs), and
// attribution records every grant — a clerk's or a KOC's — as a touch of
// the granter's touchpoint for the receiving shopper (coupon.GrantToucher),
// in the grant's transaction. Called after wireAttribution and wireKOC.
func (a *app) wireGrants() {
	a.svc.Coupons.KOCs = grantKOCs{svc: a.svc.KOC}
	a.svc.Coupons.Touches = grantTouches{svc: a.svc.Attribution}
}

// txOf is the storage transaction a coupon store runs in.
func txOf(st coupon.Store) (*storage.Tx, error) {
	cs, ok := st.(storage.Coupons)
	if !ok || cs.Tx() == nil {
		return nil, errors.New("coupon grants: not inside a storage transaction")
	}
	return cs.Tx(), nil
}

// grantKOCs is the KOC programme as coupon grants see it.
type grantKOCs struct{ svc *commission.Service }

// KOCActive implements coupon.KOCs: the KOC's status, read in the grant's
// transaction through the KOC programme's store.
func (g grantKOCs) KOCActive(ctx context.Context, st coupon.Store, shopperID int64) (bool, error) {
	tx, err := txOf(st)
	if err != nil {
		return false, err
	}
	k, err := tx.KOCs().KOC(ctx, shopperID, false)
	if errors.Is(err, commission.ErrNotKOC) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return k.Status == commission.StatusActive, nil
}

// KOCExists implements coupon.KOCs.
func (g grantKOCs) KOCExists(ctx context.Context, shopperID int64) (bool, error) {
	_, err := g.svc.KOC(ctx, shopperID)
	if errors.Is(err, commission.ErrNotKOC) {
		return false, nil
	}
	return err == nil, err
}

// grantTouches is attribution as coupon grants see it.
type grantTouches struct{ svc *attribution.Service }

// GrantTouch implements coupon.GrantToucher.
func (g grantTouches) GrantTouch(ctx context.Context, st coupon.Store, gr coupon.Grant) error {
	tx, err := txOf(st)
	if err != nil {
		return err
	}
	return g.svc.RecordGrant(ctx, tx.Attribution(), attribution.Grant{GrantID: gr.ID, ShopperID: gr.ShopperID,
		StaffID: gr.GrantedBy, KOCShopperID: gr.KOCID, At: gr.GrantedAt})
}
