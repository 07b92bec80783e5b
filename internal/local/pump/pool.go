package pump

import (
	"context"
	"errors"
	"sync"
)

// RunPool runs n pumps on one queue until ctx ends: the local stand-in for
// an event source mapping with MaximumConcurrency n. Each pump hands one
// batch at a time to h, so at most n invocations of h run at once. It
// returns when every pump has stopped (nil when ctx ended).
func RunPool(ctx context.Context, n int, c SQSAPI, queueURL string, h Handler, opts ...Option) error {
	errs := make([]error, max(n, 1))
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = New(c, queueURL, h, opts...).Run(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
