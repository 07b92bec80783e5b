package edge

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/branding"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Error codes are part of the API contract: clients branch on them.
const (
	CodeMalformedJSON = "malformed_json"
	CodeInvalidType   = "invalid_type"
	CodeUnknownField  = "unknown_field"
	// CodeDuplicateField: a JSON object names one field twice (encoding/json
	// would keep the last one silently).
	CodeDuplicateField   = "duplicate_field"
	CodeValidation       = "validation_failed"
	CodeInvalidID        = "invalid_id"
	CodeInvalidLimit     = "invalid_limit"
	CodeInvalidCursor    = "invalid_cursor"
	CodeUnknownProduct   = "unknown_product"
	CodeUnauthenticated  = "unauthenticated"
	CodeForbidden        = "forbidden"
	CodeTenantUnknown    = "tenant_unknown"
	CodeTenantSuspended  = "tenant_suspended"
	CodeNotFound         = "not_found"
	CodeRouteNotFound    = "route_not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeSKUConflict      = "sku_conflict"
	CodeVersionConflict  = "version_conflict"
	CodeBodyTooLarge     = "body_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeRateLimited      = "rate_limited"
	CodeQuotaExceeded    = "quota_exceeded"
	CodeInternal         = "internal"
	// Operator API and users.
	CodeIdempotencyMismatch = "idempotency_key_reused"
	CodeInvalidState        = "invalid_state"
	// CodeTenantExists: a create named a tenant id that is taken (409).
	CodeTenantExists = "tenant_exists"
	// Cell router (internal/control/cellrouter).
	// CodeCellsFull: every open cell is at its limit (503).
	CodeCellsFull = "cells_full"
	// CodeCellUnavailable: the tenant's cell did not answer (502); the
	// same request can be retried.
	CodeCellUnavailable = "cell_unavailable"
	// CodeCellRequired: the route needs ?cell= (400).
	CodeCellRequired = "cell_required"
	// CodeInviteLimit: the tenant has invited as many users today (UTC) as
	// its plan allows (429, Retry-After: the next UTC midnight).
	CodeInviteLimit = "invite_limit"
	// CodeTryLater: a service behind the API is over one of its limits
	// (such as the user pool's email quota); the same request can succeed
	// later (503, Retry-After).
	CodeTryLater = "try_later"
	// Backup and restore (internal/control/operatorapi maps the engine's
	// errors to them).
	// CodeJobRunning: a backup or restore of the tenant has not ended (409).
	CodeJobRunning = "job_running"
	// CodeNoBackup: no backup of the tenant was completed before the
	// requested restore time (409).
	CodeNoBackup = "no_backup"
	// CodeNotConfigured: the deployment does not have the feature behind
	// the route (501).
	CodeNotConfigured = "not_configured"
	// CodeTenantRestoring: the tenant is read-only while a restore of it
	// runs (catalog.ErrReadOnly): reads work, writes get 503 with
	// Retry-After (ErrTenantRestoring).
	CodeTenantRestoring = "tenant_restoring"
	// CodeTenantMigrating: a tier migration is cutting the tenant's data
	// over to its new placement, and the write reached the old one's fence
	// (store.ErrFenced): the same write succeeds in a moment (503 with
	// Retry-After, ErrTenantMigrating).
	CodeTenantMigrating = "tenant_migrating"
	// Entitlements (internal/platform/features).
	// CodeNotEntitled: the tenant's plan does not include the feature
	// (403; features.ErrNotEntitled).
	CodeNotEntitled = "not_entitled"
	// CodeLimitReached: the tenant has as many of the resource as its plan
	// allows (409; features.ErrLimitReached); nothing was written.
	CodeLimitReached = "limit_reached"
	// CodeUnknownFlag: an operator named a flag that is not defined (400;
	// features.ErrUnknownFlag).
	CodeUnknownFlag = "unknown_flag"
)

// ErrTenantRestoring answers a write of a tenant that is read-only while a
// restore of it runs. Return it wrapped around the cause, so that Finish
// sends its Retry-After.
var ErrTenantRestoring = NewError(http.StatusServiceUnavailable, CodeTenantRestoring,
	"the tenant is read-only while a restore of its data runs; retry the write later").WithRetryAfter(5 * time.Second)

// ErrTenantMigrating answers a write refused by the fence of a tenant's
// placement while a tier migration cuts the tenant over: the cutover takes
// seconds, so the client retries soon.
var ErrTenantMigrating = NewError(http.StatusServiceUnavailable, CodeTenantMigrating,
	"the tenant's data is moving to its new placement; retry the write in a moment").WithRetryAfter(2 * time.Second)

