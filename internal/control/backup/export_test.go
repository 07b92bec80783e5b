package backup

import (
	"context"

	"github.com/tessera-saas/tessera/internal/platform/recovery"
)

// Step runs one phase of a job, as Run does between its saves: tests stop
// there to play a crash between any two steps.
func (s *Service) Step(ctx context.Context, job recovery.Job) (recovery.Job, error) {
	return s.step(ctx, job)
}

// OfPlacement is ofPlacement, for the tests of a tenant's placement
// history.
var OfPlacement = ofPlacement
