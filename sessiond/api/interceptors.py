"""Server interceptors: one log line per call (method, session id, status, duration),
and a last line of defence that turns an unexpected exception into INTERNAL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias, cast

import grpc
import structlog

log = structlog.get_logger("sessiond.rpc")

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic only in the type stubs


def _session_id(request: Any) -> str:
    return str(getattr(request, "session_id", "") or "")


def _code_of(context: grpc.aio.ServicerContext[Any, Any], cancelled: bool) -> grpc.StatusCode:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    return grpc.StatusCode.CANCELLED if cancelled else grpc.StatusCode.OK


class LoggingInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(details)
        method = details.method
        if handler is None or method.startswith(("/grpc.health", "/grpc.reflection")):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, cast(Callable[..., AsyncIterator[Any]], handler.unary_stream)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _unary(self, method: str, behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            start, cancelled = time.perf_counter(), False
            try:
                return await behavior(request, context)
            except asyncio.CancelledError:
                cancelled = True
                raise
            except Exception as exc:
                await _internal(context, method, exc)
            finally:
                _log_call(method, request, _code_of(context, cancelled), start)

        return wrapped

    def _stream(self, method: str, behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            start, cancelled = time.perf_counter(), False
            try:
                async for item in behavior(request, context):
                    yield item
            except (asyncio.CancelledError, GeneratorExit):
                cancelled = True
                raise
            except Exception as exc:
                await _internal(context, method, exc)
            finally:
                _log_call(method, request, _code_of(context, cancelled), start)

        return wrapped


async def _internal(context: grpc.aio.ServicerContext[Any, Any], method: str, exc: Exception) -> None:
    """Re-raise an abort; log anything else as a bug and answer INTERNAL, not UNKNOWN."""
    if context.code() not in (None, grpc.StatusCode.OK):
        raise exc
    log.exception("unexpected error", method=method)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method}; the server log has details")


def _log_call(method: str, request: Any, code: grpc.StatusCode, start: float) -> None:
    level = "info" if code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED) else "warning"
    getattr(log, level)(
        "rpc",
        method=method,
        session_id=_session_id(request),
        status=code.name,
        duration_ms=round((time.perf_counter() - start) * 1000, 3),
    )
