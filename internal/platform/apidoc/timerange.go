package apidoc

import (
	"net/http"

	"github.com/tessera-saas/tessera/internal/platform/edge"
)

// TimeRangeParams are the query parameters of a list bounded in time
// (edge.TimeRange), such as an audit trail.
var TimeRangeParams = []Param{
	{In: "query", Name: "from", Description: "RFC 3339 time: only entries at this time or later (default: the oldest kept)",
		Schema: &Schema{Type: types("string"), Format: "date-time"}},
	{In: "query", Name: "to", Description: "RFC 3339 time: only entries before this time (default: now)",
		Schema: &Schema{Type: types("string"), Format: "date-time"}},
}

// TimeRangeErrors are the errors of a bad from or to.
var TimeRangeErrors = []Failure{Fail(http.StatusBadRequest, edge.CodeValidation)}
