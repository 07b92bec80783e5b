package apidoc_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/apidoc"
	"github.com/tessera-saas/tessera/internal/platform/route"
)

type color string

type inner struct {
	N int64 `json:"n" required:"true"`
}

type base struct {
	ID   string `json:"id" required:"true"`
	Note string `json:"note"`
}

// body embeds base (its fields are promoted, as encoding/json does).
type body struct {
	base
	Inner  *inner            `json:"inner" required:"true"`
	Color  color             `json:"color"`
	Tags   map[string]string `json:"tags"`
	Secret string            `json:"-"`
	Count  uint8             `json:"count,string"`
}

type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

type answer struct {
	ID      string     `json:"id"`
	At      time.Time  `json:"at"`
	Done    *time.Time `json:"done,omitempty"`
	Maybe   *inner     `json:"maybe"`
	Ratio   float64    `json:"ratio"`
	Raw     []byte     `json:"raw"`
	Color   color      `json:"color"`
	Ignored string     `json:"-"`
}

var routes = []route.Route{
	{Name: "Create", Method: "POST", Path: "/v1/things", Function: route.FunctionAPI, Audience: route.TenantUser},
	{Name: "Get", Method: "GET", Path: "/v1/things/{id}", Function: route.FunctionAPI, Audience: route.Operator},
	{Name: "Doc", Method: "GET", Path: "/v1/doc", Function: route.FunctionAPI, Audience: route.Public},
}

func contract() apidoc.Contract {
	c := apidoc.NewContract()
	c.Operations["Create"] = apidoc.Operation{Body: body{}, Errors: apidoc.BodyErrors,
		Responses: []apidoc.Response{{Status: http.StatusCreated, Body: answer{},
			Links: []apidoc.Link{{Name: "Get", Operation: "Get", Parameters: map[string]string{"path.id": "$response.body#/id"}}}}}}
	c.Operations["Get"] = apidoc.Operation{PathParams: map[string]*apidoc.Schema{"id": apidoc.StringSchema("^x", 1, 9)},
		Errors:    []apidoc.Failure{apidoc.Fail(http.StatusNotFound, "not_found")},
		Responses: []apidoc.Response{{Status: http.StatusOK, Body: page[answer]{}}}}
	c.Operations["Doc"] = apidoc.Operation{Responses: []apidoc.Response{{Status: http.StatusOK, Raw: &apidoc.Schema{Type: apidoc.Types{"object"}}}}}
	apidoc.Enum(c.Enums, color("red"), color("blue"))
	apidoc.AddField[base](c.Fields, "note", apidoc.MaxLength(10))
	return c
}

