package edge_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/product"
)

// The update bodies of the API embed the create input, as tenantapi does.
type productUpdate struct {
	product.Input
	Version *int64 `json:"version" required:"true"`
}

type orderUpdate struct {
	order.Input
	Version *int64 `json:"version" required:"true"`
}

// loose holds the shapes the product and order bodies do not: maps,
// arrays of objects, untyped values, floats and bools.
type loose struct {
	Tags  map[string]string `json:"tags"`
	Lines []struct {
		SKU string `json:"sku" required:"true"`
		N   uint8  `json:"n"`
	} `json:"lines"`
	Any   any     `json:"any"`
	Ratio float64 `json:"ratio"`
	On    bool    `json:"on"`
	Raw   []byte  `json:"raw"`
}

func decode(body string, dst any) *edge.Error {
	err := edge.DecodeJSON(events.APIGatewayProxyRequest{Body: body}, dst)
	if err == nil {
		return nil
	}
	var e *edge.Error
	if !errors.As(err, &e) {
		return &edge.Error{Status: 500, Code: "not an edge error", Message: err.Error()}
	}
	return e
}

const goodProduct = `{"name":"Anvil","sku":"ANV-1","price":{"amount":1999,"currency":"EUR"}}`

func TestDecodeJSONRequiresRequiredFieldsWhateverTheirZeroValue(t *testing.T) {
	const oid = "01JCZ8W3T1K5Q7R9S2V4X6Y8Z0"
	goodOrder := `{"productId":"` + oid + `","quantity":1,"customer":{"name":"Ann","email":"ann@example.com"}}`
	tests := []struct {
		name string
		dst  func() any
		body string
		want string // message part; "" = accepted
	}{
		{"product ok", func() any { return new(product.Input) }, goodProduct, ""},
		{"free product, explicit", func() any { return new(product.Input) }, `{"name":"A","sku":"B","price":{"amount":0,"currency":"EUR"}}`, ""},
		{"description may be absent or null", func() any { return new(product.Input) }, `{"name":"A","sku":"B","price":{"amount":1,"currency":"EUR"},"description":null}`, ""},
		{"amount missing", func() any { return new(product.Input) }, `{"name":"A","sku":"B","price":{"currency":"EUR"}}`, "price.amount is required"},
		{"amount null", func() any { return new(product.Input) }, `{"name":"A","sku":"B","price":{"amount":null,"currency":"EUR"}}`, "price.amount is required"},
		{"currency missing", func() any { return new(product.Input) }, `{"name":"A","sku":"B","price":{"amount":1}}`, "price.currency is required"},
		{"price missing", func() any { return new(product.Input) }, `{"name":"A","sku":"B"}`, "price is required"},
		{"price null", func() any { return new(product.Input) }, `{"name":"A","sku":"B","price":null}`, "price is required"},
		{"name null", func() any { return new(product.Input) }, `{"name":null,"sku":"B","price":{"amount":1,"currency":"EUR"}}`, "name is required"},
		{"sku missing", func() any { return new(product.Input) }, `{"name":"A","price":{"amount":1,"currency":"EUR"}}`, "sku is required"},
		{"put amount missing", func() any { return new(productUpdate) }, `{"name":"A","sku":"B","price":{"currency":"EUR"},"version":1}`, "price.amount is required"},
		{"put amount null", func() any { return new(productUpdate) }, `{"name":"A","sku":"B","price":{"amount":null,"currency":"EUR"},"version":1}`, "price.amount is required"},
		{"put version null", func() any { return new(productUpdate) }, `{"name":"A","sku":"B","price":{"amount":1,"currency":"EUR"},"version":null}`, "version is required"},
		{"put ok", func() any { return new(productUpdate) }, `{"name":"A","sku":"B","price":{"amount":0,"currency":"EUR"},"version":3}`, ""},
		{"order ok, status optional", func() any { return new(order.Input) }, goodOrder, ""},
		{"order quantity missing", func() any { return new(order.Input) }, `{"productId":"` + oid + `","customer":{"name":"Ann","email":"a@b.test"}}`, "quantity is required"},
		{"order productId null", func() any { return new(order.Input) }, `{"productId":null,"quantity":1,"customer":{"name":"Ann","email":"a@b.test"}}`, "productId is required"},
		{"order customer missing", func() any { return new(order.Input) }, `{"productId":"` + oid + `","quantity":1}`, "customer is required"},
		{"order customer.email missing", func() any { return new(order.Input) }, `{"productId":"` + oid + `","quantity":1,"customer":{"name":"Ann"}}`, "customer.email is required"},
		{"order customer.name null", func() any { return new(order.Input) }, `{"productId":"` + oid + `","quantity":1,"customer":{"name":null,"email":"a@b.test"}}`, "customer.name is required"},
		{"order put version missing", func() any { return new(orderUpdate) }, goodOrder, "version is required"},
		{"required inside array element", func() any { return new(loose) }, `{"lines":[{"sku":"A"},{"n":1}]}`, "lines[1].sku is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := decode(tc.body, tc.dst())
			if tc.want == "" {
				if e != nil {
					t.Fatalf("rejected: %v", e)
				}
				return
			}
			if e == nil || e.Status != http.StatusBadRequest || e.Code != edge.CodeValidation || e.Message != tc.want {
				t.Fatalf("got %+v, want 400 %s %q", e, edge.CodeValidation, tc.want)
			}
		})
	}
}

