"""Which scope each gRPC method needs.

Reads (``Get*``, ``List*``, ``WatchSession``) need read, ``DeleteSession`` needs admin,
every other method of the sessiond.v1 protos needs write. Health and reflection need no
token. A method the table does not know needs admin: a new RPC stays closed until the
protos (and so this table) know it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterable

from sessiond.ops.tokens import Scope

PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
PACKAGE = "sessiond.v1"
_READ = re.compile(r"(Get|List)[A-Z]\w*|WatchSession")
_ADMIN = frozenset({"DeleteSession"})


def scope_of(rpc: str) -> Scope:
    """The scope the sessiond.v1 method named ``rpc`` (e.g. ``GetSession``) needs by the naming rules."""
    if rpc in _ADMIN:
        return Scope.ADMIN
    if _READ.fullmatch(rpc):
        return Scope.READ
    return Scope.WRITE


def sessiond_methods() -> list[str]:
    """Full names (``/sessiond.v1.SessionService/GetSession``) of every RPC the sessiond.v1
    protos define, found by importing each generated ``*_pb2`` module of the package."""
    package = importlib.import_module("sessiond_client._proto.sessiond.v1")
    methods: list[str] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            methods.extend(f"/{service.full_name}/{method.name}" for method in service.methods)
    return methods


class ScopeTable:
    """Method -> required scope.

    Args:
        methods: Full names of the methods the table knows; None for every method of
            the sessiond.v1 protos.
    """

    def __init__(self, methods: Iterable[str] | None = None) -> None:
        known = sessiond_methods() if methods is None else methods
        self._scopes = {m: scope_of(m.rpartition("/")[2]) for m in known if m.startswith(f"/{PACKAGE}.")}

    def required(self, method: str) -> Scope | None:
        """The scope ``method`` needs, None for a public one (health, reflection).

        Args:
            method: The full method name, e.g. ``/sessiond.v1.SessionService/GetSession``.
        """
        if method.startswith(PUBLIC_PREFIXES):
            return None
        return self._scopes.get(method, Scope.ADMIN)

    def items(self) -> list[tuple[str, Scope]]:
        """The known methods and their scopes, sorted by method."""
        return sorted(self._scopes.items())
