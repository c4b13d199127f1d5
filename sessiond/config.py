"""Settings from command-line flags, each with a SESSIOND_* environment variable.

One table (OPTIONS) defines every setting: its flag, variable, type, default and
help. The CLI, the README's configuration table and the Helm chart follow it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sessiond.core.lifecycle import Defaults
from sessiond.core.limits import Limits
from sessiond.core.tiers import TierRules
from sessiond.manager.config import ManagerConfig

STORES = ("memory", "redis", "redis+neo4j")
LOG_FORMATS = ("auto", "json", "console")


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # field of Config; flag --name-with-dashes; env SESSIOND_NAME
    type: Callable[[str], Any]
    default: Any
    help: str
    choices: Sequence[str] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "SESSIOND_" + self.name.upper()


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


OPTIONS: tuple[Option, ...] = (
    Option("listen", str, "0.0.0.0:50051", "gRPC listen address HOST:PORT (port 0 picks a free one)"),
    Option("metrics_listen", str, "0.0.0.0:9464", "Prometheus /metrics listen address HOST:PORT; empty turns it off"),
    Option("health_listen", str, "", "plaintext listener serving only grpc.health.v1.Health (for probes under TLS)"),
    Option("console_listen", str, "127.0.0.1:8080", "operator console (browser) listen address HOST:PORT; empty: off"),
    Option("tls_cert", str, "", "TLS on the gRPC port: PEM certificate chain file (needs --tls-key)"),
    Option("tls_key", str, "", "TLS: PEM private key file of --tls-cert (not encrypted)"),
    Option("tls_client_ca", str, "", "TLS: PEM file of CAs; clients must then present a certificate they signed"),
    Option("auth_tokens_file", str, "", "JSON file of bearer tokens and scopes; empty turns authentication off"),
    Option("store", str, "memory", "storage backend", STORES),
    Option("snapshot", str, "", "memory store: snapshot file read at start and written periodically and on shutdown"),
    Option("snapshot_interval", float, 30.0, "memory store: seconds between periodic snapshots"),
    Option("redis_url", str, "redis://127.0.0.1:6379/0", "redis store: redis:// or rediss:// URL, user:pass@ for ACL"),
    Option("redis_cluster", _bool, False, "redis store: the URL names a node of a Redis Cluster"),
    Option("redis_key_prefix", str, "sessiond", "redis store: prefix of every key (no braces)"),
    Option("neo4j_uri", str, "bolt://127.0.0.1:7687", "redis+neo4j store: bolt://, neo4j:// or neo4j+s:// URI"),
    Option("neo4j_user", str, "neo4j", "redis+neo4j store: user"),
    Option("neo4j_password", str, "", "redis+neo4j store: password"),
    Option("neo4j_database", str, "neo4j", "redis+neo4j store: database name"),
    Option("max_sessions", int, 10_000, "sessions held at once; CreateSession answers RESOURCE_EXHAUSTED beyond"),
    Option("session_ttl", float, 4 * 3600.0, "default idle TTL of a session, seconds"),
    Option("expired_retention", float, 3600.0, "seconds an EXPIRED (or idle ENDED) session stays readable"),
    Option("window_seconds", float, 10.0, "default choice window length, seconds"),
    Option("early_close", _bool, True, "default: close a window once every non-DORMANT player chose"),
    Option("max_players", int, 100, "default roster limit of a session"),
    Option("history_turns", int, 50, "resolved turns kept in the hot history of a session"),
    Option("event_retention", int, 1000, "events kept per session for watchers to resume from"),
    Option("active_turns", int, 2, "tier ACTIVE: acted within this many turns..."),
    Option("active_seconds", float, 900.0, "...or within this many seconds"),
    Option("idle_turns", int, 5, "tier IDLE: acted within this many turns..."),
    Option("idle_seconds", float, 3600.0, "...or within this many seconds; DORMANT otherwise"),
    Option("sweep_interval", float, 1.0, "seconds between sweeps for overdue windows"),
    Option("janitor_interval", float, 30.0, "seconds between expiry passes"),
    Option("shutdown_grace", float, 10.0, "seconds in-flight calls get to finish on SIGTERM"),
    Option("watch_queue_size", int, 1000, "events a watcher may lag before it is cut (UNAVAILABLE; it resumes)"),
    Option("watch_write_timeout", float, 30.0, "a watch whose client takes no message for this long ends UNAVAILABLE"),
    Option("log_format", str, "auto", "log format (auto: JSON unless stderr is a terminal)", LOG_FORMATS),
    Option("log_level", str, "info", "log level", ("debug", "info", "warning", "error")),
)


@dataclass(frozen=True, slots=True)
class Config:
    listen: str
    metrics_listen: str
    health_listen: str
    console_listen: str
    tls_cert: str
    tls_key: str
    tls_client_ca: str
    auth_tokens_file: str
    store: str
    snapshot: str
    snapshot_interval: float
    redis_url: str
    redis_cluster: bool
    redis_key_prefix: str
    neo4j_uri: str
    neo4j_user: str
    neo4j_password: str
    neo4j_database: str
    max_sessions: int
    session_ttl: float
    expired_retention: float
    window_seconds: float
    early_close: bool
    max_players: int
    history_turns: int
    event_retention: int
    active_turns: int
    active_seconds: float
    idle_turns: int
    idle_seconds: float
    sweep_interval: float
    janitor_interval: float
    shutdown_grace: float
    watch_queue_size: int
    watch_write_timeout: float
    log_format: str
    log_level: str

    @property
    def snapshot_path(self) -> Path | None:
        return Path(self.snapshot) if self.snapshot else None

    def manager_config(self) -> ManagerConfig:
        return ManagerConfig(
            limits=Limits(),
            tiers=TierRules(self.active_turns, self.active_seconds, self.idle_turns, self.idle_seconds),
            defaults=Defaults(self.window_seconds, self.early_close, self.session_ttl, self.max_players),
            max_sessions=self.max_sessions,
            sweep_interval=self.sweep_interval,
            janitor_interval=self.janitor_interval,
            expired_retention=self.expired_retention,
            watch_queue_size=self.watch_queue_size,
        )

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict for the start-up log line, secrets blanked."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["neo4j_password"]:
            out["neo4j_password"] = "***"
        return out


def add_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    for opt in OPTIONS:
        raw = env.get(opt.env)
        default = opt.default
        if raw is not None:
            try:
                default = opt.type(raw)
            except (ValueError, argparse.ArgumentTypeError) as exc:
                parser.error(f"{opt.env}={raw!r}: {exc}")
        parser.add_argument(
            opt.flag, type=opt.type, default=default, choices=opt.choices, help=f"{opt.help} [{opt.env}]"
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
    problems = []
    if c.store not in STORES:
        problems.append(f"--store must be one of {', '.join(STORES)}")
    for name in ("max_sessions", "max_players", "history_turns", "event_retention"):
        if getattr(c, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("snapshot_interval", "sweep_interval", "janitor_interval", "window_seconds", "session_ttl"):
        if getattr(c, name) <= 0:
            problems.append(f"--{name.replace('_', '-')} must be positive")
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
