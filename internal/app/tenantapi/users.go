package tenantapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Users reads and creates users in the identity provider
// (internal/platform/directory).
type Users interface {
	Get(ctx context.Context, username string) (directory.User, error)
	Create(ctx context.Context, tenantID string, role tenant.Role, email string) (directory.User, error)
}

// createUser is the body of POST /v1/users: both fields present and not
// null (edge.DecodeJSON), then checked.
type createUser struct {
	Email string      `json:"email" required:"true"`
	Role  tenant.Role `json:"role" required:"true"`
}

// invited is the answer to an invitation that was accepted (202). It is the
// same whether the email was new or belongs to someone outside the caller's
// tenant (another tenant's user, an operator): it tells nothing about the
// rest of the user pool.
type invited struct {
	Email  string      `json:"email"`
	Role   tenant.Role `json:"role"`
	Status string      `json:"status"`
}

// userPoolRetryAfter is the Retry-After of an invitation refused because
// the user pool is over one of its limits.
const userPoolRetryAfter = time.Minute

// requireAdmin lets only the tenant's admins manage users.
func requireAdmin(c caller) error {
	if !c.IsAdmin() {
		return edge.NewError(http.StatusForbidden, edge.CodeForbidden, "only the tenant's admins may manage its users")
	}
	return nil
}

// createUser invites a user into the caller's own tenant: the tenant comes
// from the caller's token, never from the body.
//
//   - 200 and the user's record: the email is a user of the caller's tenant
//     already. A user whose record is missing (its invitation created the
//     user but failed to record it) gets its record now, so a retried
//     invitation completes the first one. Nothing is counted or sent.
//   - 202 {"email","role","status":"invited"}: a new user was created and
//     recorded, and the user pool sends the invitation; or the email belongs
//     to someone outside the tenant, and nothing was written. Both count
//     against the tenant's daily invitations, so that neither the answer
//     nor the limit tells the two apart.
//   - 429 invite_limit: the tenant's invitations for today (UTC) are used up
//     (Retry-After: until the next UTC midnight); nothing is written.
//   - 400 validation_failed: an email the user pool does not accept, or a
//     bad role; nothing is written.
//   - 503 try_later: the user pool is over one of its own limits.
func (h *Handler) createUser(ctx context.Context, c caller, req events.APIGatewayProxyRequest) (int, any, error) {
	if err := requireAdmin(c); err != nil {
		return 0, nil, err
	}
	var in createUser
	if err := edge.DecodeJSON(req, &in); err != nil {
		return 0, nil, err
	}
	in.Email = strings.TrimSpace(in.Email)
	if !directory.ValidEmail(in.Email) {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "email must be an email address of at most 128 characters")
	}
	if in.Role != tenant.RoleAdmin && in.Role != tenant.RoleMember {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "role must be admin or member")
	}
	u, err := h.users.Get(ctx, in.Email)
	elsewhere := false
	switch {
	case err == nil && u.TenantID == c.ID:
		return h.recordUser(ctx, c, u)
	case err == nil:
		elsewhere = true
	case !errors.Is(err, directory.ErrNotFound):
		return 0, nil, userPoolError(err)
	}
	// At the tenant's max-users entitlement nobody new is invited (409
	// limit_reached), nothing created or counted; the answer is the same
	// for an email of someone outside the tenant.
	if err := h.underLimit(ctx, features.MaxUsers, "users", c.data.CountUsers); err != nil {
		return 0, nil, err
	}
	if err := countInvite(ctx, c); err != nil {
		return 0, nil, err
	}
	if !elsewhere {
		u, err := h.users.Create(ctx, c.ID, in.Role, in.Email)
		switch {
		case errors.Is(err, directory.ErrUserExists): // created meanwhile
			return h.recordUser(ctx, c, u)
		case errors.Is(err, directory.ErrOtherTenant): // created elsewhere meanwhile
		case err != nil:
			return 0, nil, userPoolError(err)
		default:
			if _, err := c.data.PutUser(ctx, store.UserRecord{Email: in.Email, Role: string(in.Role), Sub: u.Sub}); err != nil {
				return 0, nil, err
			}
		}
	}
	return http.StatusAccepted, invited{Email: in.Email, Role: in.Role, Status: "invited"}, nil
}

// recordUser records u, a user of the caller's tenant, unless it is
// recorded, and answers its record as stored (200).
func (h *Handler) recordUser(ctx context.Context, c caller, u directory.User) (int, any, error) {
	rec, err := c.data.PutUser(ctx, store.UserRecord{Email: u.Email, Role: string(u.Role), Sub: u.Sub})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rec, nil
}

// countInvite counts one invitation against the tenant's plan.
func countInvite(ctx context.Context, c caller) error {
	limits, ok := plan.For(c.scope.Tier())
	if !ok {
		return errors.New("no plan for tier " + string(c.scope.Tier()))
	}
	resetAt, err := c.data.CountInvite(ctx, limits.InvitesPerDay)
	if errors.Is(err, store.ErrInviteLimit) {
		return edge.NewError(http.StatusTooManyRequests, edge.CodeInviteLimit,
			"the tenant has used its invitations for today (UTC); retry after midnight UTC").WithRetryAfter(max(time.Until(resetAt), time.Second))
	}
	return err
}

// userPoolError maps the directory's kinds of refusal to answers.
func userPoolError(err error) error {
	switch {
	case errors.Is(err, directory.ErrInvalidUser):
		return edge.NewError(http.StatusBadRequest, edge.CodeValidation, "the user pool does not accept this email")
	case errors.Is(err, directory.ErrTryLater):
		return edge.NewError(http.StatusServiceUnavailable, edge.CodeTryLater, "the user pool cannot take invitations now; retry later").WithRetryAfter(userPoolRetryAfter)
	}
	return err
}

func (h *Handler) listUsers(ctx context.Context, c caller, req events.APIGatewayProxyRequest) (int, any, error) {
	if err := requireAdmin(c); err != nil {
		return 0, nil, err
	}
	pr, err := edge.PageRequest(req)
	if err != nil {
		return 0, nil, err
	}
	page, err := c.data.ListUsers(ctx, pr)
	return http.StatusOK, page, err
}
