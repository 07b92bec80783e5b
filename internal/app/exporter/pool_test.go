package exporter_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tessera-saas/tessera/internal/app/exporter"
	"github.com/tessera-saas/tessera/internal/local/pump"
	"github.com/tessera-saas/tessera/internal/local/seed"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// inFlight measures, per tier, how many runs overlap. Each run is held
// until its tier has once had its bound in flight (or 5 s have passed), so
// that a pool that allowed more runs at once would show them.
type inFlight struct {
	mu      sync.Mutex
	changed *sync.Cond
	bound   map[catalog.Tier]int
	now     map[catalog.Tier]int
	max     map[catalog.Tier]int
	runs    map[catalog.Tier]int
	reached map[catalog.Tier]bool
}

func newInFlight() *inFlight {
	f := &inFlight{bound: map[catalog.Tier]int{}, now: map[catalog.Tier]int{}, max: map[catalog.Tier]int{},
		runs: map[catalog.Tier]int{}, reached: map[catalog.Tier]bool{}}
	f.changed = sync.NewCond(&f.mu)
	return f
}

func (f *inFlight) hook(r exporter.Run) func() {
	f.mu.Lock()
	f.runs[r.Tier]++
	f.now[r.Tier]++
	f.max[r.Tier] = max(f.max[r.Tier], f.now[r.Tier])
	if f.now[r.Tier] >= f.bound[r.Tier] {
		f.reached[r.Tier] = true
	}
	f.changed.Broadcast()
	timeout := time.AfterFunc(5*time.Second, func() { f.mu.Lock(); f.changed.Broadcast(); f.mu.Unlock() })
	deadline := time.Now().Add(5 * time.Second)
	for !f.reached[r.Tier] && time.Now().Before(deadline) {
		f.changed.Wait()
	}
	timeout.Stop()
	f.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // stay in flight while others arrive
	return func() {
		f.mu.Lock()
		f.now[r.Tier]--
		f.mu.Unlock()
	}
}

// TestTierPoolsBoundExportsInFlight runs the local worker pools as `tessera
// up` does (plan.For(tier).ExportConcurrency pumps per tier queue, one
// message each) over more exports than the bound, and checks that no tier
// ever had more exports in flight than its bound, that each used its bound,
// and that every export finished and its message was deleted.
func TestTierPoolsBoundExportsInFlight(t *testing.T) {
	h := newHarness(t)
	f := newInFlight()
	w := h.worker(exporter.WithRunHook(f.hook))
	queued := map[string]string{} // export id -> tenant id
	for i, tier := range plan.Tiers {
		l, _ := plan.For(tier)
		f.bound[tier] = l.ExportConcurrency
		rec, err := seed.Ensure(context.Background(), fixture.SeedDeps(h.e), seed.Spec{Name: "pool-" + string(tier), Tier: tier,
			AdminEmail: fmt.Sprintf("pool-%d-%d@pool.test", i, time.Now().UnixNano()), Password: fixture.Password})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 { // one tenant with data, so runs read and write something
			h.mustCreate(t, rec.TenantID, "/v1/products", `{"name":"Widget","sku":"W-1","price":{"amount":5,"currency":"EUR"}}`)
		}
		for range 2*l.ExportConcurrency + 1 {
			queued[h.mustCreate(t, rec.TenantID, "/v1/exports", "")["id"].(string)] = rec.TenantID
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, tier := range plan.Tiers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pump.RunPool(ctx, f.bound[tier], h.q, h.s.ExportQueueURLs[tier], w.Handle,
				pump.WithBatchSize(1), pump.WithWaitTime(time.Second), pump.WithLogger(quiet)); err != nil {
				t.Errorf("pool of %s: %v", tier, err)
			}
		}()
	}
	h.waitDone(t, queued)
	cancel()
	wg.Wait()

	for _, tier := range plan.Tiers {
		f.mu.Lock()
		bound, peak, runs := f.bound[tier], f.max[tier], f.runs[tier]
		f.mu.Unlock()
		t.Logf("%s: bound %d, most in flight %d, runs %d", tier, bound, peak, runs)
		if peak > bound {
			t.Errorf("%s: %d exports in flight, bound %d", tier, peak, bound)
		}
		if peak < bound {
			t.Errorf("%s: at most %d exports in flight; the pool did not use its bound %d", tier, peak, bound)
		}
		if runs != 2*bound+1 {
			t.Errorf("%s: %d runs, want %d", tier, runs, 2*bound+1)
		}
		out, err := h.q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(h.s.ExportQueueURLs[tier]),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range out.Attributes {
			if n, _ := strconv.Atoi(v); n != 0 {
				t.Errorf("%s queue: %s = %d after every export finished", tier, k, n)
			}
		}
	}
}
