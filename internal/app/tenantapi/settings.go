package tenantapi

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/branding"
	"github.com/tessera-saas/tessera/internal/platform/edge"
)

// settingsInput is the body of PUT /v1/settings: the whole settings and
// the version last read (0 for a tenant that has none).
type settingsInput struct {
	DisplayName  string         `json:"displayName" required:"true"`
	LogoURL      string         `json:"logoUrl,omitempty"`
	PrimaryColor string         `json:"primaryColor,omitempty"`
	Locale       string         `json:"locale,omitempty"`
	TimeZone     string         `json:"timeZone,omitempty"`
	Config       map[string]any `json:"config,omitempty"`
	Version      *int64         `json:"version" required:"true"`
}

// settingsOf is the caller's tenant's settings, or the defaults (its name,
// version 0) when it has written none.
func settingsOf(c caller) branding.Settings {
	if s := c.record.Settings; s != nil {
		return *s
	}
	return branding.Defaults(c.record.Name)
}

// getSettings answers the caller's tenant's settings; every user of the
// tenant may read them.
func (h *Handler) getSettings(_ context.Context, c caller, _ events.APIGatewayProxyRequest) (int, any, error) {
	return http.StatusOK, settingsOf(c), nil
}

// putSettings replaces the tenant's settings (admins only), given the
// version last read: 409 version_conflict when they changed meanwhile, 400
// validation_failed for a bad field, nothing written either way.
func (h *Handler) putSettings(ctx context.Context, c caller, req events.APIGatewayProxyRequest) (int, any, error) {
	if !c.IsAdmin() {
		return 0, nil, edge.NewError(http.StatusForbidden, edge.CodeForbidden, "only the tenant's admins may change its settings")
	}
	var in settingsInput
	if err := edge.DecodeJSON(req, &in); err != nil {
		return 0, nil, err
	}
	if *in.Version < 0 {
		return 0, nil, edge.NewError(http.StatusBadRequest, edge.CodeValidation, "version must be the version last read (0 when none was written)")
	}
	s, err := branding.Settings{DisplayName: in.DisplayName, LogoURL: in.LogoURL, PrimaryColor: in.PrimaryColor,
		Locale: in.Locale, TimeZone: in.TimeZone, Config: in.Config}.Validate()
	if err != nil {
		return 0, nil, err
	}
	out, err := c.data.PutSettings(ctx, s, *in.Version, c.UserID)
	if err != nil {
		return 0, nil, err
	}
	// The next read of this process sees the write (others within the
	// catalog TTL).
	if f, ok := h.tenants.(forgetter); ok {
		f.Forget(c.ID)
	}
	return http.StatusOK, out, nil
}
