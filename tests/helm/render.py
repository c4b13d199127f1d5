"""Render the Helm chart and read back what the sessiond pod would run.

``rendered_container(values_files)`` gives the argv and environment of the
sessiond container exactly as the chart renders them, with secretKeyRef
variables resolved from the rendered Secret, so a test can start sessiond the
way a pod would:

    argv, env = rendered_container(["helm/sessiond/ci/redis-values.yaml"],
                                   secrets={"sessiond-redis": {"redis-url": url}})
    subprocess.Popen(argv, env={**os.environ, **env})

helm is looked up on PATH, then in ~/go/bin (where tests/helm/install-tools.sh
puts it).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "sessiond"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
DOCKERFILE = REPO / "Dockerfile"
# Init programs an ENTRYPOINT may start the command under (``tini -- sessiond``).
INITS = ("tini", "/usr/bin/tini")
# The Kubernetes version charts are rendered for (the chart needs >= 1.27).
KUBE_VERSION = "1.31.0"
# One values file or several, in order (as `helm -f`).
ValuesFiles = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
INSTALL_HINT = (
    "helm is not on PATH nor at ~/go/bin/helm. Install the pinned tools with\n"
    "    bash tests/helm/install-tools.sh\n"
    "(builds helm v3.22.0 with `go install` into ~/go/bin and pip-installs kubernetes-validate)."
)


class HelmNotFound(RuntimeError):
    """helm is not installed where the tests look for it."""


class HelmError(RuntimeError):
    """helm exited non-zero; ``stderr`` holds its message."""

    def __init__(self, args: Sequence[str], stderr: str) -> None:
        super().__init__(f"{' '.join(args)} failed:\n{stderr}")
        self.stderr = stderr


def find_helm() -> str:
    """Path of the helm binary: PATH first, then ~/go/bin/helm."""
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    go_bin = Path.home() / "go" / "bin" / "helm"
    if go_bin.is_file() and os.access(go_bin, os.X_OK):
        return str(go_bin)
    raise HelmNotFound(INSTALL_HINT)


def run_helm(*args: str) -> str:
    """Run helm; its stdout, or HelmError with its stderr."""
    cmd = [find_helm(), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise HelmError(cmd, proc.stderr or proc.stdout)
    return proc.stdout


def _value_args(values_files: ValuesFiles, set_values: Mapping[str, Any] | None) -> list[str]:
    if isinstance(values_files, (str, os.PathLike)):
        values_files = [values_files]  # one file, not its characters
    args: list[str] = []
    for path in values_files:
        args += ["--values", str(path)]
    for key, value in (set_values or {}).items():
        # --set-json keeps types (a string stays a string, "" stays empty).
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return args


def template(
    values_files: ValuesFiles = (),
    *,
    set_values: Mapping[str, Any] | None = None,
    release: str = "sessiond",
    namespace: str = "default",
    extra_args: Sequence[str] = (),
) -> str:
    """``helm template`` of the chart: the rendered YAML stream."""
    return run_helm(
        "template",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
        *_value_args(values_files, set_values),
        *extra_args,
    )


def manifests(
    values_files: ValuesFiles = (),
    *,
    set_values: Mapping[str, Any] | None = None,
    release: str = "sessiond",
    namespace: str = "default",
) -> list[dict[str, Any]]:
    """The rendered objects (tests included), empty documents dropped."""
    text = template(values_files, set_values=set_values, release=release, namespace=namespace)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(objects: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The one object of ``kind`` (and ``name``); KeyError when there is not exactly one."""
    hits = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    if len(hits) != 1:
        raise KeyError(f"expected one {kind}{' ' + name if name else ''}, found {len(hits)}")
    return hits[0]


