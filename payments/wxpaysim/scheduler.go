package wxpaysim

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// scheduler runs timed jobs on one goroutine and notification deliveries on
// a fixed pool of workers, so the simulator's goroutines are bounded.
type scheduler struct {
	ctx     context.Context
	cancel  context.CancelFunc
	deliver func(ctx context.Context, d *delivery)
	work    chan *delivery
	wake    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	jobs    jobHeap
	seq     int64
	pending int           // jobs queued + deliveries in flight
	idle    chan struct{} // closed while pending == 0
	closed  bool
}

type job struct {
	due time.Time
	seq int64
	run func()    // a timed action, or
	d   *delivery // a delivery attempt
}

func newScheduler(workers int, deliver func(context.Context, *delivery)) *scheduler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &scheduler{
		ctx: ctx, cancel: cancel, deliver: deliver,
		work: make(chan *delivery), wake: make(chan struct{}, 1),
		idle: make(chan struct{}),
	}
	close(s.idle)
	s.wg.Add(1 + workers)
	go s.loop()
	for range workers {
		go s.worker()
	}
	return s
}

// after runs fn on the scheduler goroutine after d.
func (s *scheduler) after(d time.Duration, fn func()) { s.push(&job{due: time.Now().Add(d), run: fn}) }

// deliverAfter queues a delivery attempt.
func (s *scheduler) deliverAfter(wait time.Duration, d *delivery) {
	s.push(&job{due: time.Now().Add(wait), d: d})
}

func (s *scheduler) push(j *job) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.seq++
	j.seq = s.seq
	heap.Push(&s.jobs, j)
	s.addPending(1)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// addPending must be called with mu held.
func (s *scheduler) addPending(n int) {
	if s.pending == 0 && n > 0 {
		s.idle = make(chan struct{})
	}
	s.pending += n
	if s.pending == 0 {
		close(s.idle)
	}
}

func (s *scheduler) done() {
	s.mu.Lock()
	if !s.closed {
		s.addPending(-1)
	}
	s.mu.Unlock()
}

func (s *scheduler) loop() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		var next *job
		wait := time.Hour
		if len(s.jobs) > 0 {
			if w := time.Until(s.jobs[0].due); w <= 0 {
				next = heap.Pop(&s.jobs).(*job)
			} else {
				wait = w
			}
		}
		s.mu.Unlock()

		if next != nil {
			if next.run != nil {
				next.run()
				s.done()
				continue
			}
			select {
			case s.work <- next.d: // the worker calls done
			case <-s.ctx.Done():
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-s.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *scheduler) worker() {
	defer s.wg.Done()
	for {
		select {
		case d := <-s.work:
			s.deliver(s.ctx, d)
			s.done()
		case <-s.ctx.Done():
			return
		}
	}
}

// waitIdle waits until no job is queued and no delivery is in flight.
func (s *scheduler) waitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.pending == 0 || s.closed {
			s.mu.Unlock()
			return nil
		}
		idle := s.idle
		s.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *scheduler) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.jobs = nil
	if s.pending != 0 {
		s.pending = 0
		close(s.idle)
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

type jobHeap []*job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x any)   { *h = append(*h, x.(*job)) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	*h = old[:len(old)-1]
	return j
}
