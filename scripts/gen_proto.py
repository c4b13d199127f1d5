"""Generate the Python stubs of proto/ into the client package.

The one source of truth is proto/; the generated code lives in
clients/python/sessiond_client/_proto/ and is committed. ``--check`` regenerates
into a temporary folder and fails if the committed code differs (CI runs it).

protoc writes imports such as ``from sessiond.v1 import resources_pb2``, which
would clash with the server package ``sessiond``; they are rewritten to point
into ``sessiond_client._proto``.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUT = ROOT / "clients" / "python" / "sessiond_client" / "_proto"
IMPORT_RE = re.compile(r"^from sessiond\.v1 import", re.MULTILINE)


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for path in out.rglob("*.py*"):
        text = path.read_text()
        path.write_text(IMPORT_RE.sub("from sessiond_client._proto.sessiond.v1 import", text))
    for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()


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
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "_proto"
        generate(fresh)
        diff = differences(OUT, fresh)
    if diff:
        print("generated stubs differ from proto/; run: python scripts/gen_proto.py", file=sys.stderr)
        print("\n".join(diff), file=sys.stderr)
        return 1
    print("generated stubs match proto/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
