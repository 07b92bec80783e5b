package idtoken

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// dateLayout is how API Gateway's REST Cognito authorizer renders exp and iat
// (Java's Date.toString in UTC), e.g. "Mon Nov 23 10:13:20 UTC 2026".
const dateLayout = "Mon Jan 02 15:04:05 UTC 2006"

// flatten renders the claims as API Gateway's REST Cognito authorizer puts
// them in requestContext.authorizer.claims, every value a string:
//   - exp and iat as dates in dateLayout, as API Gateway does;
//   - other numbers as integers ("1795338800"), or as decimals when they
//     have a fraction;
//   - booleans as "true" or "false";
//   - arrays, cognito:groups among them, as their elements joined with ","
//     ("operators,admins"; one group is just its name);
//   - objects as compact JSON; null claims are left out.
func flatten(c jwt.MapClaims) map[string]string {
	out := make(map[string]string, len(c))
	for k, v := range c {
		if v == nil {
			continue
		}
		if k == "exp" || k == "iat" {
			if n, ok := v.(json.Number); ok {
				if f, err := n.Float64(); err == nil {
					out[k] = time.Unix(int64(f), 0).UTC().Format(dateLayout)
					continue
				}
			}
		}
		out[k] = scalar(v)
	}
	return out
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return strconv.FormatInt(i, 10)
		}
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return strconv.FormatInt(int64(f), 10)
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if e != nil {
				parts = append(parts, scalar(e))
			}
		}
		return strings.Join(parts, ",")
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		return string(b)
	}
}

// Expiry reads the exp claim of verified claims (as Verify renders it).
func Expiry(claims map[string]string) (time.Time, bool) {
	t, err := time.Parse(dateLayout, claims["exp"])
	return t, err == nil
}
