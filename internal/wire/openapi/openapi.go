package openapi

import (
	"github.com/tessera-saas/tessera/internal/app/tenantapi"
	"github.com/tessera-saas/tessera/internal/control/operatorapi"
	"github.com/tessera-saas/tessera/internal/platform/apidoc"
	"github.com/tessera-saas/tessera/internal/platform/route"
)

//go:generate go run ../../../cmd/tessera-openapi -o ../../../api/openapi.json

// Path is where the document is checked in, relative to the repository.
const Path = "api/openapi.json"

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
