package ui_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/tapline/tapline/ui/uitest"
)

func metadataCtx(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
}

// newTLSServer serves the harness's handler over TLS.
func newTLSServer(t *testing.T, h *uitest.Harness) string {
	srv := httptest.NewTLSServer(h.HTTP.Config.Handler)
	t.Cleanup(srv.Close)
	return srv.URL
}
