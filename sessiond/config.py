"""Settings from command-line flags, each with a SESSIOND_* environment variable.

Config's fields are the one list of settings: each gives its type, default, help and
bounds, and OPTIONS (flag, variable, parser) is derived from them. The CLI, the README's
configuration table and the Helm chart follow it. The per-session defaults are bounded
as CreateSession bounds the settings they fill (core/limits.py), so a setting the API
would refuse stops the start instead of failing every call.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sessiond.core.lifecycle import Defaults
from sessiond.core.limits import Limits
from sessiond.core.tiers import TierRules
from sessiond.manager.manager_config import ManagerConfig

STORES = ("memory", "redis", "redis+neo4j")
LOG_FORMATS = ("auto", "json", "console")


_LIMITS = Limits()  # the bounds the API enforces on per-session settings


@dataclass(frozen=True, slots=True)
class Bounds:
    """Inclusive bounds of a number setting; ``positive`` excludes 0 itself."""

    low: float | None = None
    high: float | None = None
    positive: bool = False

    def admits(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.positive and not value > 0:
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def __str__(self) -> str:
        if self.positive:
            return "> 0" if self.high is None else f"> 0 and <= {_number(self.high)}"
        if self.high is None:
            return f">= {_number(self.low)}"
        return f"{_number(self.low)}-{_number(self.high)}"


def _number(value: float | None) -> str:
    """``value`` written out in full (2592000, not 2.592e+06)."""
    assert value is not None
    return str(int(value)) if float(value).is_integer() else repr(value)


AT_LEAST_1 = Bounds(low=1)
NOT_NEGATIVE = Bounds(low=0)
POSITIVE = Bounds(positive=True)


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: a field of Config, a flag --name-with-dashes and a variable SESSIOND_NAME."""

    name: str
    type: Callable[[str], Any]
    default: Any
    help: str
    choices: Sequence[str] | None = None
    bounds: Bounds | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "SESSIOND_" + self.name.upper()

    @property
    def allowed(self) -> str:
        """The values it takes, for --help and the README: choices or bounds; empty if any."""
        if self.choices:
            return ", ".join(self.choices)
        if self.type is _bool:
            return "true, false"
        return str(self.bounds) if self.bounds else ""

    def check(self, value: Any) -> str | None:
        """Why ``value`` is refused (naming the flag, the variable and the bounds), or None."""
        if self.bounds is None or self.bounds.admits(value):
            return None
        return f"{self.flag} ({self.env}) is {value!r}; it must be {self.bounds}"


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def setting(default: Any, help: str, *, choices: Sequence[str] | None = None, bounds: Bounds | None = None) -> Any:
    """A field of Config that is also a command-line flag and an environment variable."""
    return field(default=default, metadata={"help": help, "choices": choices, "bounds": bounds})


