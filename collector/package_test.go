package collector

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/tapline/tapline/store/chdb/chdbtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The OpenCensus bridge and glog-style flushers some dependencies
		// start at init live for the whole process.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.Cleanup(func(int) { _ = chdbtest.RemoveDir() }),
	)
}
