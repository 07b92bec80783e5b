package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/edge"
)

// TestGatewayResponses checks that API Gateway answers what it refuses
// itself the way the local gateway and the handlers do: the status, and a
// body {"error":{"code","message"}} with the same codes.
func TestGatewayResponses(t *testing.T) {
	s := synth(t)
	apiID := s.AppJSON.logicalID(t, "AWS::ApiGateway::RestApi", "Api")
	got := map[string]map[string]any{}
	for id, r := range s.AppJSON.resources("AWS::ApiGateway::GatewayResponse") {
		p := props(r)
		if jsonOf(p["RestApiId"]) != jsonOf(ref(apiID)) {
			t.Errorf("%s: RestApiId = %s, want %s", id, jsonOf(p["RestApiId"]), apiID)
		}
		typ, _ := p["ResponseType"].(string)
		if _, dup := got[typ]; dup {
			t.Errorf("two gateway responses of type %s", typ)
		}
		got[typ] = p
	}

	for _, tc := range []struct {
		typ, status, code string
	}{
		{"DEFAULT_4XX", "", "bad_request"},
		{"DEFAULT_5XX", "", edge.CodeInternal},
		{"UNAUTHORIZED", "401", edge.CodeUnauthenticated},
		{"ACCESS_DENIED", "403", edge.CodeForbidden},
		{"MISSING_AUTHENTICATION_TOKEN", "404", edge.CodeRouteNotFound},
		{"INVALID_API_KEY", "403", "invalid_api_key"},
		{"THROTTLED", "429", edge.CodeRateLimited},
		{"QUOTA_EXCEEDED", "429", edge.CodeQuotaExceeded},
		{"REQUEST_TOO_LARGE", "413", edge.CodeBodyTooLarge},
		{"BAD_REQUEST_BODY", "400", edge.CodeMalformedJSON},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			p, ok := got[tc.typ]
			if !ok {
				t.Fatalf("no gateway response %s; have %v", tc.typ, keys(got))
			}
			if st, _ := p["StatusCode"].(string); st != tc.status {
				t.Errorf("StatusCode = %q, want %q", st, tc.status)
			}
			// The headers the handlers' and the local gateway's answers carry.
			params, _ := p["ResponseParameters"].(map[string]any)
			for _, h := range [][2]string{{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}, {"Content-Type", "application/json"}} {
				if got := params["gatewayresponse.header."+h[0]]; got != "'"+h[1]+"'" {
					t.Errorf("header %s = %v, want '%s'", h[0], got, h[1])
				}
			}
			tmpl, _ := p["ResponseTemplates"].(map[string]any)
			if len(tmpl) != 1 {
				t.Fatalf("ResponseTemplates = %s, want one for application/json", jsonOf(tmpl))
			}
			body, _ := tmpl["application/json"].(string)
			// API Gateway puts its own message, as a JSON string, where the
			// template says $context.error.messageString.
			rendered := strings.ReplaceAll(body, apiErrorMessage, `"Forbidden"`)
			var b edge.ErrorBody
			dec := json.NewDecoder(bytes.NewReader([]byte(rendered)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&b); err != nil {
				t.Fatalf("body %s is not an error body: %v", body, err)
			}
			if b.Error.Code != tc.code {
				t.Errorf("code = %q, want %q", b.Error.Code, tc.code)
			}
			if b.Error.Message == "" {
				t.Error("empty message")
			}
		})
	}
	if len(got) != len(gatewayResponses) {
		t.Errorf("%d gateway responses, want %d", len(got), len(gatewayResponses))
	}
}
