package cellrouter

import (
	"net/http"

	"github.com/tessera-saas/tessera/internal/control/operatorapi"
	"github.com/tessera-saas/tessera/internal/platform/apidoc"
	"github.com/tessera-saas/tessera/internal/platform/edge"
)

// Contract is what the router API reads and answers, for its OpenAPI
// document (internal/wire/openapi, api/router.openapi.json). The forwarded
// routes answer what the operator API answers (its contract), and what the
// router adds: a tenant it has no placement for is 404, a cell that does not
// answer is 502 cell_unavailable.
func Contract() apidoc.Contract {
	c := operatorapi.Contract()
	unavailable := apidoc.Fail(http.StatusBadGateway, edge.CodeCellUnavailable)
	for name, op := range c.Operations {
		op.Errors = apidoc.Join(op.Errors, []apidoc.Failure{unavailable})
		switch name {
		case "CreateTenant":
			op.Description = "Places the tenant in an open cell with room (recorded in the router's directory), then asks that cell to onboard it: " +
				"the cell's answer comes back as it is. A cell that refuses the create gives the placement back; one that does not answer keeps it, " +
				"so a retry with the same Idempotency-Key reaches the same cell with the same tenant id."
			op.Errors = apidoc.Join(op.Errors, []apidoc.Failure{apidoc.Fail(http.StatusServiceUnavailable, edge.CodeCellsFull)})
		case "ListTenants":
			op.Summary = "List the tenants of one cell"
			op.Params = append([]apidoc.Param{{In: "query", Name: "cell", Required: true,
				Description: "the cell to list (GET /v1/cells lists the cells)", Schema: &apidoc.Schema{Type: apidoc.Types{"string"}, Pattern: "^c[1-9][0-9]{0,2}$"}}},
				op.Params...)
			op.Errors = apidoc.Join(op.Errors, []apidoc.Failure{apidoc.Fail(http.StatusBadRequest, edge.CodeCellRequired, edge.CodeValidation)})
		case "ListFlags", "PutFlag":
			op.Summary += " (of one cell)"
			op.Params = append([]apidoc.Param{{In: "query", Name: "cell", Required: true,
				Description: "the cell whose flags these are (GET /v1/cells lists the cells)", Schema: &apidoc.Schema{Type: apidoc.Types{"string"}, Pattern: "^c[1-9][0-9]{0,2}$"}}},
				op.Params...)
			op.Errors = apidoc.Join(op.Errors, []apidoc.Failure{apidoc.Fail(http.StatusBadRequest, edge.CodeCellRequired, edge.CodeValidation)})
		}
		c.Operations[name] = op
	}
	c.Operations["ListCells"] = apidoc.Operation{Summary: "List the cells, with their tenant counts",
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "every cell of the stage", Body: cellList{}}}}
	c.Operations["GetPlacement"] = apidoc.Operation{Summary: "The caller's cell, and the API that serves its tenant",
		Errors:    []apidoc.Failure{apidoc.Fail(http.StatusNotFound, edge.CodeNotFound)},
		Responses: []apidoc.Response{{Status: http.StatusOK, Description: "the caller's tenant's cell", Body: PlacementView{}}}}
	apidoc.Name[CellView](c.Names, "Cell")
	apidoc.Name[cellList](c.Names, "CellList")
	apidoc.Name[PlacementView](c.Names, "Placement")
	return c
}

// cellList is the body of GET /v1/cells.
type cellList struct {
	Items []CellView `json:"items"`
}