def notes(values_files: ValuesFiles = (), *, release: str = "sessiond", namespace: str = "default") -> str:
    """NOTES.txt as ``helm install`` would print it.

    ``helm template`` leaves NOTES.txt out and ``helm install --dry-run`` wants a
    cluster, so a copy of the chart renders it through ``tpl`` in a ConfigMap.
    """
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / CHART.name
        shutil.copytree(CHART, chart)
        shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes-under-test.txt")
        (chart / "templates" / "notes-under-test.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
            'data:\n  NOTES: {{ tpl (.Files.Get "notes-under-test.txt") . | toJson }}\n'
        )
        out = run_helm(
            "template",
            release,
            str(chart),
            "--namespace",
            namespace,
            "--kube-version",
            KUBE_VERSION,
            "--show-only",
            "templates/notes-under-test.yaml",
            *_value_args(values_files, None),
        )
    text: str = yaml.safe_load(out)["data"]["NOTES"]
    return text


def image_entrypoint(dockerfile: Path = DOCKERFILE, *, with_init: bool = False) -> list[str]:
    """The exec-form ENTRYPOINT of the Dockerfile's final stage.

    The image starts sessiond under an init (``tini --``), which only has a job as a
    container's PID 1; without ``with_init`` that prefix is left out, giving the
    command to run on this machine (``["sessiond"]``).
    """
    entrypoint: list[str] | None = None
    for line in dockerfile.read_text().splitlines():
        if re.match(r"^FROM\s", line, re.IGNORECASE):
            entrypoint = None  # a new stage starts with the base image's
        m = re.match(r"^ENTRYPOINT\s+(\[.*\])\s*$", line, re.IGNORECASE)
        if m:
            entrypoint = list(json.loads(m.group(1)))
    if not entrypoint:
        raise ValueError(f"{dockerfile} has no exec-form ENTRYPOINT in its final stage")
    if not with_init and entrypoint[0] in INITS and "--" in entrypoint:
        return entrypoint[entrypoint.index("--") + 1 :]
    return entrypoint


def _secret_data(secret: dict[str, Any]) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


def rendered_container(
    values_files: ValuesFiles = (),
    *,
    set_values: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
    release: str = "sessiond",
    namespace: str = "default",
) -> tuple[list[str], dict[str, str]]:
    """The sessiond container's argv and environment as the chart renders them.

    Args:
        values_files: a values file, or several in order (as ``helm -f``).
        set_values: extra values by dotted key (as ``helm --set-json``).
        secrets: contents of Secrets the chart does not render (``existingSecret``),
            as ``{secret_name: {key: value}}``.
        release: release name.
        namespace: release namespace.

    Returns:
        ``(argv, env)``: argv is the image ENTRYPOINT (or the container's
        ``command``) followed by its ``args``, e.g. ``["sessiond", "serve"]``; env
        maps every variable to its value, secretKeyRef variables resolved from the
        rendered Secret or from ``secrets``.

    Raises:
        LookupError: a secretKeyRef names a Secret or key that is neither rendered
            nor in ``secrets`` (and is not optional).
    """
    objects = manifests(values_files, set_values=set_values, release=release, namespace=namespace)
    deployment = find(objects, "Deployment")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    container = next(c for c in containers if c["name"] == "sessiond")
    argv = [str(a) for a in (container.get("command") or image_entrypoint())]
    argv += [str(a) for a in container.get("args") or []]

    available: dict[str, dict[str, str]] = {
        o["metadata"]["name"]: _secret_data(o) for o in objects if o["kind"] == "Secret"
    }
    for name, data in (secrets or {}).items():
        available.setdefault(name, {}).update(data)

    env: dict[str, str] = {}
    for var in container.get("env") or []:
        name = var["name"]
        if "value" in var:
            env[name] = str(var["value"])
            continue
        source = var.get("valueFrom") or {}
        ref = source.get("secretKeyRef")
        if ref is None:
            raise NotImplementedError(f"env {name}: only value and secretKeyRef are supported, got {source}")
        value = available.get(ref["name"], {}).get(ref["key"])
        if value is None:
            if ref.get("optional"):
                continue
            raise LookupError(
                f"env {name}: Secret {ref['name']!r} key {ref['key']!r} is not rendered by the chart "
                f"(an existingSecret?); pass secrets={{{ref['name']!r}: {{{ref['key']!r}: ...}}}}"
            )
        env[name] = value
    return argv, env
