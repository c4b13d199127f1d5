#!/usr/bin/env bash
# Installs the pinned tools the Helm chart tests need. Idempotent: a tool that is
# already there at the pinned version is left alone.
#
#   helm                 built from source with `go install` (no prebuilt binary download)
#   kubernetes-validate  offline JSON-schema validation of rendered manifests
#
# HELM_BIN_DIR (default: $GOBIN, else $HOME/go/bin) is where helm lands; tests/helm/test_chart.py
# looks on PATH first, then there.
set -euo pipefail

HELM_VERSION="v3.22.0"
KUBERNETES_VALIDATE_VERSION="1.37.0"
HELM_BIN_DIR="${HELM_BIN_DIR:-${GOBIN:-$HOME/go/bin}}"
PYTHON="${PYTHON:-python}"

helm_bin="$HELM_BIN_DIR/helm"
# Already built at this version, with the flags below? (`go version -m` reads them.)
helm_ok=false
if [[ -x "$helm_bin" ]] && command -v go >/dev/null; then
    build_info=$(go version -m "$helm_bin" 2>/dev/null || true)
    if [[ "$("$helm_bin" version --template '{{.Version}}' 2>/dev/null || true)" == "$HELM_VERSION" ]] \
        && grep -Eq "^\s+mod\s+helm\.sh/helm/v3\s+$HELM_VERSION(\s|$)" <<<"$build_info" \
        && grep -q "chartutil\.k8sVersionMinor=" <<<"$build_info"; then
        helm_ok=true
    fi
fi
if $helm_ok; then
    echo "helm $HELM_VERSION already at $helm_bin"
else
    command -v go >/dev/null || { echo "error: go is needed to build helm" >&2; exit 1; }
    echo "building helm $HELM_VERSION into $HELM_BIN_DIR (a few minutes on 2 cores)"
    mkdir -p "$HELM_BIN_DIR"
    start=$SECONDS
    # The same -X flags as helm's Makefile: the version `helm version` prints, and the
    # Kubernetes version `helm template`/`lint` assume (that of the client-go helm was
    # built with; without it helm assumes v1.20).
    gomod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["GoMod"])')
    k8s_minor=$(sed -nE 's|^\s*k8s\.io/client-go v0\.([0-9]+)\..*|\1|p' "$gomod")
    [[ -n "$k8s_minor" ]] || { echo "error: no k8s.io/client-go in $gomod" >&2; exit 1; }
    ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
    for pkg in pkg/chartutil pkg/lint/rules; do
        ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
    done
    GOBIN="$HELM_BIN_DIR" CGO_ENABLED=0 go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    echo "helm built in $((SECONDS - start)) s"
fi
echo "helm: $helm_bin ($("$helm_bin" version --short))"

kv_version=$("$PYTHON" -m pip show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p' || true)
if [[ "$kv_version" == "$KUBERNETES_VALIDATE_VERSION" ]]; then
    echo "kubernetes-validate $KUBERNETES_VALIDATE_VERSION already installed"
else
    "$PYTHON" -m pip install --quiet --root-user-action=ignore "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
echo "kubernetes-validate: $("$PYTHON" -m pip show kubernetes-validate | sed -n 's/^Version: //p')"
echo "helm is at $helm_bin; add $HELM_BIN_DIR to PATH, or let tests/helm find it there"
