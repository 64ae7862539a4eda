package query

// UpdateGolden is the -update flag, shared by the package's internal and
// external tests.
var UpdateGolden = update