func build(t *testing.T, c apidoc.Contract) map[string]any {
	t.Helper()
	b, err := apidoc.Build(apidoc.Spec{Title: "t", Version: "1", Routes: routes, Contract: c})
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func at(v any, path string) any {
	for _, p := range strings.Split(path, "/") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		default:
			return nil
		}
	}
	return v
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestSchemasFollowTheDecoderAndTheEncoder: a request body's required
// fields are the tagged ones and its others may be null; a response's are
// all but omitempty ones and only pointers without omitempty are null;
// embedded fields are promoted, "-" fields left out, ",string" ones
// strings; named types are components (generics named by their argument),
// enums and constraints applied.
func TestSchemasFollowTheDecoderAndTheEncoder(t *testing.T) {
	d := build(t, contract())
	s := at(d, "components/schemas").(map[string]any)
	checks := []struct{ path, want string }{
		{"Body/required", `["id","inner"]`},
		{"Body/properties/note", `{"maxLength":10,"type":["string","null"]}`},
		{"Body/properties/inner", `{"$ref":"#/components/schemas/Inner"}`},
		{"Body/properties/color", `{"anyOf":[{"$ref":"#/components/schemas/Color"},{"type":"null"}]}`},
		{"Body/properties/tags", `{"additionalProperties":{"type":"string"},"type":["object","null"]}`},
		{"Body/properties/count", `{"type":["string","null"]}`},
		{"Body/properties/Secret", `null`},
		{"Body/additionalProperties", `false`},
		{"Inner/required", `["n"]`},
		{"Color", `{"enum":["red","blue"],"type":"string"}`},
		{"Answer/required", `["id","at","maybe","ratio","raw","color"]`},
		{"Answer/properties/at", `{"format":"date-time","type":"string"}`},
		{"Answer/properties/done", `{"format":"date-time","type":"string"}`},
		{"Answer/properties/maybe", `{"anyOf":[{"$ref":"#/components/schemas/Inner"},{"type":"null"}]}`},
		{"Answer/properties/ratio", `{"type":"number"}`},
		{"Answer/properties/raw", `{"contentEncoding":"base64","type":"string"}`},
		{"AnswerPage/required", `["items"]`},
		{"AnswerPage/properties/items/items", `{"$ref":"#/components/schemas/Answer"}`},
	}
	for _, c := range checks {
		if got := js(at(s, c.path)); got != c.want {
			t.Errorf("%s = %s, want %s", c.path, got, c.want)
		}
	}
	op := at(d, "paths").(map[string]any)["/v1/things"].(map[string]any)["post"].(map[string]any)
	if js(op["security"]) != `[{"tenantIdToken":[]}]` || js(op["tags"]) != `["tenant"]` {
		t.Errorf("security %s tags %s", js(op["security"]), js(op["tags"]))
	}
	bad := at(at(op, "responses/400/content").(map[string]any)["application/json"], "schema/allOf")
	if !strings.Contains(js(bad), `"enum":["duplicate_field","invalid_type","malformed_json","unknown_field","validation_failed"]`) {
		t.Errorf("400 of a body route: %s", js(bad))
	}
	if got := js(at(op, "responses/429/headers/Retry-After/schema")); got != `{"pattern":"^[0-9]+$","type":"string"}` {
		t.Errorf("429 Retry-After: %s", got)
	}
	if got := js(at(op, "responses/201/links/Get")); got != `{"operationId":"Get","parameters":{"path.id":"$response.body#/id"}}` {
		t.Errorf("link: %s", got)
	}
	doc := at(d, "paths").(map[string]any)["/v1/doc"].(map[string]any)["get"].(map[string]any)
	if _, ok := doc["security"]; ok {
		t.Errorf("public route has security %s", js(doc["security"]))
	}
	get := at(d, "paths").(map[string]any)["/v1/things/{id}"].(map[string]any)["get"].(map[string]any)
	if js(get["parameters"]) != `[{"in":"path","name":"id","required":true,"schema":{"maxLength":9,"minLength":1,"pattern":"^x","type":"string"}}]` {
		t.Errorf("path parameters: %s", js(get["parameters"]))
	}
	if !strings.Contains(js(at(get, "responses/400")), "invalid_path") || !strings.Contains(js(at(get, "responses/404")), "not_found") {
		t.Errorf("errors of a route with an id: %s", js(get["responses"]))
	}
}

// TestBuildRefusesWhatDoesNotMatch: the table and the contracts must
// agree, and a constraint must name a real field.
func TestBuildRefusesWhatDoesNotMatch(t *testing.T) {
	tests := []struct {
		name   string
		change func(*apidoc.Contract)
		want   string
	}{
		{"route without a contract", func(c *apidoc.Contract) { delete(c.Operations, "Get") }, "route Get (GET /v1/things/{id}) has no contract"},
		{"contract without a route", func(c *apidoc.Contract) { c.Operations["Gone"] = apidoc.Operation{} }, "contract Gone names no route"},
		{"path parameter without a schema", func(c *apidoc.Contract) { op := c.Operations["Get"]; op.PathParams = nil; c.Operations["Get"] = op },
			"no schema for path parameter {id}"},
		{"constraint on a field that is gone", func(c *apidoc.Contract) { apidoc.AddField[base](c.Fields, "nope", apidoc.MaxLength(1)) }, `field "nope"`},
		{"link to nothing", func(c *apidoc.Contract) {
			op := c.Operations["Create"]
			op.Responses = []apidoc.Response{{Status: 201, Links: []apidoc.Link{{Name: "x", Operation: "Nope"}}}}
			c.Operations["Create"] = op
		}, "unknown operation Nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := contract()
			tc.change(&c)
			_, err := apidoc.Build(apidoc.Spec{Title: "t", Version: "1", Routes: routes, Contract: c})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := apidoc.Merge(contract(), contract()); err == nil {
		t.Fatal("Merge accepted two contracts for one route")
	}
}
