package edge

import (
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// TimeRange reads the optional query parameters from and to, RFC 3339
// times (a zero time when absent): 400 validation_failed when one is not
// such a time, or when from is after to.
func TimeRange(req events.APIGatewayProxyRequest) (from, to time.Time, err error) {
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		v, ok := req.QueryStringParameters[p.name]
		if !ok {
			continue
		}
		t, perr := time.Parse(time.RFC3339Nano, v)
		if perr != nil {
			return time.Time{}, time.Time{}, NewError(http.StatusBadRequest, CodeValidation, p.name+" must be an RFC 3339 time, such as 2026-11-01T00:00:00Z")
		}
		*p.dst = t.UTC()
	}
	if !from.IsZero() && !to.IsZero() && from.After(to) {
		return time.Time{}, time.Time{}, NewError(http.StatusBadRequest, CodeValidation, "from must not be after to")
	}
	return from, to, nil
}
