"""Generate the Python stubs of proto/ into the client package, and the service config.

The one source of truth is proto/; the generated code lives in
clients/python/sessiond_client/_proto/ and is committed, as is
clients/service_config.json, the gRPC service config that retries the methods the
proto marks safe to repeat (NO_SIDE_EFFECTS or IDEMPOTENT). ``--check`` regenerates
both into a temporary folder and fails if the committed ones differ (CI runs it).

protoc writes imports such as ``from sessiond.v1 import resources_pb2``, which
would clash with the server package ``sessiond``; they are rewritten to point
into ``sessiond_client._proto``.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.util
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUT = ROOT / "clients" / "python" / "sessiond_client" / "_proto"
SERVICE_CONFIG = ROOT / "clients" / "service_config.json"
IMPORT_RE = re.compile(r"^from sessiond\.v1 import", re.MULTILINE)


def protos() -> list[str]:
    return sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))


def protoc_main(*args: str) -> None:
    """Run protoc on every file of proto/ with ``args``. Imports resolve in proto/, then
    the well-known types grpcio-tools ships, then google/api/*.proto of
    googleapis-common-protos (a dependency of the client)."""
    well_known = Path(protoc.__file__).parent / "_proto"
    spec = importlib.util.find_spec("google.api.field_behavior_pb2")
    if spec is None or spec.origin is None:
        raise SystemExit("googleapis-common-protos is not installed (it ships google/api/*.proto)")
    google_api = Path(spec.origin).parents[2]  # the folder holding google/api/
    if protoc.main(["protoc", f"-I{PROTO_ROOT}", f"-I{well_known}", f"-I{google_api}", *args, *protos()]) != 0:
        raise SystemExit("protoc failed")


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    protoc_main(
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
    )
    for path in out.rglob("*.py*"):
        text = path.read_text()
        path.write_text(IMPORT_RE.sub("from sessiond_client._proto.sessiond.v1 import", text))
    for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()


def service_config_text(scratch: Path) -> str:
    """clients/service_config.json as proto/ makes it: compiled to descriptors here, then
    turned into a config by the client's own code (for its default RetryPolicy)."""
    # Imported here, not at the top: importing the client loads the committed stubs,
    # which must be the fresh ones when this runs right after generating them.
    from sessiond_client._methods import methods_of
    from sessiond_client._retry import RetryPolicy
    from sessiond_client._service_config import service_config

    descriptors = scratch / "descriptors.binpb"
    protoc_main(f"--descriptor_set_out={descriptors}", "--include_imports")
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(descriptors.read_bytes()).file:
        pool.AddSerializedFile(file.SerializeToString())
    services = [s for name in protos() for s in pool.FindFileByName(name).services_by_name.values()]
    config = service_config(methods_of(services).values(), RetryPolicy())
    return json.dumps(config, indent=2) + "\n"


def differences(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    out = [f"only in {cmp.left}: {n}" for n in cmp.left_only]
    out += [f"only in {cmp.right}: {n}" for n in cmp.right_only]
    out += [f"differs: {Path(cmp.left) / n}" for n in cmp.diff_files]
    for sub in cmp.subdirs.values():
        out += differences(Path(sub.left), Path(sub.right))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed stubs are stale")
    args = parser.parse_args()
    if not args.check:
        shutil.rmtree(OUT, ignore_errors=True)
        generate(OUT)
        with tempfile.TemporaryDirectory() as tmp:
            SERVICE_CONFIG.write_text(service_config_text(Path(tmp)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "_proto"
        generate(fresh)
        diff = differences(OUT, fresh)
        if not SERVICE_CONFIG.exists() or SERVICE_CONFIG.read_text() != service_config_text(Path(tmp)):
            diff.append(f"differs: {SERVICE_CONFIG}")
    if diff:
        print("generated files differ from proto/; run: python scripts/gen_proto.py", file=sys.stderr)
        print("\n".join(diff), file=sys.stderr)
        return 1
    print("generated stubs and service config match proto/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
