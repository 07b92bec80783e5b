package tenantapi_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// record reads a tenant's catalog record back, consistently.
func (s *suite) record(t *testing.T, tenantID string) catalog.Record {
	t.Helper()
	rec, err := store.NewCatalog(s.ddb, s.e.Settings.CatalogTable).GetTenant(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func asMember(ev events.APIGatewayProxyRequest) events.APIGatewayProxyRequest {
	ev.RequestContext.Authorizer["role"] = "member"
	return ev
}

// TestSettingsRoundTrip: a tenant without settings reads the defaults
// (its name, version 0); an admin's PUT stores them on the tenant's record
// (and nothing else of it) at version 1, which every user reads back; a
// PUT with a stale version is 409 and a member's PUT 403, neither writing;
// another tenant never sees them.
func TestSettingsRoundTrip(t *testing.T) {
	s := newSuite(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	globex := fixture.NewTenant(t, s.e, "globex").Record
	id := acme.TenantID

	got := s.do(t, request(t, id, "GET", "/v1/settings", nil, ""))
	if got.Status != 200 || got.Body["displayName"] != "acme" || got.Body["version"] != float64(0) || got.Body["locale"] != "en-US" || got.Body["timeZone"] != "UTC" {
		t.Fatalf("defaults = %+v", got)
	}
	body := `{"displayName":"ACME Corp","logoUrl":"https://cdn.acme.test/logo.svg","primaryColor":"#FF6600","locale":"de-ch",` +
		`"timeZone":"Europe/Zurich","config":{"theme":{"dark":true},"tabs":["a","b"]},"version":0}`
	put := s.do(t, request(t, id, "PUT", "/v1/settings", nil, body))
	if put.Status != 200 || put.Body["version"] != float64(1) || put.Body["primaryColor"] != "#ff6600" || put.Body["locale"] != "de-CH" || put.Body["updatedBy"] == "" {
		t.Fatalf("put = %+v", put)
	}
	rec := s.record(t, id)
	if rec.Settings == nil || rec.Settings.Version != 1 || rec.Settings.DisplayName != "ACME Corp" || rec.Settings.TimeZone != "Europe/Zurich" {
		t.Fatalf("stored settings = %+v", rec.Settings)
	}
	if rec.Tier != acme.Tier || rec.Status != acme.Status || rec.Placement != acme.Placement || rec.Version != acme.Version || rec.Name != acme.Name {
		t.Fatalf("the settings write changed the rest of the record: %+v, was %+v", rec, acme)
	}
	// Every user of the tenant reads them; members too.
	read := s.do(t, asMember(request(t, id, "GET", "/v1/settings", nil, "")))
	if read.Status != 200 || read.Body["displayName"] != "ACME Corp" || read.Body["version"] != float64(1) ||
		!reflect.DeepEqual(read.Body["config"], map[string]any{"theme": map[string]any{"dark": true}, "tabs": []any{"a", "b"}}) {
		t.Fatalf("member read = %+v", read)
	}
	// Stale version: 409, nothing written.
	stale := strings.Replace(body, `"ACME Corp"`, `"Stale"`, 1)
	if r := s.do(t, request(t, id, "PUT", "/v1/settings", nil, stale)); r.Status != http.StatusConflict || r.Code != edge.CodeVersionConflict {
		t.Fatalf("stale put = %+v", r)
	}
	// A member may not write.
	next := strings.Replace(strings.Replace(body, `"ACME Corp"`, `"Member Corp"`, 1), `"version":0`, `"version":1`, 1)
	if r := s.do(t, asMember(request(t, id, "PUT", "/v1/settings", nil, next))); r.Status != http.StatusForbidden || r.Code != edge.CodeForbidden {
		t.Fatalf("member put = %+v", r)
	}
	if rec := s.record(t, id); rec.Settings.DisplayName != "ACME Corp" || rec.Settings.Version != 1 {
		t.Fatalf("a refused put wrote %+v", rec.Settings)
	}
	// The current version: 2.
	if r := s.do(t, request(t, id, "PUT", "/v1/settings", nil, strings.Replace(next, "Member Corp", "ACME AG", 1))); r.Status != 200 || r.Body["version"] != float64(2) {
		t.Fatalf("second put = %+v", r)
	}
	if r := s.do(t, request(t, id, "GET", "/v1/settings", nil, "")); r.Body["displayName"] != "ACME AG" || r.Body["version"] != float64(2) {
		t.Fatalf("read after the second put = %+v", r)
	}
	// Globex is untouched.
	if r := s.do(t, request(t, globex.TenantID, "GET", "/v1/settings", nil, "")); r.Body["displayName"] != "globex" || r.Body["version"] != float64(0) {
		t.Fatalf("other tenant's settings = %+v", r)
	}
	if rec := s.record(t, globex.TenantID); rec.Settings != nil {
		t.Fatalf("other tenant's record got settings %+v", rec.Settings)
	}
}

// TestBadSettingsAreRejectedAndWriteNothing: every bad field is 400 with a
// stable code, and the record keeps no settings.
func TestBadSettingsAreRejectedAndWriteNothing(t *testing.T) {
	s := newSuite(t)
	id := fixture.NewTenant(t, s.e, "acme").Record.TenantID
	big := `{"blob":"` + strings.Repeat("x", 5000) + `"}`
	for _, tc := range []struct {
		name, body, code string
	}{
		{"bad colour", `{"displayName":"A","primaryColor":"orange","version":0}`, edge.CodeValidation},
		{"short colour", `{"displayName":"A","primaryColor":"#f60","version":0}`, edge.CodeValidation},
		{"http logo", `{"displayName":"A","logoUrl":"http://cdn.acme.test/l.png","version":0}`, edge.CodeValidation},
		{"bad locale", `{"displayName":"A","locale":"english please","version":0}`, edge.CodeValidation},
		{"bad zone", `{"displayName":"A","timeZone":"Europe/Atlantis","version":0}`, edge.CodeValidation},
		{"config too big", `{"displayName":"A","config":` + big + `,"version":0}`, edge.CodeValidation},
		{"config not an object", `{"displayName":"A","config":[1,2],"version":0}`, edge.CodeInvalidType},
		{"config a string", `{"displayName":"A","config":"x","version":0}`, edge.CodeInvalidType},
		{"unknown field", `{"displayName":"A","tier":"premium","version":0}`, edge.CodeUnknownField},
		{"no display name", `{"displayName":" ","version":0}`, edge.CodeValidation},
		{"no version", `{"displayName":"A"}`, edge.CodeValidation},
		{"negative version", `{"displayName":"A","version":-1}`, edge.CodeValidation},
		{"malformed", `{"displayName":`, edge.CodeMalformedJSON},
	} {
		r := s.do(t, request(t, id, "PUT", "/v1/settings", nil, tc.body))
		if r.Status != http.StatusBadRequest || r.Code != tc.code {
			t.Errorf("%s: %d %q, want 400 %q", tc.name, r.Status, r.Code, tc.code)
		}
	}
	if rec := s.record(t, id); rec.Settings != nil {
		t.Fatalf("bad settings were written: %+v", rec.Settings)
	}
}
