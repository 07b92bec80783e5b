package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingSchedule counts ScheduleBackups calls and answers from a script.
type countingSchedule struct {
	mu    sync.Mutex
	calls []time.Time
	ret   func(call int) (int, error)
}

func (s *countingSchedule) ScheduleBackups(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, time.Now())
	return s.ret(len(s.calls))
}

func (s *countingSchedule) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// scheduleLog is a log sink safe for the schedule's goroutine.
type scheduleLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *scheduleLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *scheduleLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestBackupScheduleRunsAfterTheDelayThenEveryPeriod: nothing before the
// first delay, then a look every period, each logged with how many backups
// it requested (a failure too), and nothing once ctx ends.
func TestBackupScheduleRunsAfterTheDelayThenEveryPeriod(t *testing.T) {
	const delay, every = 300 * time.Millisecond, 100 * time.Millisecond
	s := &countingSchedule{ret: func(call int) (int, error) {
		if call == 2 {
			return 1, errors.New("tenant t-x: list snapshots: boom")
		}
		return call, nil
	}}
	var logs scheduleLog
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		runBackupSchedule(ctx, s, delay, every, slog.New(slog.NewJSONHandler(&logs, nil)))
	}()
	time.Sleep(delay / 2)
	if n := s.count(); n != 0 {
		t.Fatalf("%d looks before the first delay", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.count() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	n := s.count()
	if n < 3 {
		t.Fatalf("%d looks in %s, want at least 3", n, time.Since(start))
	}
	s.mu.Lock()
	first, gap := s.calls[0].Sub(start), s.calls[2].Sub(s.calls[1])
	s.mu.Unlock()
	if first < delay || gap < every {
		t.Fatalf("first look after %s (want >= %s), looks %s apart (want >= %s)", first, delay, gap, every)
	}
	time.Sleep(2 * every)
	if s.count() != n {
		t.Fatal("the schedule went on after ctx ended")
	}
	out := logs.String()
	for _, want := range []string{`"requested":1}`, `"requested":3}`, `"level":"WARN","msg":"scheduled backups","requested":1,"error":"tenant t-x: list snapshots: boom"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
}
