#!/usr/bin/env bash
# Installs the pinned ghz (gRPC load generator) into $(go env GOPATH)/bin, normally $HOME/go/bin.
# Idempotent: does nothing when that binary is already the pinned version.
# Usage: bash tests/bench/install-ghz.sh        (prints the binary's path)
set -euo pipefail

GHZ_MODULE=github.com/bojand/ghz
# Newest v0.x release (2025-12-07). `go list -m -versions github.com/bojand/ghz` lists only
# v0.93.0 (the proxy's version list is incomplete), but `go list -m github.com/bojand/ghz@v0.121.0`
# resolves it, as it does v0.120.0; v0.121.1 and v0.122.0 do not exist.
GHZ_VERSION=v0.121.0

command -v go >/dev/null || { echo "install-ghz: go is not on PATH (the Go toolchain is needed)" >&2; exit 1; }
bin_dir="$(go env GOPATH)/bin"
ghz="$bin_dir/ghz"

installed_version() {
    # ghz built by `go install` prints "dev" for --version; the module version is in the build info.
    go version -m "$ghz" 2>/dev/null | awk -v mod="$GHZ_MODULE" '$1 == "mod" && $2 == mod { print $3 }'
}

if [[ -x "$ghz" && "$(installed_version)" == "$GHZ_VERSION" ]]; then
    echo "$ghz"
    exit 0
fi

go list -m "$GHZ_MODULE@$GHZ_VERSION" >/dev/null
go install "$GHZ_MODULE/cmd/ghz@$GHZ_VERSION"
[[ "$(installed_version)" == "$GHZ_VERSION" ]] || { echo "install-ghz: $ghz is not $GHZ_VERSION" >&2; exit 1; }
echo "$ghz"
