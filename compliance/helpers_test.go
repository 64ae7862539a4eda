package compliance_test

import "github.com/tapline/tapline/compliance/checks"

func compliancetestWaiver() checks.Waiver {
	return checks.Waiver{ID: "W-1", Check: "allowed_flows", Justification: "migration", Approver: "ciso"}
}
