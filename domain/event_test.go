package domain

import (
	"context"
	"errors"
	"testing"
)

func TestHandlersRunInOrderAndStopAtARefusal(t *testing.T) {
	var h Handlers[*[]string, string]
	refuse := errors.New("no")
	h.On("a", func(_ context.Context, log *[]string, e string) error { *log = append(*log, "a:"+e); return nil })
	h.On("b", func(_ context.Context, log *[]string, e string) error { *log = append(*log, "b:"+e); return refuse })
	h.On("c", func(_ context.Context, log *[]string, e string) error { *log = append(*log, "c:"+e); return nil })
	var log []string
	err := h.Run(context.Background(), &log, "x")
	if !errors.Is(err, refuse) || err.Error() != "b: no" {
		t.Fatalf("err %v", err)
	}
	if len(log) != 2 || log[0] != "a:x" || log[1] != "b:x" {
		t.Fatalf("ran %v", log)
	}
	var none *Handlers[int, int]
	if err := none.Run(context.Background(), 0, 0); err != nil || h.Len() != 3 {
		t.Fatal("nil handlers")
	}
}
