package main

import (
	"math"
	"testing"
	"time"
)

func TestMedianCIIsTheOrderStatisticInterval(t *testing.T) {
	xs := make([]float64, 40)
	for i := range xs {
		xs[len(xs)-1-i] = float64(i + 1) // unsorted on purpose
	}
	med, lo, hi := medianCI(xs)
	// n = 40: P(Binomial(40, 1/2) <= 13) = 1.9 % <= 2.5 % < P(<= 14) = 4.0 %,
	// so the interval is the 14th smallest to the 14th largest.
	if med != 20.5 || lo != 14 || hi != 27 {
		t.Fatalf("medianCI(1..40) = %g [%g, %g], want 20.5 [14, 27]", med, lo, hi)
	}
	if med, lo, hi := medianCI([]float64{3, 1, 2, 5, 4}); med != 3 || lo != 1 || hi != 5 {
		t.Fatalf("5 values are too few for 95 %%: want the range, got %g [%g, %g]", med, lo, hi)
	}
	var sum float64
	for j := 0; j <= 40; j++ {
		sum += binomialHalf(40, j)
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("binomial probabilities sum to %g", sum)
	}
}

func TestBootstrapRatioOfPooledPercentiles(t *testing.T) {
	var a, b [][]time.Duration
	for r := 0; r < 30; r++ {
		var ra, rb []time.Duration
		for i := 0; i < 100; i++ {
			d := time.Duration(1000+10*i+r) * time.Microsecond
			rb = append(rb, d)
			ra = append(ra, d*11/10)
		}
		a, b = append(a, ra), append(b, rb)
	}
	for _, p := range []int{50, 99} {
		r, lo, hi := bootstrapRatio(a, b, p, 200, 1)
		if math.Abs(r-1.1) > 1e-3 || lo > r || hi < r || hi-lo > 0.01 {
			t.Errorf("p%d: ratio %g [%g, %g], want 1.1 in a tight interval", p, r, lo, hi)
		}
	}
	if r, _, _ := bootstrapRatio(b, b, 99, 100, 1); r != 1 {
		t.Errorf("a variant against itself: %g", r)
	}
}

func TestProcessCPUCountsThisProcessesWork(t *testing.T) {
	// Busy goroutines (not the test's own) must show up in the process's
	// CPU time, and the clock must be fine enough for per-block figures.
	c0 := processCPU()
	done := make(chan int)
	for g := 0; g < 2; g++ {
		go func() {
			x := 0
			for processCPU()-c0 < 30*time.Millisecond {
				x++
			}
			done <- x
		}()
	}
	timeout := time.After(10 * time.Second)
	for g := 0; g < 2; g++ {
		select {
		case <-done:
		case <-timeout:
			t.Fatalf("10 s of busy goroutines did not reach 30 ms of process CPU (at %s)", processCPU()-c0)
		}
	}
	a := processCPU()
	if b := processCPU(); b < a || b-a > time.Millisecond {
		t.Fatalf("two reads %s apart", b-a)
	}
}
