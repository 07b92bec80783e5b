package provision_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/provision"
)

// processUntilDone runs p.Process again while it answers ErrLater, as the
// delayed re-checks on the queue would, for up to two minutes.
// CloudFormation creates and deletes stacks asynchronously: in AWS and on
// LocalStack the first runs of a premium onboarding or offboarding find the
// stack in progress. moto's CloudFormation is synchronous, so there the
// first run finishes.
func processUntilDone(ctx context.Context, t testing.TB, p *provision.Provisioner, dt bus.DetailType, d bus.Detail) error {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
		err := p.Process(ctx, dt, d)
		if !errors.Is(err, provision.ErrLater) || time.Now().After(deadline) {
			return err
		}
	}
}
