"""The Helm chart: lint, render, offline validation, schema, hardening, and the
container it starts.

Needs helm (PATH or ~/go/bin) and kubernetes-validate: `bash tests/helm/install-tools.sh`.
Without helm every test here fails with that instruction; none is skipped.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm import values_doc
from tests.helm.render import (
    CHART,
    CI_VALUES,
    INSTALL_HINT,
    HelmError,
    HelmNotFound,
    find,
    find_helm,
    image_entrypoint,
    manifests,
    notes,
    rendered_container,
    run_helm,
    template,
)

# Oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest
# kubernetes-validate knows: every rendered object must be valid for both.
KUBE_VERSIONS = ("1.27.0", "1.37.0")
# Kinds kubernetes-validate has no schema for (CRDs), each skipped on purpose.
NOT_VALIDATED = {("monitoring.coreos.com/v1", "ServiceMonitor")}

# Settings the chart wires although sessiond/config.py does not have them yet
# (planned). Drop a name here once OPTIONS has it.
PLANNED_ENV: set[str] = set()

REDIS_VALUES = CHART / "ci" / "redis-values.yaml"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
EXTERNAL_SECRETS = {
    # What the existingSecret of redis-values.yaml would hold.
    "sessiond-redis": {"redis-url": "redis://:s3cret@redis-master:6379/0"},
}

VALUE_SETS = [pytest.param([], id="defaults")] + [pytest.param([p], id=p.stem) for p in CI_VALUES]


@pytest.fixture(scope="session")
def helm() -> str:
    """Path of helm; the test fails (not skips) with how to install it."""
    try:
        return find_helm()
    except HelmNotFound as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def kubernetes_validate() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        pass
    else:
        return kubernetes_validate
    pytest.fail("kubernetes-validate is not installed. " + INSTALL_HINT, pytrace=False)


def _deployment(values: list[Path], **set_values: Any) -> dict[str, Any]:
    return find(manifests(values, set_values=set_values or None), "Deployment")


def _pod_spec(values: list[Path], **set_values: Any) -> dict[str, Any]:
    spec: dict[str, Any] = _deployment(values, **set_values)["spec"]["template"]["spec"]
    return spec


def _container(pod: dict[str, Any], name: str = "sessiond") -> dict[str, Any]:
    return next(c for c in pod["containers"] if c["name"] == name)


def _rejected(helm: str, **set_values: Any) -> str:
    """helm's error for values that must not render."""
    with pytest.raises(HelmError) as info:
        template(set_values=set_values)
    return info.value.stderr


# --- tools and lint ------------------------------------------------------------------


def test_ci_values_files_exist() -> None:
    assert {p.name for p in CI_VALUES} >= {"default-values.yaml", "redis-values.yaml", "production-values.yaml"}


def test_helm_is_the_pinned_version(helm: str) -> None:
    version = run_helm("version", "--template", "{{.Version}}")
    pinned = next(
        line.split("=", 1)[1].strip('"')
        for line in (Path(__file__).parent / "install-tools.sh").read_text().splitlines()
        if line.startswith("HELM_VERSION=")
    )
    assert version.startswith(pinned.rsplit(".", 1)[0]), f"helm {version}, install-tools.sh pins {pinned}"


@pytest.mark.parametrize("values", VALUE_SETS)
def test_lint_strict(helm: str, values: list[Path]) -> None:
    args = ["lint", "--strict", str(CHART)]
    for path in values:
        args += ["--values", str(path)]
    out = run_helm(*args)
    assert "0 chart(s) failed" in out


# --- render and validate ---------------------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS)
def test_renders_and_validates_offline(helm: str, kubernetes_validate: Any, values: list[Path]) -> None:
    objects = manifests(values)
    assert {o["kind"] for o in objects} >= {"Deployment", "Service", "ServiceAccount", "Pod"}
    skipped = []
    for obj in objects:
        ident = (obj["apiVersion"], obj["kind"])
        if ident in NOT_VALIDATED:
            skipped.append(ident)
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{obj['kind']} {obj['metadata']['name']} invalid for Kubernetes {version}: {exc}")
    # A skip is only for the kinds listed, and only when they are rendered.
    assert set(skipped) <= NOT_VALIDATED


def test_every_template_renders_in_some_ci_file(helm: str) -> None:
    kinds: set[str] = set()
    for path in CI_VALUES:
        kinds |= {o["kind"] for o in manifests([path])}
    assert kinds >= {
        "Deployment",
        "Service",
        "ServiceAccount",
        "Secret",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ServiceMonitor",
        "NetworkPolicy",
        "Pod",
    }


