package route

import "strings"

// Function names a Lambda function under functions/.
type Function string

// The functions that serve routes.
const (
	FunctionAPI     Function = "api"
	FunctionTenants Function = "tenants"
	// FunctionRouter serves the cell router's API (Router), a separate API
	// in front of the cells.
	FunctionRouter Function = "router"
)

// Audience says who may call a route, and so which authorizer guards it.
type Audience string

const (
	// TenantUser routes need a tenant user's Cognito ID token; the tenant is
	// taken from its custom:tenantId claim.
	TenantUser Audience = "tenant-user"
	// Operator routes need an ID token of a member of the operators group.
	Operator Audience = "operator"
	// Public routes need no token: API Gateway's method has no authorizer
	// and no API key, the local gateway passes the request on as it is, and
	// the function serves it without a caller. Only the API's own document
	// is public.
	Public Audience = "public"
)

// Route is one method on one resource path. Path uses API Gateway's template
// syntax: "/v1/products/{id}".
type Route struct {
	Name     string
	Method   string
	Path     string
	Function Function
	Audience Audience
}

// All is the route table. Order does not matter: a path template has at most
// one literal or one parameter per segment.
var All = []Route{
	{Name: "ListProducts", Method: "GET", Path: "/v1/products", Function: FunctionAPI, Audience: TenantUser},
	{Name: "CreateProduct", Method: "POST", Path: "/v1/products", Function: FunctionAPI, Audience: TenantUser},
	{Name: "GetProduct", Method: "GET", Path: "/v1/products/{id}", Function: FunctionAPI, Audience: TenantUser},
	{Name: "UpdateProduct", Method: "PUT", Path: "/v1/products/{id}", Function: FunctionAPI, Audience: TenantUser},
	{Name: "DeleteProduct", Method: "DELETE", Path: "/v1/products/{id}", Function: FunctionAPI, Audience: TenantUser},
	{Name: "ListOrders", Method: "GET", Path: "/v1/orders", Function: FunctionAPI, Audience: TenantUser},
	{Name: "CreateOrder", Method: "POST", Path: "/v1/orders", Function: FunctionAPI, Audience: TenantUser},
	{Name: "GetOrder", Method: "GET", Path: "/v1/orders/{id}", Function: FunctionAPI, Audience: TenantUser},
	{Name: "UpdateOrder", Method: "PUT", Path: "/v1/orders/{id}", Function: FunctionAPI, Audience: TenantUser},
	{Name: "DeleteOrder", Method: "DELETE", Path: "/v1/orders/{id}", Function: FunctionAPI, Audience: TenantUser},
	{Name: "ListUsers", Method: "GET", Path: "/v1/users", Function: FunctionAPI, Audience: TenantUser},
	{Name: "CreateUser", Method: "POST", Path: "/v1/users", Function: FunctionAPI, Audience: TenantUser},
	{Name: "CreateExport", Method: "POST", Path: "/v1/exports", Function: FunctionAPI, Audience: TenantUser},
	{Name: "GetExport", Method: "GET", Path: "/v1/exports/{id}", Function: FunctionAPI, Audience: TenantUser},
	// The tenant's settings (any user reads, admins write) and the feature
	// flags that apply to it (internal/platform/branding, features).
	{Name: "GetSettings", Method: "GET", Path: "/v1/settings", Function: FunctionAPI, Audience: TenantUser},
	{Name: "PutSettings", Method: "PUT", Path: "/v1/settings", Function: FunctionAPI, Audience: TenantUser},
	{Name: "ListFeatures", Method: "GET", Path: "/v1/features", Function: FunctionAPI, Audience: TenantUser},
	// The tenant's audit trail (internal/platform/audit), admins only.
	{Name: "ListAudit", Method: "GET", Path: "/v1/audit", Function: FunctionAPI, Audience: TenantUser},
	{Name: "ListInvoices", Method: "GET", Path: "/v1/billing/invoices", Function: FunctionAPI, Audience: TenantUser},

	{Name: "ListTenants", Method: "GET", Path: "/v1/tenants", Function: FunctionTenants, Audience: Operator},
	{Name: "CreateTenant", Method: "POST", Path: "/v1/tenants", Function: FunctionTenants, Audience: Operator},
	{Name: "GetTenant", Method: "GET", Path: "/v1/tenants/{id}", Function: FunctionTenants, Audience: Operator},
	{Name: "ChangeTenantTier", Method: "PUT", Path: "/v1/tenants/{id}/tier", Function: FunctionTenants, Audience: Operator},
	{Name: "SuspendTenant", Method: "POST", Path: "/v1/tenants/{id}/suspend", Function: FunctionTenants, Audience: Operator},
	{Name: "ResumeTenant", Method: "POST", Path: "/v1/tenants/{id}/resume", Function: FunctionTenants, Audience: Operator},
	{Name: "OffboardTenant", Method: "POST", Path: "/v1/tenants/{id}/offboard", Function: FunctionTenants, Audience: Operator},
	// Per-tenant backup and point-in-time restore (internal/control/backup):
	// each request records a job, which these routes read back.
	{Name: "BackupTenant", Method: "POST", Path: "/v1/tenants/{id}/backups", Function: FunctionTenants, Audience: Operator},
	{Name: "ListTenantBackups", Method: "GET", Path: "/v1/tenants/{id}/backups", Function: FunctionTenants, Audience: Operator},
	{Name: "RestoreTenant", Method: "POST", Path: "/v1/tenants/{id}/restores", Function: FunctionTenants, Audience: Operator},
	{Name: "ListTenantJobs", Method: "GET", Path: "/v1/tenants/{id}/jobs", Function: FunctionTenants, Audience: Operator},
	{Name: "GetTenantJob", Method: "GET", Path: "/v1/tenants/{id}/jobs/{jobId}", Function: FunctionTenants, Audience: Operator},
	// Feature flag definitions, and one tenant's overrides
	// (internal/platform/features).
	{Name: "ListFlags", Method: "GET", Path: "/v1/flags", Function: FunctionTenants, Audience: Operator},
	{Name: "PutFlag", Method: "PUT", Path: "/v1/flags/{name}", Function: FunctionTenants, Audience: Operator},
	{Name: "PutTenantFlag", Method: "PUT", Path: "/v1/tenants/{id}/flags/{name}", Function: FunctionTenants, Audience: Operator},
	// Any tenant's audit trail (internal/platform/audit).
	{Name: "ListTenantAudit", Method: "GET", Path: "/v1/tenants/{id}/audit", Function: FunctionTenants, Audience: Operator},

	// The OpenAPI document of every route above (api/openapi.json).
	{Name: "GetOpenAPI", Method: "GET", Path: "/v1/openapi.json", Function: FunctionAPI, Audience: Public},
}

