package tenantapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/tessera-saas/tessera/internal/platform/features"
)

// WithFeatures makes the handler evaluate feature flags and entitlements
// with client (features.NewClient), listing the definitions of defs
// (GET /v1/features); region is the evaluation context's region
// attribute. Without it the handler uses the built-in definitions and no
// overrides.
func (h *Handler) WithFeatures(client *openfeature.Client, defs *features.Definitions, region string) *Handler {
	h.flags, h.flagDefs, h.region = client, defs, region
	return h
}

// builtinFeatures is the flag client of a handler built without
// WithFeatures: the built-in definitions, no overrides.
func builtinFeatures() (*openfeature.Client, *features.Definitions) {
	defs := features.NewDefinitions(nil, 0)
	c, err := features.NewClient(context.Background(), features.NewProvider(defs, nil))
	if err != nil { // the provider's Init cannot fail
		panic(err)
	}
	return c, defs
}

// featureValue is one flag as the caller's tenant gets it.
type featureValue struct {
	Name    string        `json:"name"`
	Kind    features.Kind `json:"kind"`
	Value   any           `json:"value"`
	Reason  string        `json:"reason"`
	Variant string        `json:"variant,omitempty"`
}

// featureList is the answer of GET /v1/features.
type featureList struct {
	Items []featureValue `json:"items"`
}

// listFeatures answers every flag's value for the caller's tenant, with
// the reason (OpenFeature's: TARGETING_MATCH for an override or the tier's
// value, SPLIT for a rollout, STATIC or DEFAULT for the default).
func (h *Handler) listFeatures(ctx context.Context, _ caller, _ events.APIGatewayProxyRequest) (int, any, error) {
	defs, err := h.flagDefs.Sorted(ctx)
	if err != nil {
		return 0, nil, err
	}
	out := featureList{Items: make([]featureValue, 0, len(defs))}
	for _, f := range defs {
		var d openfeature.InterfaceEvaluationDetails
		d, err = h.flags.ObjectValueDetails(ctx, f.Name, nil, openfeature.EvaluationContext{})
		if err != nil {
			return 0, nil, fmt.Errorf("evaluate flag %s: %w", f.Name, err)
		}
		out.Items = append(out.Items, featureValue{Name: f.Name, Kind: f.Kind, Value: d.Value, Reason: string(d.Reason), Variant: d.Variant})
	}
	return http.StatusOK, out, nil
}

// entitled returns nil when the caller's tenant has the boolean feature
// flag (evaluated with the request's transaction context), and an error
// wrapping features.ErrNotEntitled when it has not. An evaluation that
// fails is an error of its own (500): a feature is never granted by
// accident.
func (h *Handler) entitled(ctx context.Context, flag string) error {
	d, err := h.flags.BooleanValueDetails(ctx, flag, false, openfeature.EvaluationContext{})
	if err != nil {
		return fmt.Errorf("evaluate flag %s: %w", flag, err)
	}
	if !d.Value {
		return fmt.Errorf("%s: %w", flag, features.ErrNotEntitled)
	}
	return nil
}

// errNoCount: a count check without a counter (a wiring error).
var errNoCount = errors.New("tenantapi: no counter for a limit")

// underLimit returns nil when count() is below the integer flag's value for
// the caller's tenant, and an error wrapping features.ErrLimitReached
// otherwise. The count and the write that follows are two requests: two
// creates racing at the cap can both pass (see the README).
func (h *Handler) underLimit(ctx context.Context, flag, what string, count func(context.Context) (int, error)) error {
	if count == nil {
		return errNoCount
	}
	limit, err := h.flags.IntValue(ctx, flag, 0, openfeature.EvaluationContext{})
	if err != nil {
		return fmt.Errorf("evaluate flag %s: %w", flag, err)
	}
	n, err := count(ctx)
	if err != nil {
		return err
	}
	if int64(n) >= limit {
		return fmt.Errorf("%w: the tenant has %d %s; its plan allows %d", features.ErrLimitReached, n, what, limit)
	}
	return nil
}
