"""Caller authentication: ``authorization: Bearer <token>`` checked against the tokens
file, and the method's scope against the caller's.

A refused call ends with UNAUTHENTICATED (no token, a malformed one, an unknown one) or
PERMISSION_DENIED (a known caller without the scope). The call interceptor
(sessiond/api/interceptor.py) asks `Authorizer.authorize` before it parses the request,
logs refusals (naming the caller when known, never the token) and puts the caller's name
on the call's log line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

import grpc
import structlog

from sessiond.api.interceptor import Refusal
from sessiond.ops.scopes import ScopeTable
from sessiond.ops.tokens import SETTING, Caller, Scope, TokenRegistry, load_tokens

log = structlog.get_logger("sessiond.auth")

Metadata: TypeAlias = "Iterable[tuple[str, str | bytes]] | None"

BEARER_HINT = "authorization: Bearer <token>"


def load_auth(path: str) -> Authorizer | None:
    """The authorizer for the tokens file at ``path``; None (and a warning) when empty.

    Raises:
        OpsConfigError: The file is unreadable or invalid.
    """
    if not path:
        log.warning("authentication is off: any caller may call any method", hint=f"set {SETTING}")
        return None
    tokens = load_tokens(path)
    log.info("authentication on", path=path, callers=tokens.names)
    return Authorizer(tokens)


class Authorizer:
    """Decides whether a call's token grants the method's scope.

    Args:
        tokens: The known tokens.
        scopes: Method -> scope; None for the table of every sessiond.v1 method.
    """

    def __init__(self, tokens: TokenRegistry, scopes: ScopeTable | None = None) -> None:
        self._tokens = tokens
        self._scopes = scopes if scopes is not None else ScopeTable()

    def authorize(self, method: str, metadata: Metadata) -> str | Refusal | None:
        """The caller's name, why the call is refused, or None for a public method.

        Args:
            method: The full method name.
            metadata: The call's invocation metadata.
        """
        required = self._scopes.required(method)
        if required is None:
            return None
        verdict = self.check(method, required, metadata)
        return verdict.name if isinstance(verdict, Caller) else verdict

    def check(self, method: str, required: Scope, metadata: Metadata) -> Caller | Refusal:
        """The caller that ``metadata`` authenticates, if it holds ``required``; else why not.

        Args:
            method: The full method name (for the message).
            required: The scope the method needs.
            metadata: The call's invocation metadata.
        """
        values = [value for key, value in metadata or () if key.lower() == "authorization"]
        if not values:
            return Refusal(grpc.StatusCode.UNAUTHENTICATED, f"missing bearer token: send metadata '{BEARER_HINT}'")
        token = _bearer(values[0]) if len(values) == 1 else None
        if token is None:
            return Refusal(grpc.StatusCode.UNAUTHENTICATED, f"malformed authorization; expected '{BEARER_HINT}'")
        caller = self._tokens.authenticate(token)
        if caller is None:
            return Refusal(grpc.StatusCode.UNAUTHENTICATED, "unknown bearer token")
        if not caller.allows(required):
            return Refusal(
                grpc.StatusCode.PERMISSION_DENIED,
                f"caller {caller.name!r} lacks the {required.label!r} scope that {method} needs",
                caller.name,
            )
        return caller


def _bearer(value: str | bytes) -> str | None:
    """The token of an ``authorization`` value ``Bearer <token>`` (scheme in any case), or None."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
