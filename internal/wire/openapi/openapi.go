package openapi

import (
	"github.com/tessera-saas/tessera/internal/app/tenantapi"
	"github.com/tessera-saas/tessera/internal/control/cellrouter"
	"github.com/tessera-saas/tessera/internal/control/operatorapi"
	"github.com/tessera-saas/tessera/internal/platform/apidoc"
	"github.com/tessera-saas/tessera/internal/platform/route"
)

//go:generate go run ../../../cmd/tessera-openapi -o ../../../api/openapi.json
//go:generate go run ../../../cmd/tessera-openapi -router -o ../../../api/router.openapi.json

// Path is where the document is checked in, relative to the repository;
// RouterPath is the cell router API's.
const (
	Path       = "api/openapi.json"
	RouterPath = "api/router.openapi.json"
)

// Version is the API's version in the document's info.
const Version = "1"

const description = `Tessera's HTTP API: the tenant app (products, orders, users, exports) and the
operator's tenant management. Generated from the route table (internal/platform/route) and the
handlers' contracts (internal/app/tenantapi, internal/control/operatorapi); do not edit by hand:
run ` + "`make openapi`" + `.

Every error is {"error":{"code":"...","message":"..."}}; each response lists the codes it can carry.
Request bodies are decoded strictly: exact field names, each at most once, JSON types that fit,
required fields present and not null.`

// Document returns the document, as indented JSON.
func Document() ([]byte, error) {
	c, err := apidoc.Merge(tenantapi.Contract(), operatorapi.Contract())
	if err != nil {
		return nil, err
	}
	return apidoc.Build(apidoc.Spec{Title: "Tessera API", Version: Version, Description: description,
		Routes: route.All, Contract: c})
}

const routerDescription = `The cell router of a multi-cell Tessera stage: it places each new tenant in a
cell (an independent deployment in an account of its own), forwards the operator's tenant
management to the tenant's cell, and tells a signed-in user which cell's API serves their tenant.
Tenant users then call that cell's API (api/openapi.json) directly. Generated from the router's
route table (internal/platform/route.Router) and contract (internal/control/cellrouter); do not edit
by hand: run ` + "`make openapi`" + `.

Every error is {"error":{"code":"...","message":"..."}}; each response lists the codes it can carry.`

// RouterDocument returns the cell router API's document, as indented JSON.
func RouterDocument() ([]byte, error) {
	return apidoc.Build(apidoc.Spec{Title: "Tessera cell router API", Version: Version, Description: routerDescription,
		Routes: route.Router, Contract: cellrouter.Contract()})
}