func TestDecodeJSONNamesTheJSONPathAndTheJSONType(t *testing.T) {
	tests := []struct {
		name string
		dst  any
		body string
		want string
	}{
		{"post amount as string", new(product.Input), `{"name":"A","sku":"B","price":{"amount":"12","currency":"EUR"}}`, "field price.amount must be of type integer"},
		{"put amount as string", new(productUpdate), `{"name":"A","sku":"B","price":{"amount":"12","currency":"EUR"},"version":1}`, "field price.amount must be of type integer"},
		{"put amount fractional", new(productUpdate), `{"name":"A","sku":"B","price":{"amount":12.5,"currency":"EUR"},"version":1}`, "field price.amount must be of type integer"},
		{"put amount exponent", new(productUpdate), `{"name":"A","sku":"B","price":{"amount":1e3,"currency":"EUR"},"version":1}`, "field price.amount must be of type integer"},
		{"amount too large", new(product.Input), `{"name":"A","sku":"B","price":{"amount":99999999999999999999,"currency":"EUR"}}`, "field price.amount must be an integer from -9223372036854775808 to 9223372036854775807"},
		{"put version as string", new(productUpdate), `{"name":"A","sku":"B","price":{"amount":1,"currency":"EUR"},"version":"1"}`, "field version must be of type integer"},
		{"put name as number", new(productUpdate), `{"name":5,"sku":"B","price":{"amount":1,"currency":"EUR"},"version":1}`, "field name must be of type string"},
		{"price as array", new(product.Input), `{"name":"A","sku":"B","price":[1]}`, "field price must be of type object"},
		{"order customer as string", new(orderUpdate), `{"productId":"x","quantity":1,"customer":"Ann","version":1}`, "field customer must be of type object"},
		{"order quantity as bool", new(order.Input), `{"productId":"x","quantity":true,"customer":{"name":"A","email":"a@b.test"}}`, "field quantity must be of type integer"},
		{"uint in array element", new(loose), `{"lines":[{"sku":"A","n":-1}]}`, "field lines[0].n must be an integer from 0 to 255"},
		{"float as string", new(loose), `{"ratio":"0.5"}`, "field ratio must be of type number"},
		{"bool as number", new(loose), `{"on":1}`, "field on must be of type boolean"},
		{"map value", new(loose), `{"tags":{"a":"x","b":2}}`, "field tags.b must be of type string"},
		{"array as object", new(loose), `{"lines":{}}`, "field lines must be of type array"},
		{"bytes as array", new(loose), `{"raw":[1]}`, "field raw must be of type string"},
		{"top level array", new(product.Input), `[1,2]`, "body must be a JSON object"},
		{"top level null", new(product.Input), `null`, "body must be a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := decode(tc.body, tc.dst)
			if e == nil || e.Status != http.StatusBadRequest || e.Code != edge.CodeInvalidType || e.Message != tc.want {
				t.Fatalf("got %+v, want 400 %s %q", e, edge.CodeInvalidType, tc.want)
			}
			if strings.Contains(e.Message, "Input") || strings.Contains(e.Message, "int64") {
				t.Fatalf("message names a Go type: %q", e.Message)
			}
		})
	}
	// What the strict walk accepts, encoding/json decodes as it always did.
	var l loose
	if e := decode(`{"tags":{"a":"x"},"lines":[{"sku":"A","n":255}],"any":{"k":[1,{"z":null}]},"ratio":1e-3,"on":false,"raw":"AQI="}`, &l); e != nil {
		t.Fatalf("loose: %v", e)
	}
	if l.Tags["a"] != "x" || l.Lines[0].N != 255 || l.Ratio != 1e-3 || len(l.Raw) != 2 {
		t.Fatalf("decoded %+v", l)
	}
}

