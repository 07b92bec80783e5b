package tenantapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// Users creates users in the identity provider (internal/platform/directory).
type Users interface {
	Create(ctx context.Context, tenantID string, role tenant.Role, email string) (directory.User, error)
}

type createUser struct {
	Email string      `json:"email"`
	Role  tenant.Role `json:"role"`
}

// requireAdmin lets only the tenant's admins manage users.
func requireAdmin(c caller) error {
	if !c.IsAdmin() {
		return edge.NewError(http.StatusForbidden, edge.CodeForbidden, "only the tenant's admins may manage its users")
	}
	return nil
}

// createUser invites a user into the caller's own tenant: the tenant comes
// from the caller's token, never from the body.
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
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "email must be an email address")
	}
	if in.Role != tenant.RoleAdmin && in.Role != tenant.RoleMember {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "role must be admin or member")
	}
	u, err := h.users.Create(ctx, c.ID, in.Role, in.Email)
	switch {
	case errors.Is(err, directory.ErrUserExists), errors.Is(err, directory.ErrOtherTenant):
		// Say the same for both: never reveal another tenant's users.
		return 0, nil, edge.NewError(http.StatusConflict, edge.CodeUserExists, "a user with this email exists")
	case err != nil:
		return 0, nil, err
	}
	rec := store.UserRecord{Email: in.Email, Role: string(in.Role), Sub: u.Sub}
	if err := c.data.PutUser(ctx, rec); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, rec, nil
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
