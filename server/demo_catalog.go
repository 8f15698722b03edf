package main

import (
	"context"
	"fmt"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/catalog"
	"github.com/yutang/yutang/storage"
)

// demoActor is who the demo data was made by, in the audit log and ledger.
var demoActor = domain.Actor{Kind: "system", Name: "demo"}

type demoProduct struct {
	code     string // SKU code prefix; the first SKU's code marks the product as loaded
	category string
	title    string
	subtitle string
	tags     []string
	colours  []string
	sizes    []string
	price    domain.Fen
	list     domain.Fen
	stock    int
	status   catalog.ProductStatus
}

var demoCategories = []struct{ name, parent string }{
	{"女装", ""}, {"男装", ""}, {"鞋包", ""}, {"家居", ""},
	{"连衣裙", "女装"}, {"上衣", "女装"}, {"半身裙", "女装"},
	{"T恤", "男装"}, {"衬衫", "男装"}, {"外套", "男装"},
	{"运动鞋", "鞋包"}, {"包袋", "鞋包"},
	{"床品", "家居"}, {"香氛", "家居"},
}

var (
	womenSizes = []string{"S", "M", "L"}
	menSizes   = []string{"M", "L", "XL", "XXL"}
	shoeSizes  = []string{"36", "37", "38", "39", "40"}
)

var demoProducts = []demoProduct{
	{"DR01", "连衣裙", "法式碎花连衣裙", "初夏系带收腰，雪纺双层", []string{"新品", "法式"}, []string{"碎花蓝", "碎花粉"}, womenSizes, 29900, 45900, 40, catalog.ProductOnSale},
	{"DR02", "连衣裙", "真丝吊带连衣裙", "22姆米桑蚕丝，垂坠不贴身", []string{"真丝"}, []string{"香槟", "墨绿", "黑"}, womenSizes, 89900, 129900, 12, catalog.ProductOnSale},
	{"DR03", "连衣裙", "针织开衫连衣裙两件套", "可拆分穿搭，一衣两穿", []string{"两件套"}, []string{"燕麦", "雾霾蓝"}, womenSizes, 45900, 0, 25, catalog.ProductOnSale},
	{"DR04", "连衣裙", "亚麻衬衫式长裙", "天然亚麻，透气凉爽", []string{"亚麻"}, []string{"米白", "卡其"}, womenSizes, 39900, 55900, 4, catalog.ProductOnSale},
	{"TP01", "上衣", "重磅纯棉短袖T恤", "260g 精梳棉，不透不变形", []string{"基础款"}, []string{"白", "黑", "灰"}, womenSizes, 12900, 19900, 100, catalog.ProductOnSale},
	{"TP02", "上衣", "泡泡袖小衫", "法式方领，温柔复古", []string{"法式"}, []string{"白", "奶黄"}, womenSizes, 25900, 0, 30, catalog.ProductOnSale},
	{"TP03", "上衣", "羊绒针织开衫", "内蒙古山羊绒，轻薄保暖", []string{"羊绒"}, []string{"驼色", "浅灰"}, womenSizes, 99900, 159900, 8, catalog.ProductOnSale},
	{"SK01", "半身裙", "高腰A字半身裙", "显瘦百搭，通勤约会", nil, []string{"黑", "藏青"}, womenSizes, 22900, 32900, 35, catalog.ProductOnSale},
	{"SK02", "半身裙", "百褶中长半身裙", "缎面光泽，行走飘逸", nil, []string{"香槟", "灰绿"}, womenSizes, 26900, 0, 0, catalog.ProductOnSale},
	{"MT01", "T恤", "男士冰丝速干T恤", "运动通勤两相宜", []string{"速干"}, []string{"黑", "白", "深蓝"}, menSizes, 9900, 15900, 80, catalog.ProductOnSale},
	{"MT02", "T恤", "男士重磅印花T恤", "原创插画印花", []string{"联名"}, []string{"白", "黑"}, menSizes, 15900, 0, 60, catalog.ProductOnSale},
	{"MS01", "衬衫", "男士免烫牛津纺衬衫", "挺括有型，机洗不皱", []string{"免烫"}, []string{"白", "浅蓝"}, menSizes, 25900, 39900, 45, catalog.ProductOnSale},
	{"MS02", "衬衫", "男士亚麻休闲衬衫", "度假风，透气舒适", []string{"亚麻"}, []string{"米白", "雾蓝"}, menSizes, 29900, 0, 3, catalog.ProductOnSale},
	{"MJ01", "外套", "男士轻薄羽绒服", "90% 白鹅绒，可收纳", []string{"羽绒"}, []string{"黑", "藏青", "卡其"}, menSizes, 59900, 99900, 20, catalog.ProductOnSale},
	{"MJ02", "外套", "男士防风夹克", "春秋外出，防泼水面料", nil, []string{"军绿", "黑"}, menSizes, 45900, 0, 15, catalog.ProductOffSale},
	{"SH01", "运动鞋", "云朵缓震跑鞋", "轻量回弹中底", []string{"跑步"}, []string{"白", "黑粉"}, shoeSizes, 59900, 79900, 30, catalog.ProductOnSale},
	{"SH02", "运动鞋", "复古德训鞋", "头层牛皮，经典百搭", nil, []string{"白绿", "白灰"}, shoeSizes, 42900, 0, 22, catalog.ProductOnSale},
	{"BG01", "包袋", "通勤托特包", "可放 14 寸电脑", []string{"通勤"}, []string{"黑", "焦糖"}, nil, 39900, 59900, 18, catalog.ProductOnSale},
	{"BG02", "包袋", "迷你腋下包", "小巧精致，约会必备", nil, []string{"奶白", "黑", "酒红"}, nil, 29900, 0, 5, catalog.ProductOnSale},
	{"HM01", "床品", "60支长绒棉四件套", "亲肤柔软，越洗越软", []string{"长绒棉"}, []string{"月白", "雾粉", "灰蓝"}, []string{"1.5m", "1.8m"}, 69900, 99900, 16, catalog.ProductOnSale},
	{"HM02", "香氛", "木质调香薰蜡烛", "大豆蜡，燃烧 40 小时", []string{"礼物"}, nil, nil, 16900, 0, 50, catalog.ProductOnSale},
	{"HM03", "香氛", "藤条香薰礼盒（预售）", "下月到货", []string{"预售"}, nil, nil, 25900, 0, 0, catalog.ProductDraft},
}