func TestDecodeJSONRejectsDuplicateAndMiscasedKeys(t *testing.T) {
	tests := []struct {
		name string
		dst  any
		body string
		code string
		want string
	}{
		{"top level", new(product.Input), `{"name":"A","sku":"B","price":{"amount":1,"currency":"EUR"},"name":"C"}`, edge.CodeDuplicateField, `field name appears more than once`},
		{"nested", new(productUpdate), `{"name":"A","sku":"B","price":{"amount":1999,"currency":"EUR","amount":0},"version":1}`, edge.CodeDuplicateField, `field price.amount appears more than once`},
		{"duplicate null", new(product.Input), `{"name":"A","sku":"B","price":{"amount":1,"currency":"EUR"},"description":null,"description":"x"}`, edge.CodeDuplicateField, `field description appears more than once`},
		{"in a map", new(loose), `{"tags":{"a":"x","a":"y"}}`, edge.CodeDuplicateField, `field tags.a appears more than once`},
		{"in an array element", new(loose), `{"lines":[{"sku":"A"},{"sku":"B","sku":"C"}]}`, edge.CodeDuplicateField, `field lines[1].sku appears more than once`},
		{"in an untyped value", new(loose), `{"any":{"k":{"z":1,"z":2}}}`, edge.CodeDuplicateField, `field any.k.z appears more than once`},
		{"other case", new(product.Input), `{"name":"A","Name":"B","sku":"B","price":{"amount":1,"currency":"EUR"}}`, edge.CodeUnknownField, `unknown field "Name" is not allowed`},
		{"other case nested", new(productUpdate), `{"name":"A","sku":"B","price":{"amount":1,"AMOUNT":0,"currency":"EUR"},"version":1}`, edge.CodeUnknownField, `unknown field "price.AMOUNT" is not allowed`},
		{"unknown", new(product.Input), `{"name":"A","sku":"B","price":{"amount":1,"currency":"EUR"},"tenantId":"t-evil"}`, edge.CodeUnknownField, `unknown field "tenantId" is not allowed`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := decode(tc.body, tc.dst)
			if e == nil || e.Status != http.StatusBadRequest || e.Code != tc.code || e.Message != tc.want {
				t.Fatalf("got %+v, want 400 %s %q", e, tc.code, tc.want)
			}
		})
	}
}

func TestDecodeJSONKeepsItsOtherChecks(t *testing.T) {
	tests := []struct{ name, body, code string }{
		{"malformed", `{"name":`, edge.CodeMalformedJSON},
		{"two objects", goodProduct + goodProduct, edge.CodeMalformedJSON},
		{"trailing garbage", goodProduct + `x`, edge.CodeMalformedJSON},
		{"empty", ` `, edge.CodeMalformedJSON},
		{"bad utf8", "{\"name\":\"\xff\"}", edge.CodeMalformedJSON},
		{"missing comma", `{"name":"A" "sku":"B"}`, edge.CodeMalformedJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if e := decode(tc.body, new(product.Input)); e == nil || e.Code != tc.code {
				t.Fatalf("got %+v, want %s", e, tc.code)
			}
		})
	}
	var in product.Input
	if e := decode(goodProduct, &in); e != nil || in.Price == nil || in.Price.Amount != 1999 || in.SKU != "ANV-1" {
		t.Fatalf("good product: %v %+v", e, in)
	}
}

