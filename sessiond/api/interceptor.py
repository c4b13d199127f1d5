"""The one server interceptor: every call is admitted (drain), authenticated, parsed,
run, mapped to a status, counted, timed and logged, in that order.

Handlers are wrapped once per method and cached, never rebuilt per call. The wrapped
handler receives the request as raw bytes and parses it only after the caller is
authenticated, so a caller without a valid token gets UNAUTHENTICATED whatever it sent,
and bytes that do not parse get INVALID_ARGUMENT instead of grpc's UNKNOWN.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

import grpc
import structlog
from google.protobuf import descriptor_pool

from sessiond.api.status_codes import abort_with, refuse, status_of
from sessiond.core.errors import SessiondError

log = structlog.get_logger("sessiond.rpc")

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic only in the type stubs
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Metadata: TypeAlias = "Iterable[tuple[str, str | bytes]] | None"

UNKNOWN_METHOD = "unknown"  # the metrics label of names that are not methods: callers cannot grow the series
UNLOGGED_PREFIXES = ("/grpc.health.", "/grpc.reflection.")  # probes would drown the access log
DRAINING = "the server is shutting down; retry the call on another replica"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a caller may not call a method."""

    code: grpc.StatusCode
    message: str
    caller: str = ""


class Authenticator(Protocol):
    def authorize(self, method: str, metadata: Metadata) -> str | Refusal | None:
        """The caller's name, a refusal, or None for a method anyone may call."""
        ...


class CallObserver(Protocol):
    def observe_rpc(self, method: str, code: grpc.StatusCode, seconds: float | None) -> None: ...


