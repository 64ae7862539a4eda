#!/usr/bin/env bash
# Regenerates the protobuf, gRPC, grpc-gateway and OpenAPI code of the query
# API (api/tapline/v1) from its .proto files.
#
#   scripts/generate.sh          regenerate in place
#   scripts/generate.sh --check  regenerate into a temporary directory and fail
#                                if the committed files differ (stale code)
#
# Tools: protoc from Debian's protobuf-compiler; the plugins are installed with
# `go install` from the Go module proxy at the versions pinned below, into a
# cache directory (TAPLINE_TOOLS_DIR). The google/api and openapiv2 option
# protos are vendored into api/third_party from the grpc-gateway modules.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12      # google.golang.org/protobuf (matches go.mod)
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2   # google.golang.org/grpc/cmd/protoc-gen-go-grpc
GRPC_GATEWAY_VERSION=v2.33.0        # github.com/grpc-ecosystem/grpc-gateway/v2 (matches go.mod)
# grpc-gateway v1 carries google/api/{annotations,http}.proto in third_party.
GOOGLEAPIS_CARRIER=github.com/grpc-ecosystem/grpc-gateway@v1.16.0
PROTOC_VERSION="libprotoc 3.21.12"  # Debian bookworm's protobuf-compiler

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

check=false
case "${1:-}" in
--check) check=true ;;
"") ;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

command -v protoc >/dev/null || {
	echo "generate: protoc not found; install Debian's protobuf-compiler" >&2
	exit 1
}
if [[ "$(protoc --version)" != "$PROTOC_VERSION" ]]; then
	echo "generate: warning: $(protoc --version) differs from $PROTOC_VERSION; the check ignores the version comment" >&2
fi

tools="${TAPLINE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tapline/tools}/protoc-plugins-${PROTOC_GEN_GO_VERSION}-${PROTOC_GEN_GO_GRPC_VERSION}-${GRPC_GATEWAY_VERSION}"
if [[ ! -x "$tools/protoc-gen-openapiv2" ]]; then
	mkdir -p "$tools"
	GOBIN="$tools" GOFLAGS=-mod=mod go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
	GOBIN="$tools" GOFLAGS=-mod=mod go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${PROTOC_GEN_GO_GRPC_VERSION}"
	GOBIN="$tools" GOFLAGS=-mod=mod go install "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@${GRPC_GATEWAY_VERSION}"
	GOBIN="$tools" GOFLAGS=-mod=mod go install "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@${GRPC_GATEWAY_VERSION}"
fi

# moddir prints a module's directory in the module cache, downloading it from
# the module proxy when needed.
moddir() {
	(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

out="$root/api"
if $check; then
	out="$(mktemp -d)"
	trap 'rm -rf "$out"' EXIT
	mkdir -p "$out/tapline/v1"
	cp api/tapline/v1/*.proto "$out/tapline/v1/"
fi

# Vendor the option protos the API imports.
gw_v1="$(moddir "$GOOGLEAPIS_CARRIER")"
gw_v2="$(moddir "github.com/grpc-ecosystem/grpc-gateway/v2@${GRPC_GATEWAY_VERSION}")"
third="$out/third_party"
mkdir -p "$third/google/api" "$third/protoc-gen-openapiv2/options"
for f in annotations.proto http.proto; do
	install -m 0644 "$gw_v1/third_party/googleapis/google/api/$f" "$third/google/api/$f"
done
install -m 0644 "$gw_v1/third_party/googleapis/LICENSE" "$third/google/api/LICENSE"
for f in annotations.proto openapiv2.proto; do
	install -m 0644 "$gw_v2/protoc-gen-openapiv2/options/$f" "$third/protoc-gen-openapiv2/options/$f"
done
install -m 0644 "$gw_v2/LICENSE" "$third/protoc-gen-openapiv2/LICENSE"

rm -f "$out"/tapline/v1/*.pb.go "$out"/tapline/v1/*.pb.gw.go "$out"/tapline/v1/openapi.swagger.json
(
	cd "$out"
	PATH="$tools:$PATH" protoc \
		-I . -I third_party -I /usr/include \
		--go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative \
		--grpc-gateway_out=. --grpc-gateway_opt=paths=source_relative \
		--openapiv2_out=. --openapiv2_opt=allow_merge=true,merge_file_name=tapline/v1/openapi \
		tapline/v1/*.proto
)

if $check; then
	# The protoc version comment is the only part allowed to differ.
	strip() { grep -Ev '^// (	|- )protoc +v' "$1" || true; }
	status=0
	for f in "$out"/tapline/v1/*.pb.go "$out"/tapline/v1/*.pb.gw.go "$out"/tapline/v1/openapi.swagger.json \
		"$out"/third_party/google/api/* "$out"/third_party/protoc-gen-openapiv2/options/* "$out"/third_party/protoc-gen-openapiv2/LICENSE; do
		rel="${f#"$out"/}"
		if ! diff -q <(strip "$f") <(strip "api/$rel") >/dev/null 2>&1; then
			echo "generate: api/$rel is stale; run scripts/generate.sh (make generate)" >&2
			status=1
		fi
	done
	for f in api/tapline/v1/*.pb.go api/tapline/v1/*.pb.gw.go; do
		[[ -e "$out/${f#api/}" ]] || {
			echo "generate: $f is not generated from any .proto; remove it" >&2
			status=1
		}
	done
	exit $status
fi
echo "generate: api/tapline/v1 regenerated"