func TestPageRequestTreatsEmptyLimitAndCursorAlike(t *testing.T) {
	tests := []struct {
		name  string
		query map[string]string
		code  string
	}{
		{"empty limit", map[string]string{"limit": ""}, edge.CodeInvalidLimit},
		{"empty cursor", map[string]string{"cursor": ""}, edge.CodeInvalidCursor},
		{"empty both", map[string]string{"limit": "", "cursor": ""}, edge.CodeInvalidLimit},
		{"absent", nil, ""},
		{"limit only", map[string]string{"limit": "5"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, err := edge.PageRequest(events.APIGatewayProxyRequest{QueryStringParameters: tc.query})
			if tc.code == "" {
				if err != nil || pr.Limit < 1 || pr.Cursor != "" {
					t.Fatalf("got %+v, %v", pr, err)
				}
				return
			}
			var e *edge.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != tc.code {
				t.Fatalf("got %v, want 400 %s", err, tc.code)
			}
		})
	}
}

// BenchmarkDecodeJSON measures DecodeJSON (strict walk + encoding/json) on a
// typical product update against encoding/json alone, the decoder before
// the strict walk.
func BenchmarkDecodeJSON(b *testing.B) {
	body := `{"name":"Anvil","sku":"ANV-1","price":{"amount":1999,"currency":"EUR"},"description":"heavy, black, iron","version":3}`
	req := events.APIGatewayProxyRequest{Body: body, Headers: map[string]string{"Content-Type": "application/json"}}
	b.Run("DecodeJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var u productUpdate
			if err := edge.DecodeJSON(req, &u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var u productUpdate
			dec := json.NewDecoder(strings.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&u); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestDecodeJSONScansEscapesAndWhitespace(t *testing.T) {
	tests := []struct {
		name, body, code string
	}{
		{"escaped key is the same key", `{"n\u0061me":"A","name":"B","sku":"B","price":{"amount":1,"currency":"EUR"}}`, edge.CodeDuplicateField},
		{"escaped key alone", `{"n\u0061me":"A","sku":"B","price":{"amount":1,"currency":"EUR"}}`, ""},
		{"escaped quote in value", `{"name":"A\"}{","sku":"B","price":{"amount":1,"currency":"EUR"},"description":"\\"}`, ""},
		{"whitespace everywhere", " \r\n\t{ \"name\" :\t\"A\" ,\n\"sku\": \"B\" , \"price\" : { \"amount\" : -0 , \"currency\" : \"EUR\" } }\n ", ""},
		{"empty object", `{}`, edge.CodeValidation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := decode(tc.body, new(product.Input))
			if tc.code == "" && e != nil || tc.code != "" && (e == nil || e.Code != tc.code) {
				t.Fatalf("got %+v, want %q", e, tc.code)
			}
		})
	}
	var l loose
	if e := decode(`{"any":[[],{},[{"a":[1,-2.5e+3,true,null,"x"]}]],"tags":{},"lines":[]}`, &l); e != nil {
		t.Fatalf("nested empties: %v", e)
	}
	deep := strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100)
	if e := decode(`{"any":`+deep+`}`, &l); e == nil || e.Code != edge.CodeMalformedJSON {
		t.Fatalf("deep nesting: %+v", e)
	}
}

// FuzzDecodeJSON: the strict walk never panics, and what it accepts
// encoding/json decodes to the same value.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{goodProduct, `{"name":"A","sku":"B","price":{"amount":0,"currency":"EUR"},"description":"d\u00e9"}`,
		`{"name":"A","name":"B"}`, `{"price":{"amount":1e3}}`, `[`, `{"a":}`, `{"name":"\ud800"}`, `{}`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var got product.Input
		err := edge.DecodeJSON(events.APIGatewayProxyRequest{Body: body}, &got)
		if err != nil {
			var e *edge.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%q: %v", body, err)
			}
			return
		}
		var want product.Input
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%q accepted by DecodeJSON, refused by encoding/json: %v", body, err)
		}
		if got.Name != want.Name || got.SKU != want.SKU || got.Description != want.Description || (got.Price == nil) != (want.Price == nil) ||
			got.Price != nil && *got.Price != *want.Price {
			t.Fatalf("%q: decoded %+v, encoding/json %+v", body, got, want)
		}
	})
}
