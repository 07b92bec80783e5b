package tenant

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/oklog/ulid/v2"
)

// Claim names set on every user by onboarding. Both are immutable custom
// attributes of the user pool.
const (
	ClaimTenantID = "custom:tenantId"
	ClaimRole     = "custom:role"
	ClaimGroups   = "cognito:groups"
)

// Role is a user's role inside its tenant.
type Role string

// The roles a tenant user can have.
const (
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// ErrUnauthenticated means the request carries no usable tenant identity. It
// maps to HTTP 401; there is never a default tenant.
var ErrUnauthenticated = errors.New("tenant: no valid tenant identity")

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// ValidID reports whether id has the shape of a tenant id: 2 to 63 lowercase
// letters, digits and hyphens, starting with a letter or digit. Such an id can
// never contain '#', '*' or '?', which the partition keys and the IAM
// LeadingKeys pattern rely on.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Tenant is the authenticated caller.
type Tenant struct {
	ID     string
	UserID string // Cognito sub
	Email  string
	Role   Role
	Groups []string
}

// IsAdmin reports whether the caller administers its tenant.
func (t Tenant) IsAdmin() bool { return t.Role == RoleAdmin }

// FromClaims builds the caller from authorizer claims.
func FromClaims(claims map[string]string) (Tenant, error) {
	id, ok := claims[ClaimTenantID]
	if !ok || id == "" {
		return Tenant{}, fmt.Errorf("%w: claim %s missing", ErrUnauthenticated, ClaimTenantID)
	}
	if !ValidID(id) {
		return Tenant{}, fmt.Errorf("%w: claim %s malformed", ErrUnauthenticated, ClaimTenantID)
	}
	sub := claims["sub"]
	if sub == "" {
		return Tenant{}, fmt.Errorf("%w: claim sub missing", ErrUnauthenticated)
	}
	role := Role(claims[ClaimRole])
	if role != RoleAdmin && role != RoleMember {
		role = RoleMember // least privilege for an unknown or missing role
	}
	return Tenant{ID: id, UserID: sub, Email: claims["email"], Role: role, Groups: ParseGroups(claims[ClaimGroups])}, nil
}

// ParseGroups reads cognito:groups as API Gateway renders it in claims: a
// bracketed, space- or comma-separated list ("[operators admins]") or a
// single name.
func ParseGroups(v string) []string {
	v = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "["), "]"))
	if v == "" {
		return nil
	}
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
}

// InGroup reports whether the caller belongs to the Cognito group.
func (t Tenant) InGroup(g string) bool {
	for _, x := range t.Groups {
		if x == g {
			return true
		}
	}
	return false
}

// NewID returns a fresh tenant id: "t-" and a lowercase ULID.
func NewID() string { return "t-" + strings.ToLower(ulid.Make().String()) }

var newIDPattern = regexp.MustCompile(`^t-[0-9a-hjkmnp-tv-z]{26}$`)

// IsNewID reports whether id has the form NewID gives: the only ids a
// create may name (the cell router's), so that no caller picks a name.
func IsNewID(id string) bool { return newIDPattern.MatchString(id) }

// OperatorsGroup is the Cognito group of the SaaS operator's staff, who use
// the tenant management API.
const OperatorsGroup = "operators"

// ErrNotOperator means an authenticated caller is not in the operators group
// (HTTP 403).
var ErrNotOperator = errors.New("tenant: caller is not an operator")

// Operator is an authenticated member of the operators group.
type Operator struct {
	UserID string
	Email  string
}