// Router is the route table of the cell router's API: every operator route
// of All, which it forwards to the tenant's cell (a create to the cell it
// places the tenant in), and two of its own. API Gateway's definition of the
// router API is built from it, as the cells' API is from All.
var Router = routerRoutes()

func routerRoutes() []Route {
	out := []Route{
		// The cells, with their tenant counts.
		{Name: "ListCells", Method: "GET", Path: "/v1/cells", Function: FunctionRouter, Audience: Operator},
		// The caller's cell and its API, for clients after sign-in.
		{Name: "GetPlacement", Method: "GET", Path: "/v1/placement", Function: FunctionRouter, Audience: TenantUser},
	}
	for _, r := range All {
		if r.Audience == Operator {
			r.Function = FunctionRouter
			out = append(out, r)
		}
	}
	return out
}

// Key identifies a route the way API Gateway's proxy event does: the HTTP
// method and the resource template ("GET /v1/products/{id}").
func (r Route) Key() string { return r.Method + " " + r.Path }

// ByKey returns the route of a route key ("GET /v1/products/{id}").
func ByKey(key string) (Route, bool) {
	for _, r := range All {
		if r.Key() == key {
			return r, true
		}
	}
	return Route{}, false
}

// ByKeyIn returns the route of a route key in table (All or Router).
func ByKeyIn(table []Route, key string) (Route, bool) {
	for _, r := range table {
		if r.Key() == key {
			return r, true
		}
	}
	return Route{}, false
}

// ForFunction returns the routes served by fn, in table order.
func ForFunction(fn Function) []Route {
	var out []Route
	table := All
	if fn == FunctionRouter {
		table = Router
	}
	for _, r := range table {
		if r.Function == fn {
			out = append(out, r)
		}
	}
	return out
}

// Match finds the route for a concrete request path such as
// "/v1/products/01J...", returning the route and its path parameters. The
// second result is false when no route has that path; the third is false when
// the path exists but not with that method (HTTP 405).
func Match(method, path string) (r Route, params map[string]string, pathFound, ok bool) {
	return MatchIn(All, method, path)
}

// MatchIn is Match over table (All or Router).
func MatchIn(table []Route, method, path string) (r Route, params map[string]string, pathFound, ok bool) {
	segs := split(path)
	for _, cand := range table {
		p, hit := matchPath(split(cand.Path), segs)
		if !hit {
			continue
		}
		pathFound = true
		if cand.Method == method {
			return cand, p, true, true
		}
	}
	return Route{}, nil, pathFound, false
}

func split(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func matchPath(tmpl, segs []string) (map[string]string, bool) {
	if len(tmpl) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[t[1:len(t)-1]] = segs[i]
			continue
		}
		if t != segs[i] {
			return nil, false
		}
	}
	return params, true
}
