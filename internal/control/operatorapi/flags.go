package operatorapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/audit"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// flagList is the answer of GET /v1/flags: every definition in force, the
// built-in ones (version 0) among them.
type flagList struct {
	Items []features.Flag `json:"items"`
}

// flagBody is the body of PUT /v1/flags/{name}: the whole definition and
// the version last read (0 for a flag never stored, built-in or new).
type flagBody struct {
	Kind         features.Kind        `json:"kind" required:"true"`
	Description  string               `json:"description,omitempty"`
	Default      any                  `json:"default" required:"true"`
	TierDefaults map[catalog.Tier]any `json:"tierDefaults,omitempty"`
	Rollout      *features.Rollout    `json:"rollout,omitempty"`
	Version      *int64               `json:"version" required:"true"`
}

// overrideBody is the body of PUT /v1/tenants/{id}/flags/{name}: the
// tenant's value of the flag, or null to remove its override.
type overrideBody struct {
	Value any `json:"value"`
}

// definitions are the flag definitions in force, read from the catalog on
// every call (an operator sees its own writes).
func (h *Handler) definitions() *features.Definitions { return features.NewDefinitions(h.catalog, 0) }

func (h *Handler) listFlags(ctx context.Context, _ tenant.Operator, _ events.APIGatewayProxyRequest) (int, any, error) {
	all, err := h.definitions().Sorted(ctx)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, flagList{Items: all}, nil
}

// putFlag stores a flag's definition, given the version last read (409
// version_conflict when it changed meanwhile). A stored definition
// replaces the built-in of its name. Functions see it within the catalog
// TTL.
func (h *Handler) putFlag(ctx context.Context, op tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	name := req.PathParameters["name"]
	if !features.ValidName(name) {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "the flag name must match "+features.NamePattern)
	}
	var in flagBody
	if err := edge.DecodeJSON(req, &in); err != nil {
		return 0, nil, err
	}
	if *in.Version < 0 {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "version must be the version last read (0 when never stored)")
	}
	f, err := features.Flag{Name: name, Kind: in.Kind, Description: in.Description, Default: in.Default,
		TierDefaults: in.TierDefaults, Rollout: in.Rollout}.Validate()
	if err != nil {
		return 0, nil, err
	}
	out, err := h.catalog.PutFlag(ctx, f, *in.Version, op.UserID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

// putTenantFlag sets or clears one tenant's override of a defined flag,
// checked against the flag's kind, with an audit entry; a bad name or
// value is 400 and writes nothing.
func (h *Handler) putTenantFlag(ctx context.Context, op tenant.Operator, req events.APIGatewayProxyRequest) (int, any, error) {
	id, err := tenantID(req)
	if err != nil {
		return 0, nil, err
	}
	name := req.PathParameters["name"]
	var in overrideBody
	if err := edge.DecodeJSON(req, &in); err != nil {
		return 0, nil, err
	}
	if !hasValue(req) {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "value is required: the tenant's value, or null to remove its override")
	}
	f, ok, err := h.definitions().Get(ctx, name)
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, fmt.Errorf("flag %q: %w", name, features.ErrUnknownFlag)
	}
	clear := in.Value == nil
	var v any
	if !clear {
		if v, err = features.Normalize(f.Kind, in.Value); err != nil {
			return 0, nil, err
		}
	}
	cur, err := h.catalog.GetTenant(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return 0, nil, store.ErrNotFound
	}
	if err != nil {
		return 0, nil, err
	}
	if _, has := cur.FlagOverrides[name]; !clear && !has && len(cur.FlagOverrides) >= features.MaxOverrides {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, fmt.Sprintf("a tenant has at most %d overrides", features.MaxOverrides))
	}
	detail := name + " cleared"
	if !clear {
		b, _ := json.Marshal(v)
		detail = name + " = " + string(b)
	}
	// The entry written with the change is the request's (audit.Stamp).
	audit.Expect(ctx, http.StatusOK)
	rec, err := h.catalog.SetFlagOverride(ctx, id, name, v, clear, &store.AuditEntry{Action: "flag-override", Actor: op.UserID, Detail: detail})
	if errors.Is(err, catalog.ErrNotFound) {
		return 0, nil, store.ErrNotFound
	}
	if errors.Is(err, store.ErrStatusChanged) {
		return 0, nil, fmt.Errorf("override %s of %s: %w", name, id, store.ErrVersionConflict)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rec, nil
}

// hasValue reports whether the body names "value" (null included).
func hasValue(req events.APIGatewayProxyRequest) bool {
	b, err := edge.Body(req)
	if err != nil {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	_, ok := m["value"]
	return ok
}