_PARSERS: dict[str, Callable[[str], Any]] = {"str": str, "int": int, "float": float, "bool": _bool}


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting, in the order of --help and the README's table (the one list of them)."""

    listen: str = setting("0.0.0.0:50051", "gRPC listen address HOST:PORT (port 0 picks a free one)")
    metrics_listen: str = setting("0.0.0.0:9464", "Prometheus /metrics listen address HOST:PORT; empty turns it off")
    health_listen: str = setting("", "plaintext listener serving only grpc.health.v1.Health (for probes under TLS)")
    console_listen: str = setting("127.0.0.1:8080", "operator console (browser) listen address HOST:PORT; empty: off")
    tls_cert: str = setting("", "TLS on the gRPC port: PEM certificate chain file (needs --tls-key)")
    tls_key: str = setting("", "TLS: PEM private key file of --tls-cert (not encrypted)")
    tls_client_ca: str = setting("", "TLS: PEM file of CAs; clients must then present a certificate they signed")
    auth_tokens_file: str = setting(
        "", "JSON file of bearer tokens and scopes (not readable by others); empty turns authentication off"
    )
    store: str = setting("memory", "storage backend", choices=STORES)
    snapshot: str = setting(
        "", "memory store: snapshot file (0600) read at start and written periodically and on shutdown"
    )
    snapshot_interval: float = setting(30.0, "memory store: seconds between periodic snapshots", bounds=POSITIVE)
    redis_url: str = setting("redis://127.0.0.1:6379/0", "redis store: redis:// or rediss:// URL, user:pass@ for ACL")
    redis_cluster: bool = setting(False, "redis store: the URL names a node of a Redis Cluster")
    redis_key_prefix: str = setting("sessiond", "redis store: prefix of every key (no braces)")
    neo4j_uri: str = setting("bolt://127.0.0.1:7687", "redis+neo4j store: bolt://, neo4j:// or neo4j+s:// URI")
    neo4j_user: str = setting("neo4j", "redis+neo4j store: user")
    neo4j_password: str = setting("", "redis+neo4j store: password")
    neo4j_database: str = setting("neo4j", "redis+neo4j store: database name")
    max_sessions: int = setting(
        10_000, "sessions held at once; CreateSession answers RESOURCE_EXHAUSTED beyond", bounds=AT_LEAST_1
    )
    # The per-session defaults take the bounds CreateSession enforces on the settings they fill.
    session_ttl: float = setting(
        4 * 3600.0,
        "default idle TTL of a session, seconds",
        bounds=Bounds(_LIMITS.min_idle_ttl_seconds, _LIMITS.max_idle_ttl_seconds),
    )
    expired_retention: float = setting(
        3600.0, "seconds an EXPIRED (or idle ENDED) session stays readable", bounds=NOT_NEGATIVE
    )
    window_seconds: float = setting(
        10.0,
        "default choice window length, seconds",
        bounds=Bounds(_LIMITS.min_window_seconds, _LIMITS.max_window_seconds),
    )
    early_close: bool = setting(True, "default: close a window once every non-DORMANT player chose")
    max_players: int = setting(100, "default roster limit of a session", bounds=Bounds(1, _LIMITS.max_players_cap))
    presence_grace: float = setting(
        30.0,
        "default seconds a player stays AWAY after their last watch stream before they are OFFLINE",
        bounds=Bounds(_LIMITS.min_presence_grace_seconds, _LIMITS.max_presence_grace_seconds),
    )
    presence_lease: float = setting(
        10.0,
        "seconds a replica's presence leases outlive its last renewal (renewed every third of it): "
        "how soon the players of a replica that died show AWAY",
        bounds=Bounds(0.3, 300.0),
    )
    history_turns: int = setting(50, "resolved turns kept in the hot history of a session", bounds=AT_LEAST_1)
    event_retention: int = setting(1000, "events kept per session for watchers to resume from", bounds=AT_LEAST_1)
    active_turns: int = setting(2, "tier ACTIVE: acted within this many turns...", bounds=NOT_NEGATIVE)
    active_seconds: float = setting(900.0, "...or within this many seconds", bounds=NOT_NEGATIVE)
    idle_turns: int = setting(5, "tier IDLE: acted within this many turns...", bounds=NOT_NEGATIVE)
    idle_seconds: float = setting(3600.0, "...or within this many seconds; DORMANT otherwise", bounds=NOT_NEGATIVE)
    sweep_interval: float = setting(
        1.0, "seconds between sweeps for overdue windows and presence to settle", bounds=POSITIVE
    )
    janitor_interval: float = setting(30.0, "seconds between expiry passes", bounds=POSITIVE)
    shutdown_grace: float = setting(10.0, "seconds in-flight calls get to finish on SIGTERM", bounds=NOT_NEGATIVE)
    watch_queue_size: int = setting(
        1000, "events a watcher may lag before it is cut (UNAVAILABLE; it resumes)", bounds=AT_LEAST_1
    )
    watch_write_timeout: float = setting(
        30.0, "a watch whose client takes no message for this long ends UNAVAILABLE", bounds=POSITIVE
    )
    log_format: str = setting("auto", "log format (auto: JSON unless stderr is a terminal)", choices=LOG_FORMATS)
    log_level: str = setting("info", "log level", choices=("debug", "info", "warning", "error"))

    @property
    def snapshot_path(self) -> Path | None:
        return Path(self.snapshot) if self.snapshot else None

    def manager_config(self) -> ManagerConfig:
        return ManagerConfig(
            limits=_LIMITS,
            tiers=TierRules(self.active_turns, self.active_seconds, self.idle_turns, self.idle_seconds),
            defaults=Defaults(
                self.window_seconds, self.early_close, self.session_ttl, self.max_players, self.presence_grace
            ),
            max_sessions=self.max_sessions,
            sweep_interval=self.sweep_interval,
            janitor_interval=self.janitor_interval,
            expired_retention=self.expired_retention,
            watch_queue_size=self.watch_queue_size,
            history_turns=self.history_turns,
            presence_lease=self.presence_lease,
        )

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict for the start-up log line, secrets blanked."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["neo4j_password"]:
            out["neo4j_password"] = "***"
        return out


def _options() -> tuple[Option, ...]:
    hints = {f.name: f.type for f in fields(Config)}  # annotations as written: "str", "float", ...
    return tuple(
        Option(
            f.name,
            _PARSERS[str(hints[f.name])],
            f.default,
            f.metadata["help"],
            f.metadata["choices"],
            f.metadata["bounds"],
        )
        for f in fields(Config)
    )


OPTIONS: tuple[Option, ...] = _options()


def add_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    for opt in OPTIONS:
        raw = env.get(opt.env)
        default = opt.default
        if raw is not None:
            try:
                default = opt.type(raw)
            except (ValueError, argparse.ArgumentTypeError) as exc:
                parser.error(f"{opt.env}={raw!r}: {exc}")
        allowed = f" ({opt.bounds})" if opt.bounds else ""
        parser.add_argument(
            opt.flag, type=opt.type, default=default, choices=opt.choices, help=f"{opt.help}{allowed} [{opt.env}]"
        )


def from_args(args: argparse.Namespace) -> Config:
    config = Config(**{opt.name: getattr(args, opt.name) for opt in OPTIONS})
    _check(config)
    return config


def load(argv: Sequence[str] = (), env: Mapping[str, str] | None = None) -> Config:
    """Settings from ``argv`` over ``env`` over defaults (used by tests and embedding)."""
    parser = argparse.ArgumentParser(prog="sessiond serve")
    add_arguments(parser, os.environ if env is None else env)
    return from_args(parser.parse_args(list(argv)))


def _check(c: Config) -> None:
    problems = [problem for opt in OPTIONS if (problem := opt.check(getattr(c, opt.name))) is not None]
    if c.store not in STORES:
        problems.append(f"--store must be one of {', '.join(STORES)}")
    if ":" not in c.listen:
        problems.append(f"--listen must be HOST:PORT, got {c.listen!r}")
    for name in ("metrics_listen", "health_listen"):
        if getattr(c, name) and ":" not in getattr(c, name):
            problems.append(f"--{name.replace('_', '-')} must be HOST:PORT or empty, got {getattr(c, name)!r}")
    if bool(c.tls_cert) != bool(c.tls_key):
        problems.append("--tls-cert and --tls-key go together")
    if c.tls_client_ca and not c.tls_cert:
        problems.append("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key")
    if problems:
        raise ValueError("; ".join(problems))
