package platform

import (
	"testing"
	"time"

	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/order"
)

func TestUploadFor(t *testing.T) {
	cases := []struct {
		e    order.Event
		want LogisticsType
		ok   bool
	}{
		{order.Event{Moment: order.MomentShipped}, LogisticsExpress, true},
		{order.Event{Moment: order.MomentShipped, ShipMethod: order.ShipExpress}, LogisticsExpress, true},
		{order.Event{Moment: order.MomentShipped, ShipMethod: order.ShipSameCity}, LogisticsSameCity, true},
		{order.Event{Moment: order.MomentShipped, ShipMethod: order.ShipVirtual}, LogisticsVirtual, true},
		{order.Event{Moment: order.MomentCompleted, Cause: order.CausePickedUp}, LogisticsPickup, true},
		{order.Event{Moment: order.MomentCompleted, Cause: order.CausePaidInStore}, LogisticsPickup, true},
		{order.Event{Moment: order.MomentCompleted, Cause: order.CauseConfirmed}, 0, false},
		{order.Event{Moment: order.MomentCompleted, Cause: order.CauseAutoConfirmed}, 0, false},
		{order.Event{Moment: order.MomentPaid}, 0, false},
	}
	for _, c := range cases {
		if got, ok := UploadFor(c.e); got != c.want || ok != c.ok {
			t.Errorf("%s/%s/%s: %v %v", c.e.Moment, c.e.Cause, c.e.ShipMethod, got, ok)
		}
	}
}

func TestMessagesFor(t *testing.T) {
	for _, c := range []struct {
		e    order.Event
		want int
	}{
		{order.Event{Moment: order.MomentPaid}, 1},
		{order.Event{Moment: order.MomentShipped}, 1},
		{order.Event{Moment: order.MomentRefunded, Lines: []order.RefundedLine{{ItemID: 1}}}, 1},
		{order.Event{Moment: order.MomentRefunded}, 0}, // a payment returned for a cancelled order
		{order.Event{Moment: order.MomentCancelled}, 0},
	} {
		if got := MessagesFor(c.e); len(got) != c.want {
			t.Errorf("%s: %v", c.e.Moment, got)
		}
	}
}

func TestRenderMaskBackoff(t *testing.T) {
	at := time.Date(2025, 3, 1, 2, 30, 0, 0, time.UTC)
	e := order.Event{Moment: order.MomentShipped, OrderNumber: "N1", Payable: 12345, At: at, Carrier: "SF", TrackingNo: "SF1"}
	if got := Render("{order_no} {amount} {time} {carrier} {tracking_no} {status}", e, Subject{}); got != "N1 123.45 2025-03-01 10:30 SF SF1 已发货" {
		t.Fatalf("render %q", got)
	}
	if got := MaskPhone("13800138000"); got != "138****8000" {
		t.Fatalf("mask %q", got)
	}
	if MaskPhone("123") != "" {
		t.Fatal("short phone masked")
	}
	for n, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 20: time.Hour} {
		if got := Backoff(n); got != want {
			t.Errorf("backoff %d = %v", n, got)
		}
	}
}

func TestChatOf(t *testing.T) {
	for _, c := range []struct {
		scene int
		g     *attribution.GroupEnter
		want  attribution.Chat
	}{
		{1007, nil, attribution.ChatSingle},
		{1008, nil, attribution.ChatGroup},
		{1044, nil, attribution.ChatGroup},
		{1047, nil, attribution.ChatUnknown},
		{1044, &attribution.GroupEnter{SingleRoomID: "s", ChatType: 1}, attribution.ChatSingle},
		{1007, &attribution.GroupEnter{OpenGID: "g"}, attribution.ChatGroup},
		{0, &attribution.GroupEnter{SingleRoomID: "s"}, attribution.ChatSingle},
		{0, &attribution.GroupEnter{OpenGID: "g", ChatType: 4}, attribution.ChatGroup},
	} {
		if got := attribution.ChatOf(c.scene, c.g); got != c.want {
			t.Errorf("%d %+v: %q want %q", c.scene, c.g, got, c.want)
		}
	}
}
