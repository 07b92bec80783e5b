package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
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

// body returns the raw request body, decoding base64 when API Gateway did.
func body(req events.APIGatewayProxyRequest) ([]byte, error) {
	if len(req.Body) > base64.StdEncoding.EncodedLen(MaxBodyBytes)+4 {
		return nil, newError(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes))
	}
	b := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if b, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return nil, newError(http.StatusBadRequest, CodeMalformedJSON, "body is not valid base64")
		}
	}
	if len(b) > MaxBodyBytes {
		return nil, newError(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes))
	}
	return b, nil
}

// decodeJSON decodes a JSON object strictly into dst: one object, known
// fields only, right types, valid UTF-8.
func decodeJSON(req events.APIGatewayProxyRequest, dst any) error {
	if ct := header(req, "Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return newError(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "send the body as application/json")
		}
	}
	b, err := body(req)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return newError(http.StatusBadRequest, CodeMalformedJSON, "a JSON object body is required")
	}
	if !utf8.Valid(b) {
		return newError(http.StatusBadRequest, CodeMalformedJSON, "body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return newError(http.StatusBadRequest, CodeMalformedJSON, "body must hold exactly one JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, CodeMalformedJSON, "body is not valid JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return newError(http.StatusBadRequest, CodeInvalidType, "body must be a JSON object")
		}
		return newError(http.StatusBadRequest, CodeInvalidType, fmt.Sprintf("field %s must be of type %s", field, typeName(typ.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return newError(http.StatusBadRequest, CodeUnknownField, strings.TrimPrefix(err.Error(), "json: ")+" is not allowed")
	}
	return newError(http.StatusBadRequest, CodeMalformedJSON, "body is not valid JSON")
}

func typeName(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "number"
	case kind == "ptr" || kind == "struct" || kind == "map":
		return "object"
	case kind == "slice":
		return "array"
	}
	return kind
}

func header(req events.APIGatewayProxyRequest, name string) string {
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

// pathID returns the {id} path parameter if it has the shape of an entity id.
func pathID(req events.APIGatewayProxyRequest) (string, error) {
	id := req.PathParameters["id"]
	if !entityid.Valid(id) {
		return "", newError(http.StatusBadRequest, CodeInvalidID, "the id in the path is not a valid id")
	}
	return id, nil
}

// pageRequest reads ?limit= and ?cursor=.
func pageRequest(req events.APIGatewayProxyRequest) (store.PageRequest, error) {
	pr := store.PageRequest{Limit: DefaultLimit, Cursor: req.QueryStringParameters["cursor"]}
	if v, ok := req.QueryStringParameters["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return pr, newError(http.StatusBadRequest, CodeInvalidLimit, fmt.Sprintf("limit must be a whole number from 1 to %d", MaxLimit))
		}
		pr.Limit = int32(n)
	}
	return pr, nil
}