def test_names_are_cut_at_63(helm: str) -> None:
    long_release = "r" * 53  # helm's own limit on release names
    objects = manifests(release=long_release)
    for obj in objects:
        assert len(obj["metadata"]["name"]) <= 63, obj["metadata"]["name"]
        for label in obj["metadata"]["labels"].values():
            assert len(str(label)) <= 63


def test_selector_labels_are_name_and_instance_only(helm: str) -> None:
    deploy = _deployment([])
    assert deploy["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "sessiond",
        "app.kubernetes.io/instance": "sessiond",
    }
    service = find(manifests(), "Service")
    assert service["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]


def test_image_defaults_to_app_version_and_digest_wins(helm: str) -> None:
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert _container(_pod_spec([]))["image"] == f"sessiond:{app_version}"
    digest = "sha256:" + "a" * 64
    assert _container(_pod_spec([], **{"image.digest": digest}))["image"] == f"sessiond@{digest}"


# --- the schema refuses what it must -----------------------------------------------------


@pytest.mark.parametrize(
    ("set_values", "mentions"),
    [
        ({"store.type": "mongo"}, "/store/type"),
        ({"replicaCount": -1}, "/replicaCount"),
        ({"replicas": 3}, "replicas"),
        ({"store.redis.uri": "redis://x:6379"}, "uri"),
        ({"autoscaling.enable": True}, "enable"),
        ({"settings.maxSesions": 5}, "maxSesions"),
        ({"logFormat": "text"}, "/logFormat"),
        ({"tls.enabled": True}, "/tls/secretName"),
        ({"tls.clientAuth.enabled": True}, "/tls/enabled"),
        ({"auth.enabled": True}, "/auth/existingSecret"),
        ({"store.type": "redis"}, "/store/redis/url"),
        ({"store.type": "redis+neo4j", "store.redis.url": "redis://r:6379/0"}, "/store/neo4j/uri"),
        ({"store.redis.url": "http://r:6379"}, "/store/redis/url"),
        ({"replicaCount": 3}, "/replicaCount"),  # memory store: one pod
        ({"autoscaling.enabled": True}, "/autoscaling/enabled"),  # memory store: no HPA
        ({"securityContext.readOnlyRootFilesystem": False}, "/securityContext/readOnlyRootFilesystem"),
        ({"securityContext.allowPrivilegeEscalation": True}, "/securityContext/allowPrivilegeEscalation"),
        ({"securityContext.capabilities.drop": ["NET_RAW"]}, "/securityContext/capabilities/drop"),
        ({"podSecurityContext.runAsUser": 0}, "/podSecurityContext/runAsUser"),
        ({"ports.grpc": 70000}, "/ports/grpc"),
        ({"metrics.serviceMonitor.interval": "often"}, "/metrics/serviceMonitor/interval"),
        # The console's address comes from console.enabled and ports.console only.
        ({"settings.consoleListen": "0.0.0.0:8080"}, "consoleListen"),
        ({"ports.console": 0}, "/ports/console"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else None,
)
def test_schema_rejects(helm: str, set_values: dict[str, Any], mentions: str) -> None:
    error = _rejected(helm, **set_values)
    assert "values don't meet the specifications of the schema" in error, error
    assert mentions in error, f"error does not mention {mentions!r}:\n{error}"


@pytest.mark.parametrize(
    ("set_values", "message"),
    [
        ({"terminationGracePeriodSeconds": 12}, "terminationGracePeriodSeconds (12) must exceed"),
        ({"ports.metrics": 50051}, "ports must differ"),
        ({"console.enabled": True, "ports.console": 9464}, "ports must differ"),
        (
            {
                "store.type": "redis",
                "store.existingSecret": "r",
                "replicaCount": 2,
                "autoscaling.enabled": True,
                "autoscaling.minReplicas": 5,
                "autoscaling.maxReplicas": 3,
            },
            "autoscaling.minReplicas (5) must not exceed autoscaling.maxReplicas (3)",
        ),
    ],
    ids=["grace-too-short", "port-clash", "console-port-clash", "hpa-min-above-max"],
)
def test_template_checks_refuse(helm: str, set_values: dict[str, Any], message: str) -> None:
    error = _rejected(helm, **set_values)
    assert message in error, error


def test_existing_secret_skips_credential_checks(helm: str) -> None:
    objects = manifests(
        set_values={
            "store.type": "redis+neo4j",
            "store.existingSecret": "creds",
            "store.neo4j.uri": "bolt://neo4j:7687",
            "replicaCount": 2,
        }
    )
    assert not [o for o in objects if o["kind"] == "Secret"]


# --- hardening of the rendered Deployment ------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS)
def test_deployment_is_hardened(helm: str, values: list[Path]) -> None:
    source = yaml.safe_load((values[0] if values else CHART / "values.yaml").read_text()) or {}
    deploy = _deployment(values)
    pod = deploy["spec"]["template"]["spec"]
    c = _container(pod)

    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False  # no SESSIOND_PORT & co. from a Service named sessiond
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "add" not in sc["capabilities"]
    assert sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"])
    assert "resources" in c and c["resources"]["requests"]

    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert set(c[probe]) & {"grpc", "httpGet", "tcpSocket", "exec"} == {"grpc"}, probe
        assert isinstance(c[probe]["grpc"]["port"], int)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert {"grpc", "metrics"} <= set(ports)
    tls = (source.get("tls") or {}).get("enabled", False)
    assert c["readinessProbe"]["grpc"]["port"] == (ports["health"] if tls else ports["grpc"])

    strategy = deploy["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}

    env = {e["name"]: e for e in c["env"]}
    grace = float(env["SESSIOND_SHUTDOWN_GRACE"]["value"])
    sleep = c["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > math.ceil(grace) + int(sleep[1])
    assert env["SESSIOND_LOG_FORMAT"]["value"] == "json"

    keys = {
        (t["topologyKey"], json.dumps(t["labelSelector"]["matchLabels"], sort_keys=True))
        for t in pod["topologySpreadConstraints"]
    }
    selector = json.dumps(deploy["spec"]["selector"]["matchLabels"], sort_keys=True)
    assert keys == {("kubernetes.io/hostname", selector), ("topology.kubernetes.io/zone", selector)}


def test_no_replicas_when_autoscaling(helm: str) -> None:
    objects = manifests([PRODUCTION_VALUES])
    assert "replicas" not in find(objects, "Deployment")["spec"]
    hpa = find(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert find(manifests([REDIS_VALUES]), "Deployment")["spec"]["replicas"] == 3


def test_credentials_never_plain_env(helm: str) -> None:
    for values in ([REDIS_VALUES], [PRODUCTION_VALUES]):
        env = {e["name"]: e for e in _container(_pod_spec(values))["env"]}
        assert "secretKeyRef" in env["SESSIOND_REDIS_URL"]["valueFrom"]
        assert "value" not in env["SESSIOND_REDIS_URL"]
    env = {e["name"]: e for e in _container(_pod_spec([PRODUCTION_VALUES]))["env"]}
    assert "secretKeyRef" in env["SESSIOND_NEO4J_PASSWORD"]["valueFrom"]
    rendered = template([PRODUCTION_VALUES])
    assert "change-me-too" not in rendered  # only base64 in the Secret


def test_secret_only_when_needed(helm: str) -> None:
    assert not [o for o in manifests() if o["kind"] == "Secret"]
    assert not [o for o in manifests([REDIS_VALUES]) if o["kind"] == "Secret"]  # existingSecret
    secret = find(manifests([PRODUCTION_VALUES]), "Secret")
    assert set(secret["data"]) == {"redis-url", "neo4j-password"}


def test_tls_and_tokens_are_mounted_read_only(helm: str) -> None:
    pod = _pod_spec([PRODUCTION_VALUES])
    c = _container(pod)
    env = {e["name"]: e.get("value") for e in c["env"]}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for name, variable in (
        ("tls", "SESSIOND_TLS_CERT"),
        ("client-ca", "SESSIOND_TLS_CLIENT_CA"),
        ("auth-tokens", "SESSIOND_AUTH_TOKENS_FILE"),
    ):
        assert mounts[name]["readOnly"] is True
        assert "secret" in volumes[name]
        assert env[variable].startswith(mounts[name]["mountPath"] + "/")
    assert volumes["tls"]["secret"]["secretName"] == "sessiond-tls"
    assert volumes["auth-tokens"]["secret"]["secretName"] == "sessiond-tokens"


def test_service_ports_by_name(helm: str) -> None:
    service = find(manifests(), "Service")
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert ports["grpc"]["appProtocol"] == "grpc"
    assert ports["grpc"]["targetPort"] == "grpc"
    assert ports["metrics"]["targetPort"] == "metrics"


def _ingress_rule(objects: list[dict[str, Any]], port: str) -> dict[str, Any] | None:
    policy = find(objects, "NetworkPolicy")
    return next((r for r in policy["spec"]["ingress"] if r["ports"][0]["port"] == port), None)


def test_console_is_off_by_default(helm: str) -> None:
    """Off means off: the address is set empty, since sessiond's own default would
    listen on the pod's loopback; no port, no Service port, no NetworkPolicy rule."""
    objects = manifests(set_values={"networkPolicy.enabled": True})
    container = _container(find(objects, "Deployment")["spec"]["template"]["spec"])
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SESSIOND_CONSOLE_LISTEN"] == ""
    assert "console" not in {p["name"] for p in container["ports"]}
    assert "console" not in {p["name"] for p in find(objects, "Service")["spec"]["ports"]}
    assert _ingress_rule(objects, "console") is None


def test_console_enabled_is_served_to_the_service(helm: str) -> None:
    objects = manifests([PRODUCTION_VALUES], set_values={"ports.console": 8443, "service.consolePort": 443})
    container = _container(find(objects, "Deployment")["spec"]["template"]["spec"])
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SESSIOND_CONSOLE_LISTEN"] == "0.0.0.0:8443"
    assert {"name": "console", "containerPort": 8443, "protocol": "TCP"} in container["ports"]
    port = next(p for p in find(objects, "Service")["spec"]["ports"] if p["name"] == "console")
    assert (port["port"], port["targetPort"], port["appProtocol"]) == (443, "console", "https")
    # Without consoleFrom, the console admits the gRPC port's peers (allowExternal is false here).
    rule = _ingress_rule(objects, "console")
    assert rule is not None and rule["from"] == _ingress_rule(objects, "grpc")["from"]  # type: ignore[index]
    assert rule["from"][0]["podSelector"]["matchLabels"] == {"sessiond-client": "true"}


def test_console_peers_from_console_from(helm: str) -> None:
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}}}]
    objects = manifests(
        set_values={"console.enabled": True, "networkPolicy.enabled": True, "networkPolicy.consoleFrom": peers}
    )
    assert _ingress_rule(objects, "console") == {"ports": [{"port": "console", "protocol": "TCP"}], "from": peers}
    # allowExternal (the default) leaves the gRPC port open to any peer.
    assert "from" not in _ingress_rule(objects, "grpc")  # type: ignore[operator]


def test_helm_test_pod_checks_grpc_health_hardened(helm: str) -> None:
    for values in ([], [PRODUCTION_VALUES]):
        pod = next(o for o in manifests(values) if o["kind"] == "Pod")
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        assert pod["spec"]["automountServiceAccountToken"] is False
        c = pod["spec"]["containers"][0]
        assert c["image"].startswith("ghcr.io/grpc-ecosystem/grpc-health-probe:v")
        assert "-addr=sessiond:50051" in c["args"]
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"] and sc["runAsNonRoot"] is True
        # The Service/PDB/NetworkPolicy selector must not pick up the test pod.
        selector = find(manifests(values), "Deployment")["spec"]["selector"]["matchLabels"]
        assert not selector.items() <= pod["metadata"]["labels"].items()
    assert "-tls" in c["args"] and "-tls-client-cert=/etc/sessiond-test/tls/tls.crt" in c["args"]


def test_settings_render_as_env_without_exponents(helm: str) -> None:
    _, env = rendered_container([CHART / "ci" / "default-values.yaml"])
    assert env["SESSIOND_MAX_SESSIONS"] == "1000000"
    assert env["SESSIOND_WINDOW_SECONDS"] == "7.5"
    assert env["SESSIOND_EARLY_CLOSE"] == "false"
    assert env["SESSIOND_SNAPSHOT"].startswith("/var/lib/sessiond/")


def test_notes_show_grpcurl(helm: str) -> None:
    plain = notes()
    assert "port-forward service/sessiond 50051:50051" in plain
    assert "grpcurl -plaintext localhost:50051 list" in plain
    assert "grpcurl -plaintext localhost:50051 grpc.health.v1.Health/Check" in plain
    secured = notes(PRODUCTION_VALUES)
    assert "-cacert ca.crt" in secured and "-cert client.crt -key client.key" in secured
    assert '-H "authorization: Bearer $TOKEN"' in secured
    assert "port-forward service/sessiond 8080:8080" in secured and "https://localhost:8080/" in secured
    assert "console" not in plain.lower()


# --- values.yaml, schema and README agree ------------------------------------------------


def test_every_values_key_has_a_comment() -> None:
    _, missing = values_doc.key_comments()
    assert not missing, f"keys without a '# --' comment above them in values.yaml: {missing}"


def test_schema_is_strict_and_described() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"

    def walk(node: dict[str, Any], path: str) -> Iterator[str]:
        for name, sub in node.get("properties", {}).items():
            here = f"{path}.{name}" if path else name
            if "description" not in sub:
                yield f"{here}: no description"
            if "properties" in sub and sub.get("additionalProperties") is not False:
                yield f"{here}: object without additionalProperties: false"
            yield from walk(sub, here)

    assert schema["additionalProperties"] is False
    assert not list(walk(schema, ""))
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(schema["required"]) == set(values)


def test_readme_values_table_is_fresh() -> None:
    readme = values_doc.README.read_text()
    assert readme == values_doc.readme_with_table(readme), "run: python -m tests.helm.values_doc --write"


# --- the chart and sessiond agree on settings --------------------------------------------


def _chart_env_names(helm: str) -> set[str]:
    names: set[str] = set()
    for values in [[], *([p] for p in CI_VALUES)]:
        names |= {e["name"] for e in _container(_pod_spec(values))["env"]}
    schema = json.loads((CHART / "values.schema.json").read_text())
    for key in schema["properties"]["settings"]["properties"]:
        names.add("SESSIOND_" + "".join(f"_{ch}" if ch.isupper() else ch.upper() for ch in key))
    return names


def test_chart_sets_only_settings_sessiond_knows(helm: str) -> None:
    config = pytest.importorskip("sessiond.config")
    known = {opt.env for opt in config.OPTIONS}
    unknown = _chart_env_names(helm) - known - PLANNED_ENV
    assert not unknown, f"the chart sets variables sessiond does not read: {sorted(unknown)}"


def test_chart_can_set_every_sessiond_option(helm: str) -> None:
    config = pytest.importorskip("sessiond.config")
    missing = {opt.env for opt in config.OPTIONS} - _chart_env_names(helm)
    assert not missing, (
        f"sessiond/config.py has options the chart cannot set: {sorted(missing)}; "
        "add them to settings in helm/sessiond/values.schema.json (or wire them in deployment.yaml)"
    )


# --- rendered_container -------------------------------------------------------------------


def test_rendered_container_redis_with_chart_secret(helm: str) -> None:
    url = "redis://:pw@127.0.0.1:6379/0"
    argv, env = rendered_container([REDIS_VALUES], set_values={"store.existingSecret": "", "store.redis.url": url})
    assert argv == [*image_entrypoint(), "serve"] == ["sessiond", "serve"]  # tini stays in the image
    assert env["SESSIOND_STORE"] == "redis"
    assert env["SESSIOND_REDIS_URL"] == url  # resolved from the rendered Secret
    assert env["SESSIOND_LISTEN"] == "0.0.0.0:50051"


def test_rendered_container_redis_with_existing_secret(helm: str) -> None:
    with pytest.raises(LookupError, match="sessiond-redis"):
        rendered_container([REDIS_VALUES])
    _, env = rendered_container([REDIS_VALUES], secrets=EXTERNAL_SECRETS)
    assert env["SESSIOND_REDIS_URL"] == EXTERNAL_SECRETS["sessiond-redis"]["redis-url"]


@pytest.mark.parametrize("values", VALUE_SETS)
def test_sessiond_accepts_the_rendered_environment(helm: str, values: list[Path]) -> None:
    """sessiond's own option parser takes every value the chart sets."""
    config = pytest.importorskip("sessiond.config")
    secrets = {"sessiond-redis": EXTERNAL_SECRETS["sessiond-redis"]}
    argv, env = rendered_container(values, secrets=secrets)
    assert argv[1] == "serve"
    loaded = config.load(argv[2:], env)
    assert loaded.store == env["SESSIOND_STORE"]
    assert loaded.log_format == "json"
    assert loaded.listen == env["SESSIOND_LISTEN"]


def test_sessiond_entrypoint_is_installed() -> None:
    # The image's ENTRYPOINT is tini (PID 1) running the console script of pyproject.toml.
    assert image_entrypoint(with_init=True) == ["tini", "--", "sessiond"]
    assert image_entrypoint() == ["sessiond"]
    assert shutil.which("sessiond") or pytest.importorskip("sessiond.__main__")