// loadDemoCatalog creates the demo categories and products through the
// catalog service (so the audit log and stock ledger are as real), skipping
// whatever already exists: a second load changes nothing.
func (a *app) loadDemoCatalog(ctx context.Context) error {
	tree, err := a.svc.Catalog.Categories(ctx)
	if err != nil {
		return fmt.Errorf("demo: categories: %w", err)
	}
	type key struct {
		parent int64
		name   string
	}
	existing := map[key]int64{}
	var walk func([]catalog.Category)
	walk = func(cs []catalog.Category) {
		for _, c := range cs {
			existing[key{c.ParentID, c.Name}] = c.ID
			walk(c.Children)
		}
	}
	walk(tree)
	ids := map[string]int64{}
	for _, c := range demoCategories {
		parent := ids[c.parent]
		id, ok := existing[key{parent, c.name}]
		if !ok {
			cat, err := a.svc.Catalog.CreateCategory(ctx, demoActor, catalog.Category{ParentID: parent, Name: c.name, Sort: len(ids)})
			if err != nil {
				return fmt.Errorf("demo: category %s: %w", c.name, err)
			}
			id = cat.ID
		}
		ids[c.name] = id
	}
	for i, d := range demoProducts {
		loaded, err := storage.HasSKUCodePrefix(ctx, a.db, d.code)
		if err != nil {
			return fmt.Errorf("demo: product %s: %w", d.code, err)
		}
		if loaded {
			continue
		}
		p, skus := d.build(ids[d.category], len(demoProducts)-i)
		if _, err := a.svc.Catalog.CreateProduct(ctx, demoActor, p, skus); err != nil {
			return fmt.Errorf("demo: product %s: %w", d.code, err)
		}
	}
	return nil
}

// build makes the product and one SKU per colour × size; larger sizes cost a
// little more for bedding, stock spreads over the SKUs.
func (d demoProduct) build(categoryID int64, weight int) (catalog.Product, []catalog.NewSKU) {
	p := catalog.Product{CategoryID: categoryID, Title: d.title, Subtitle: d.subtitle, Tags: d.tags,
		Status: d.status, SortWeight: weight,
		Description: d.title + "。" + d.subtitle + "。品牌自营，支持门店自提与七天无理由退换。"}
	for k := 1; k <= 3; k++ {
		p.Images = append(p.Images, fmt.Sprintf("https://picsum.photos/seed/yutang-%s-%d/750/750", d.code, k))
	}
	colours, sizes := d.colours, d.sizes
	if len(colours) > 0 {
		p.Specs = append(p.Specs, catalog.SpecDim{Name: "颜色", Values: colours})
	} else {
		colours = []string{""}
	}
	if len(sizes) > 0 {
		p.Specs = append(p.Specs, catalog.SpecDim{Name: "尺码", Values: sizes})
	} else {
		sizes = []string{""}
	}
	var skus []catalog.NewSKU
	n := len(colours) * len(sizes)
	for ci, c := range colours {
		for si, s := range sizes {
			specs := map[string]string{}
			if c != "" {
				specs["颜色"] = c
			}
			if s != "" {
				specs["尺码"] = s
			}
			price := d.price
			if d.category == "床品" {
				price = d.price + domain.Fen(si)*10000
			}
			list := d.list
			if list != 0 && list < price {
				list = price
			}
			k := len(skus)
			stock := d.stock / n
			if k < d.stock%n {
				stock++
			}
			skus = append(skus, catalog.NewSKU{SKU: catalog.SKU{
				Code: fmt.Sprintf("%s-%d%d", d.code, ci+1, si+1), Specs: specs, Price: price, ListPrice: list,
				PerOrderLimit: 5, Status: catalog.SKUOnSale}, InitialStock: stock})
		}
	}
	return p, skus
}
