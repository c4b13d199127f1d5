"""Caller authentication: ``authorization: Bearer <token>`` checked against the tokens
file, and the method's scope against the caller's.

A refused call ends with UNAUTHENTICATED (no token, a malformed one, an unknown one) or
PERMISSION_DENIED (a known caller without the scope), and one log line that names the
caller when known and never the token. An accepted call runs with ``caller=<name>``
bound in structlog's context, so the logging interceptor's line says who called.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeAlias, cast

import grpc
import structlog

from sessiond.ops.scopes import ScopeTable
from sessiond.ops.tokens import SETTING, Caller, Scope, TokenRegistry, load_tokens

log = structlog.get_logger("sessiond.auth")

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic only in the type stubs
Unary: TypeAlias = Callable[..., Awaitable[Any]]
Streaming: TypeAlias = Callable[..., AsyncGenerator[Any, None]]
Metadata: TypeAlias = "tuple[tuple[str, str | bytes], ...] | None"

BEARER_HINT = "authorization: Bearer <token>"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call is refused."""

    code: grpc.StatusCode
    message: str
    caller: str = ""


def load_auth(path: str) -> AuthInterceptor | None:
    """The interceptor for the tokens file at ``path``; None (and a warning) when empty.

    Raises:
        OpsConfigError: The file is unreadable or invalid.
    """
    if not path:
        log.warning("authentication is off: any caller may call any method", hint=f"set {SETTING}")
        return None
    tokens = load_tokens(path)
    log.info("authentication on", path=path, callers=tokens.names)
    return AuthInterceptor(tokens)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without a token that grants the method's scope.

    Place it after the metrics interceptor (refusals are counted) and before the
    logging interceptor (whose line then carries the caller's name).

    Args:
        tokens: The known tokens.
        scopes: Method -> scope; None for the table of every sessiond.v1 method.
    """

    def __init__(self, tokens: TokenRegistry, scopes: ScopeTable | None = None) -> None:
        self._tokens = tokens
        self._scopes = scopes if scopes is not None else ScopeTable()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(details)
        if handler is None:
            return None  # no such method: nothing to guard; grpc answers UNIMPLEMENTED
        required = self._scopes.required(details.method)
        if required is None:
            return handler
        verdict = self.check(details.method, required, details.invocation_metadata)
        if isinstance(verdict, Refusal):
            return _rebuild(handler, _refuse_unary(details.method, verdict), _refuse_stream(details.method, verdict))
        return _rebuild(handler, _as_caller_unary(verdict.name), _as_caller_stream(verdict.name))

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


def _rebuild(handler: Handler, unary: Callable[[Unary], Unary], streaming: Callable[[Streaming], Streaming]) -> Handler:
    """``handler`` with its behaviour passed through ``unary`` or ``streaming``, whatever its kind."""
    codec: dict[str, Any] = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), **codec)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(streaming(cast(Streaming, handler.unary_stream)), **codec)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), **codec)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(streaming(cast(Streaming, handler.stream_stream)), **codec)
    raise TypeError(f"method handler without a behaviour: {handler!r}")


async def _abort(context: grpc.aio.ServicerContext[Any, Any], method: str, refusal: Refusal) -> NoReturn:
    log.warning(
        "rpc refused",
        method=method,
        status=refusal.code.name,
        reason=refusal.message,
        caller=refusal.caller or None,
        peer=context.peer(),
    )
    await context.abort(refusal.code, refusal.message)


def _refuse_unary(method: str, refusal: Refusal) -> Callable[[Unary], Unary]:
    def make(_behavior: Unary) -> Unary:
        async def refuse(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await _abort(context, method, refusal)

        return refuse

    return make


def _refuse_stream(method: str, refusal: Refusal) -> Callable[[Streaming], Streaming]:
    def make(_behavior: Streaming) -> Streaming:
        async def refuse(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncGenerator[Any, None]:
            await _abort(context, method, refusal)
            yield  # never reached; makes this an async generator, as a streaming handler must be

        return refuse

    return make


def _as_caller_unary(name: str) -> Callable[[Unary], Unary]:
    def make(behavior: Unary) -> Unary:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            structlog.contextvars.bind_contextvars(caller=name)
            try:
                return await behavior(request, context)
            finally:
                structlog.contextvars.unbind_contextvars("caller")

        return wrapped

    return make


def _as_caller_stream(name: str) -> Callable[[Streaming], Streaming]:
    def make(behavior: Streaming) -> Streaming:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncGenerator[Any, None]:
            # bind/unbind rather than reset tokens: a generator may be finalized in another context.
            structlog.contextvars.bind_contextvars(caller=name)
            try:
                async with contextlib.aclosing(behavior(request, context)) as items:
                    async for item in items:
                        yield item
            finally:
                structlog.contextvars.unbind_contextvars("caller")

        return wrapped

    return make
