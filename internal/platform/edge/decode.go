package edge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// MaxBodyBytes is the largest request body accepted (HTTP 413 beyond).
const MaxBodyBytes = 256 << 10

// Page size limits of list endpoints.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Body returns the raw request body, decoding base64 when API Gateway did.
func Body(req events.APIGatewayProxyRequest) ([]byte, error) {
	if len(req.Body) > base64.StdEncoding.EncodedLen(MaxBodyBytes)+4 {
		return nil, NewError(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes))
	}
	b := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if b, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return nil, NewError(http.StatusBadRequest, CodeMalformedJSON, "body is not valid base64")
		}
	}
	if len(b) > MaxBodyBytes {
		return nil, NewError(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes))
	}
	return b, nil
}

// DecodeJSON decodes a JSON object strictly into dst (a pointer): valid
// UTF-8, exactly one object, every key at most once (400 duplicate_field),
// known fields only and spelt exactly (400 unknown_field), JSON types that
// fit (400 invalid_type, naming the JSON path and type), and every field
// tagged `required:"true"` present and not null (400 validation_failed
// "price.amount is required"), whatever its zero value.
func DecodeJSON(req events.APIGatewayProxyRequest, dst any) error {
	if ct := Header(req, "Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return NewError(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "send the body as application/json")
		}
	}
	b, err := Body(req)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return NewError(http.StatusBadRequest, CodeMalformedJSON, "a JSON object body is required")
	}
	if !utf8.Valid(b) {
		return NewError(http.StatusBadRequest, CodeMalformedJSON, "body is not valid UTF-8")
	}
	if err := checkStrict(b, reflect.TypeOf(dst)); err != nil {
		return err
	}
	// What the walk accepted, encoding/json decodes; its own checks stay
	// as a second line.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return NewError(http.StatusBadRequest, CodeMalformedJSON, "body must hold exactly one JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return NewError(http.StatusBadRequest, CodeMalformedJSON, "body is not valid JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return NewError(http.StatusBadRequest, CodeInvalidType, "body must be a JSON object")
		}
		return NewError(http.StatusBadRequest, CodeInvalidType, fmt.Sprintf("field %s must be of type %s", field, typeName(typ.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return NewError(http.StatusBadRequest, CodeUnknownField, strings.TrimPrefix(err.Error(), "json: ")+" is not allowed")
	}
	return NewError(http.StatusBadRequest, CodeMalformedJSON, "body is not valid JSON")
}

func typeName(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "integer"
	case strings.HasPrefix(kind, "float"):
		return "number"
	case kind == "bool":
		return "boolean"
	case kind == "ptr" || kind == "struct" || kind == "map":
		return "object"
	case kind == "slice" || kind == "array":
		return "array"
	}
	return kind
}

// Header returns the request header name, matched case-insensitively.
func Header(req events.APIGatewayProxyRequest, name string) string {
	if v, ok := req.Headers[name]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// PathID returns the {id} path parameter if it has the shape of an entity id.
func PathID(req events.APIGatewayProxyRequest) (string, error) {
	id := req.PathParameters["id"]
	if !entityid.Valid(id) {
		return "", NewError(http.StatusBadRequest, CodeInvalidID, "the id in the path is not a valid id")
	}
	return id, nil
}

// PageRequest reads ?limit= and ?cursor=. One rule for both: an absent
// parameter takes its default (20; the first page), a present one must be
// valid, and empty is not valid (400 invalid_limit, 400 invalid_cursor).
// So a client that sends back an empty nextCursor is told, instead of
// silently starting over at the first page.
func PageRequest(req events.APIGatewayProxyRequest) (store.PageRequest, error) {
	pr := store.PageRequest{Limit: DefaultLimit}
	if v, ok := req.QueryStringParameters["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return pr, NewError(http.StatusBadRequest, CodeInvalidLimit, fmt.Sprintf("limit must be a whole number from 1 to %d", MaxLimit))
		}
		pr.Limit = int32(n)
	}
	if v, ok := req.QueryStringParameters["cursor"]; ok {
		if v == "" {
			return pr, NewError(http.StatusBadRequest, CodeInvalidCursor, "cursor must be the nextCursor of the previous page; leave it out for the first page")
		}
		pr.Cursor = v
	}
	return pr, nil
}
