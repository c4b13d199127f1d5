#!/usr/bin/env bash
# Installs Google's API linter (https://linter.aip.dev) at a pinned version, which
# .ci/run runs on proto/. Idempotent: a linter already there at the pinned version is
# left alone. Like tests/helm/install-tools.sh it builds from source with Go (no
# prebuilt binary download), into API_LINTER_BIN_DIR (default: $GOBIN, else $HOME/go/bin).
set -euo pipefail

API_LINTER_VERSION="v1.67.2"
API_LINTER_BIN_DIR="${API_LINTER_BIN_DIR:-${GOBIN:-$HOME/go/bin}}"
PYTHON="${PYTHON:-python}"

linter="$API_LINTER_BIN_DIR/api-linter"
if [[ -x "$linter" ]] && [[ "$("$linter" --version 2>/dev/null || true)" == "api-linter ${API_LINTER_VERSION#v}" ]]; then
    echo "api-linter $API_LINTER_VERSION already at $linter"
    exit 0
fi
command -v go >/dev/null || { echo "error: go is needed to build api-linter" >&2; exit 1; }
echo "building api-linter $API_LINTER_VERSION into $API_LINTER_BIN_DIR"
mkdir -p "$API_LINTER_BIN_DIR"
# Not `go install ...@version`: that also asks the module proxy for the module's
# version list (to look for a deprecation notice), which proxy.golang.org refuses
# for this module. Building the downloaded module itself uses its own go.sum, so
# the dependencies are exactly the ones `go install` would pick.
module_dir=$(go mod download -json "github.com/googleapis/api-linter@$API_LINTER_VERSION" \
    | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
(cd "$module_dir" && CGO_ENABLED=0 go build -trimpath -o "$linter" ./cmd/api-linter)
echo "api-linter: $linter ($("$linter" --version))"