// Error is an error with an HTTP status and a code, safe to show to clients.
type Error struct {
	Status  int
	Code    string
	Message string
	// RetryAfter, when positive, is sent as the Retry-After header (whole
	// seconds, rounded up).
	RetryAfter time.Duration
}

// WithRetryAfter returns e with a Retry-After of d.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := *e
	c.RetryAfter = d
	return &c
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NewError returns an error that reaches the client as it is.
func NewError(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// classify maps any error to what the client sees. The second result is
// false for unexpected errors, which the caller logs; their text never
// reaches the client.
func classify(err error) (*Error, bool) {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e, true
	case errors.Is(err, tenant.ErrNotOperator):
		return NewError(http.StatusForbidden, CodeForbidden, "only operators may manage tenants"), true
	case errors.Is(err, tenant.ErrUnauthenticated):
		return NewError(http.StatusUnauthorized, CodeUnauthenticated, "a valid tenant identity is required"), true
	case errors.Is(err, catalog.ErrNotFound):
		return NewError(http.StatusForbidden, CodeTenantUnknown, "the tenant of this identity is not known"), true
	case errors.Is(err, catalog.ErrSuspended):
		return NewError(http.StatusForbidden, CodeTenantSuspended, "the tenant is not active"), true
	case errors.Is(err, features.ErrNotEntitled):
		return NewError(http.StatusForbidden, CodeNotEntitled, "the tenant's plan does not include this feature"), true
	case errors.Is(err, features.ErrLimitReached):
		return NewError(http.StatusConflict, CodeLimitReached, validationMessage(err)), true
	case errors.Is(err, features.ErrUnknownFlag):
		return NewError(http.StatusBadRequest, CodeUnknownFlag, "no flag of this name is defined"), true
	case errors.Is(err, product.ErrInvalid), errors.Is(err, order.ErrInvalid), errors.Is(err, branding.ErrInvalid), errors.Is(err, features.ErrInvalid):
		return NewError(http.StatusBadRequest, CodeValidation, validationMessage(err)), true
	case errors.Is(err, store.ErrNotFound):
		return NewError(http.StatusNotFound, CodeNotFound, "no such resource"), true
	case errors.Is(err, store.ErrSKUTaken):
		return NewError(http.StatusConflict, CodeSKUConflict, "another product of this tenant has this sku"), true
	case errors.Is(err, store.ErrVersionConflict):
		return NewError(http.StatusConflict, CodeVersionConflict, "the resource was changed by someone else; read it again and retry with its current version"), true
	case errors.Is(err, store.ErrUnknownProduct):
		return NewError(http.StatusBadRequest, CodeUnknownProduct, "productId does not name a product of this tenant"), true
	case errors.Is(err, store.ErrInvalidCursor):
		return NewError(http.StatusBadRequest, CodeInvalidCursor, "cursor is not valid for this list"), true
	case errors.Is(err, store.ErrCellsFull):
		return NewError(http.StatusServiceUnavailable, CodeCellsFull, "every open cell is full: an operator must open a cell"), true
	case errors.Is(err, catalog.ErrReadOnly):
		return ErrTenantRestoring, true
	case errors.Is(err, store.ErrFenced):
		return fenced(err), true
	}
	return NewError(http.StatusInternalServerError, CodeInternal, "internal error"), false
}

// fenced is the answer to a write that a placement's fence refused: the
// fence of a restore makes the tenant read-only (tenant_restoring), any
// other (a migration's, or one gone before it was read) is a cutover
// (tenant_migrating).
func fenced(err error) *Error {
	var fe *store.FencedError
	if errors.As(err, &fe) && fe.Fence.Reason == store.FenceRestoring {
		return ErrTenantRestoring
	}
	return ErrTenantMigrating
}

// isIntegrity reports a sealed value that failed authentication: tampering or
// a value moved between items or tenants.
func isIntegrity(err error) bool { return errors.Is(err, crypto.ErrIntegrity) }

// validationMessage keeps the part after the sentinel's prefix
// ("invalid product: name is required" -> "name is required").
func validationMessage(err error) string {
	msg := err.Error()
	for _, s := range []error{product.ErrInvalid, order.ErrInvalid, branding.ErrInvalid, features.ErrInvalid, features.ErrLimitReached} {
		if i := strings.Index(msg, s.Error()+": "); i >= 0 {
			return msg[i+len(s.Error())+2:]
		}
	}
	return msg
}
