package main

import (
	"context"
	"fmt"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/storage"
)

// loadDemoAttribution gives the attribution reports something to show: a
// live stream owned by the Xuhui store and shared by its clerk, a poster
// code and an article, a named WeChat group, and a day of anonymous
// visitors arriving through their links (no orders: the README's demo
// places and pays one). It runs once: when the live stream exists, it
// returns.
func (a *app) loadDemoAttribution(ctx context.Context) error {
	svc := a.svc.Attribution
	exists, err := storage.HasPostNamed(ctx, a.db, "春季新品直播")
	if err != nil {
		return fmt.Errorf("demo: attribution: %w", err)
	}
	if exists {
		return nil
	}
	store, err := storage.StoreIDByCode(ctx, a.db, "SH-XUHUI")
	if err != nil {
		return fmt.Errorf("demo: attribution: %w", err)
	}
	clerk, err := storage.StaffIDByUsername(ctx, a.db, "clerk.xuhui")
	if err != nil {
		return fmt.Errorf("demo: attribution: %w", err)
	}
	posts := []attribution.TouchpointInfo{
		{Kind: attribution.KindPost, Name: "春季新品直播", PostKind: attribution.PostLive, Tags: []string{"新品", "直播"}, OwnerStoreID: store},
		{Kind: attribution.KindPost, Name: "法式碎花连衣裙海报", PostKind: attribution.PostPoster, Tags: []string{"连衣裙"}},
		{Kind: attribution.KindPost, Name: "春季穿搭指南", PostKind: attribution.PostArticle, Tags: []string{"穿搭"}},
	}
	var links []attribution.ShareLink
	for i, p := range posts {
		tp, err := svc.CreateTouchpoint(ctx, domain.System, "", p)
		if err != nil {
			return fmt.Errorf("demo: post %s: %w", p.Name, err)
		}
		req := attribution.ShareRequest{PostID: tp.ID}
		if i == 0 {
			req.By = attribution.Sharer{StaffID: clerk, Clerk: true}
		}
		l, err := svc.Share(ctx, req)
		if err != nil {
			return fmt.Errorf("demo: share %s: %w", p.Name, err)
		}
		links = append(links, l)
	}
	if _, err := svc.CreateTouchpoint(ctx, domain.System, "", attribution.TouchpointInfo{Kind: attribution.KindGroup,
		Name: "徐汇店VIP群", Tags: []string{"vip"}, OwnerStoreID: store}); err != nil {
		return fmt.Errorf("demo: group: %w", err)
	}
	now := a.now()
	for v := range 40 {
		var evs []attribution.Event
		for k := range 1 + v%3 {
			evs = append(evs, attribution.Event{ID: fmt.Sprintf("demo-%d-%d", v, k), Code: links[(v+k)%len(links)].Code,
				Scene: 1007, At: now.Add(-time.Duration(20-v%20) * time.Hour).Add(time.Duration(k) * time.Minute)})
		}
		if _, err := svc.Track(ctx, attribution.Visitor{AnonID: fmt.Sprintf("demo-visitor-%02d", v)}, evs); err != nil {
			return fmt.Errorf("demo: touches: %w", err)
		}
	}
	return nil
}
