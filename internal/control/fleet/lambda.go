package fleet

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// Request is the fleet Lambda's input, from the Step Functions state
// machine (infra/fleet.go): plan a target, or apply it to one tenant (an
// item of the wave's Distributed Map).
type Request struct {
	Action   string `json:"action"`
	Target   string `json:"target"`
	TenantID string `json:"tenantId,omitempty"`
	Actor    string `json:"actor,omitempty"`
	Wave     *int   `json:"wave,omitempty"`
}

// PlanOutput is the plan action's answer: the waves, each a list of the
// tenant ids that still need the target (the Distributed Map's items).
type PlanOutput struct {
	Target string       `json:"target"`
	Waves  []WaveOutput `json:"waves"`
}

// WaveOutput is one wave of PlanOutput.
type WaveOutput struct {
	Wave    int      `json:"wave"`
	Tenants []string `json:"tenants"`
}

// ErrorTypeBusy is the Lambda error type of a busy tenant, which the
// state machine's apply step retries.
const ErrorTypeBusy = "Fleet.Busy"

// ErrBadRequest: the input names no known action or lacks a field.
var ErrBadRequest = errors.New("fleet: bad request")

// Handle is the fleet Lambda's handler. An apply that fails returns the
// error, so that the map counts the item as failed (ToleratedFailure
// Percentage); a busy tenant fails too, and is retried by the state
// machine's retry policy.
func (r *Runner) Handle(ctx context.Context, req Request) (any, error) {
	t, err := r.Target(req.Target)
	if err != nil {
		return nil, err
	}
	switch req.Action {
	case "plan":
		plan, err := r.Plan(ctx, t)
		if err != nil {
			return nil, err
		}
		out := PlanOutput{Target: plan.Target, Waves: []WaveOutput{}}
		for _, w := range plan.Waves {
			out.Waves = append(out.Waves, WaveOutput{Wave: w.Number, Tenants: append([]string{}, w.Pending()...)})
		}
		return out, nil
	case "apply":
		if req.TenantID == "" {
			return nil, fmt.Errorf("%w: apply needs a tenantId", ErrBadRequest)
		}
		actor := req.Actor
		if actor == "" {
			actor = "stepfunctions"
		}
		wave := -1
		if req.Wave != nil {
			wave = *req.Wave
		}
		res, err := r.ApplyTenant(ctx, t, req.TenantID, actor, wave)
		if errors.Is(err, ErrBusy) {
			// The state machine retries this error type (infra/fleet.go);
			// Go's runtime would otherwise name it by its Go type.
			return nil, messages.InvokeResponse_Error{Type: ErrorTypeBusy, Message: err.Error()}
		}
		return res, err
	}
	return nil, fmt.Errorf("%w: unknown action %q (plan, apply)", ErrBadRequest, req.Action)
}