class CallInterceptor(grpc.aio.ServerInterceptor):
    """Admits, authenticates, parses, maps errors, counts, times and logs every call.

    Args:
        observer: Counts each finished call by method and code (and times unary ones).
        auth: Checks the caller; None when authentication is off.
        stream_write_timeout: A streamed message the client has not taken in this many
            seconds (its flow-control window stays full) ends the stream UNAVAILABLE.
    """

    def __init__(
        self, observer: CallObserver, auth: Authenticator | None = None, *, stream_write_timeout: float = 30.0
    ) -> None:
        self._observer = observer
        self._auth = auth
        self._write_timeout = stream_write_timeout
        self._wrapped: dict[str, Handler] = {}
        self._draining = False
        self._in_flight = 0
        self._last_arrival = 0.0
        self._idle = asyncio.Event()
        self._idle.set()
        self._streams: set[asyncio.Task[Any]] = set()
        self._streams_ended = False

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        method = details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(details)
        if handler is None:
            # Not cached: an unknown name must not grow memory. grpc answers UNIMPLEMENTED.
            self._observer.observe_rpc(UNKNOWN_METHOD, grpc.StatusCode.UNIMPLEMENTED, None)
            return None
        wrapped = self._wrapped[method] = self._wrap(method, handler)
        return wrapped

    async def drain(self, grace: float, quiet: float = 0.1, settle: float = 1.0) -> None:
        """Refuse new calls with UNAVAILABLE; wait, at most ``grace`` seconds, for the
        calls already running to finish, then up to ``settle`` more seconds until no call
        has arrived for ``quiet`` seconds.

        Calls the transport had received but not yet dispatched are answered UNAVAILABLE
        here, before ``server.stop`` would cancel them: a caller can then tell a call
        that never ran (retry it elsewhere) from one that did.
        """
        self._draining = True
        start = time.monotonic()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()
        until = min(start + grace, time.monotonic() + settle)
        # Polled: the event awaited is an absence (no call for ``quiet`` seconds).
        while time.monotonic() - self._last_arrival < quiet and time.monotonic() < until:  # noqa: ASYNC110
            await asyncio.sleep(quiet)

    def end_streams(self) -> None:
        """End every stream still open UNAVAILABLE (after the drain: WatchSession streams
        end with the hub before it; grpc's health Watch would otherwise hold the server's
        stop for the whole grace)."""
        self._streams_ended = True
        for stream in self._streams:
            stream.cancel()

    # -- wrapping, once per method -----------------------------------------------------

    def _wrap(self, method: str, handler: Handler) -> Handler:
        parse = _parser(handler.request_deserializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, parse, handler.unary_unary),
                response_serializer=_passing_bytes(handler.response_serializer),
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(method, parse, handler.unary_stream),
                response_serializer=_passing_bytes(handler.response_serializer),
            )
        # Client and bidi streams: only reflection has them. They are public and parse
        # their own requests, so only counting applies.
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                self._counted_bidi(method, handler.stream_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _unary(
        self, method: str, parse: Callable[[bytes], Any], behavior: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        async def call(raw: bytes, context: Context) -> Any:
            start = time.perf_counter()
            code, request, caller = grpc.StatusCode.OK, None, ""
            runs = self._enter()
            try:
                caller = await self._admit(method, context)
                request = await _parsed(method, parse, raw, context)
                return await behavior(request, context)
            except BaseException as exc:
                code = _code_of(exc, context)
                await _answer(method, exc, context)
                raise
            finally:
                if runs:
                    self._leave()
                self._finish(method, code, request, caller, time.perf_counter() - start, unary=True)

        return call

    def _streaming(
        self, method: str, parse: Callable[[bytes], Any], behavior: Callable[..., Any]
    ) -> Callable[..., Awaitable[None]]:
        write_timeout = self._write_timeout

        async def call(raw: bytes, context: Context) -> None:
            start = time.perf_counter()
            code, request, caller = grpc.StatusCode.OK, None, ""
            stream = asyncio.current_task()
            assert stream is not None
            self._streams.add(stream)
            try:
                try:
                    caller = await self._admit(method, context)
                    request = await _parsed(method, parse, raw, context)
                    result = behavior(request, context)
                    if inspect.isasyncgen(result):
                        await _write_all(result, context, write_timeout)
                    else:
                        await result  # a handler that writes with context.write (grpc's health Watch)
                except asyncio.CancelledError:
                    if not self._streams_ended:
                        raise
                    stream.uncancel()
                    await refuse(context, "SERVER_DRAINING", DRAINING)
            except BaseException as exc:
                code = _code_of(exc, context)
                await _answer(method, exc, context)
                raise
            finally:
                self._streams.discard(stream)
                self._finish(method, code, request, caller, time.perf_counter() - start, unary=False)

        return call

    def _counted_bidi(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        observe = self._observer.observe_rpc

        async def call(requests: Any, context: Context) -> AsyncIterator[Any]:
            code = grpc.StatusCode.OK
            try:
                async with contextlib.aclosing(behavior(requests, context)) as items:
                    async for item in items:
                        yield item
            except BaseException as exc:
                code = _code_of(exc, context)
                raise
            finally:
                observe(method, code, None)

        return call

    # -- per call ----------------------------------------------------------------------

    async def _admit(self, method: str, context: Context) -> str:
        """The caller's name ("" when anonymous); aborts a call refused by drain or auth."""
        if self._draining:
            await refuse(context, "SERVER_DRAINING", DRAINING)
        if self._auth is None:
            return ""
        verdict = self._auth.authorize(method, context.invocation_metadata())
        if isinstance(verdict, Refusal):
            log.warning(
                "rpc refused",
                method=method,
                status=verdict.code.name,
                reason=verdict.message,
                caller=verdict.caller or None,
                peer=context.peer(),
            )
            await refuse(context, verdict.code.name, verdict.message)  # UNAUTHENTICATED or PERMISSION_DENIED
        return verdict or ""

    def _enter(self) -> bool:
        """Note a unary call's arrival; whether it runs (it arrived before the drain). Calls
        refused by the drain are not waited for: under steady load they never stop coming,
        and counting them held the drain for its whole grace."""
        self._last_arrival = time.monotonic()
        if self._draining:
            return False
        self._in_flight += 1
        self._idle.clear()
        return True

    def _leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    def _finish(
        self, method: str, code: grpc.StatusCode, request: Any, caller: str, seconds: float, *, unary: bool
    ) -> None:
        self._observer.observe_rpc(method, code, seconds if unary else None)
        if method.startswith(UNLOGGED_PREFIXES):
            return
        fields: dict[str, Any] = {
            "method": method,
            "session_id": getattr(request, "session_id", "") or "",
            "status": code.name,
            "duration_ms": round(seconds * 1000, 3),
        }
        if caller:
            fields["caller"] = caller
        if code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED):
            log.info("rpc", **fields)
        else:
            log.warning("rpc", **fields)


def _passing_bytes(serializer: Callable[[Any], bytes] | None) -> Callable[[Any], bytes] | None:
    """A serializer that sends bytes as they are: a message serialized once can answer
    many calls (see sessiond/api/serialized.py)."""
    if serializer is None:
        return None
    return lambda message: message if isinstance(message, bytes) else serializer(message)


def _parser(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
    if deserializer is None:
        return lambda raw: raw
    return deserializer


async def _parsed(method: str, parse: Callable[[bytes], Any], raw: bytes, context: Context) -> Any:
    try:
        return parse(raw)
    except Exception:
        # Corrupt bytes, invalid UTF-8 in a string field, or nesting beyond the decoder's limit.
        await refuse(
            context,
            "MALFORMED_REQUEST",
            f"the request is not a valid {_request_type(method)} message (corrupt bytes, invalid UTF-8 "
            "in a string, or values nested deeper than protobuf allows)",
        )


def _request_type(method: str) -> str:
    """``sessiond.v1.GetSessionRequest`` for ``/sessiond.v1.SessionService/GetSession``."""
    service, _, name = method.strip("/").partition("/")
    try:
        return str(descriptor_pool.Default().FindMethodByName(f"{service}.{name}").input_type.full_name)
    except KeyError:
        return "request"


async def _write_all(items: Any, context: Context, seconds: float) -> None:
    """Write every item of ``items``; a write the client does not take in ``seconds`` (its
    flow-control window stays full: a frozen or stalled reader) ends the stream UNAVAILABLE.

    The producer is closed first, so the watch frees its subscription at once; the status
    then waits behind the unsent messages until the client reads again or its connection dies.
    """
    async with contextlib.aclosing(items):
        async for item in items:
            try:
                async with asyncio.timeout(seconds):
                    await context.write(item)
            except TimeoutError:
                break
            del item  # an idle stream holds not its last message (a snapshot is kilobytes)
        else:
            return
    await refuse(
        context,
        "WATCH_STALLED",
        f"the client took no message for {seconds:g}s; reconnect and resume after the last event id it saw",
    )


def _code_of(exc: BaseException, context: Context) -> grpc.StatusCode:
    """The status a call that raised ``exc`` ends with (see `_answer`)."""
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return grpc.StatusCode.CANCELLED
    code = context.code()
    if isinstance(code, grpc.StatusCode) and code is not grpc.StatusCode.OK:
        return code  # aborted on purpose: the status is already sent
    if isinstance(exc, SessiondError):
        return status_of(exc)
    return grpc.StatusCode.INTERNAL


async def _answer(method: str, exc: BaseException, context: Context) -> None:
    """Answer a call that raised ``exc``: a domain error by the error table, anything
    unexpected as INTERNAL (logged as a bug). Both abort, which raises in place of ``exc``.
    A cancelled or already aborted call returns, and ``exc`` goes on."""
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return
    code = context.code()
    if isinstance(code, grpc.StatusCode) and code is not grpc.StatusCode.OK:
        return
    if isinstance(exc, SessiondError):
        await abort_with(context, exc)
    if isinstance(exc, Exception):
        log.error("unexpected error", method=method, exc_info=exc)
        await refuse(context, "INTERNAL", f"internal error in {method}; the server log has details")
