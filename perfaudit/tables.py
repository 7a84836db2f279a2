"""The API tables under the top-level `rules/` folder (shipped as `perfaudit._tables`)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from perfaudit.config import BlockingRow, Config
from perfaudit.errors import PerfauditError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TABLE_FILES = ("blocking.toml", "types.toml", "pools.toml", "resources.toml", "noqa.toml",
               "audit.toml", "threads.toml", "memory.toml", "cli.toml")


def table_paths() -> list[str]:
    """File-system paths of the shipped tables (for the cache's code fingerprint)."""
    out = []
    for name in TABLE_FILES:
        try:
            ref = resources.files("perfaudit._tables").joinpath(name)
            out.append(str(ref))
        except (ModuleNotFoundError, TypeError):
            out.append(str(Path(__file__).resolve().parent.parent / "rules" / name))
    return out


def read_table(name: str) -> dict[str, Any]:
    """Parse one shipped TOML table."""
    try:
        text = resources.files("perfaudit._tables").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):  # running from a bare source tree
        text = (Path(__file__).resolve().parent.parent / "rules" / name).read_text(
            encoding="utf-8")
    data: dict[str, Any] = tomllib.loads(text)
    return data


@functools.lru_cache(maxsize=1)
def loop_methods() -> frozenset[str]:
    """Method names that need the event loop on any object (`rules/threads.toml`)."""
    return frozenset(read_table("threads.toml").get("loop_bound", {}).get("methods", []))


@functools.lru_cache(maxsize=1)
def prompt_calls() -> frozenset[str]:
    """Calls that wait for a person at the terminal (`[prompts]` of rules/cli.toml)."""
    return frozenset(read_table("cli.toml").get("prompts", {}).get("calls", []))


@dataclass(frozen=True)
class BlockingEntry:
    code: str
    call: str
    instead: str
    #: not reported when the first argument is an instance of one of these (an archive
    #: in memory, `zipfile.ZipFile(io.BytesIO(data))`, does no file I/O)
    unless_first_arg: frozenset[str] = frozenset()
    #: not reported when the call wraps a file descriptor that is already open (first
    #: argument an int or `x.fileno()`, or `closefd=False`): no path lookup, no disk access
    unless_descriptor: bool = False
    #: not reported when the URL (first argument) is known to start with one of these
    unless_url_prefix: tuple[str, ...] = ()
    #: not reported when the flags argument (position, keyword) names one of these
    #: constants (`socket.getaddrinfo(ip, 0, ..., socket.AI_NUMERICHOST)` parses an
    #: address, it looks nothing up): (position, keyword, names), or None
    unless_flag: tuple[int, str, frozenset[str]] | None = None
    #: not reported when one of these keywords is passed a value that is not a false
    #: constant, directly or through a `**kwargs` the function sets it in
    #: (`psycopg2.connect(dsn, async_=True)` starts libpq's asynchronous connect)
    unless_keyword_true: frozenset[str] = frozenset()
    #: not reported on a process known to have exited already: in the body of
    #: `if proc.poll() is not None:` (or `proc.returncode is not None`), or the `else` of
    #: the `is None` test (`proc.communicate()` then only collects what is left in the pipes)
    unless_exited: bool = False
    #: reported only when the first argument may start with one of these: a str literal
    #: that does not is returned unchanged (`os.path.expanduser("cache.json")` looks at
    #: nothing); a parameter is checked against the caller's value or its default (PA106)
    only_prefix: tuple[str, ...] = ()


def _flag_spec(spec: dict[str, Any] | None) -> tuple[int, str, frozenset[str]] | None:
    """`unless_flag = {position = 5, keyword = "flags", names = [...]}` of a group."""
    if not spec:
        return None
    return (int(spec["position"]), str(spec["keyword"]), frozenset(spec["names"]))


@dataclass(frozen=True)
class Tables:
    blocking: Mapping[str, BlockingEntry]
    classes: frozenset[str]
    aliases: Mapping[str, str]
    returns: Mapping[str, str]
    attributes: Mapping[str, str]
    truediv: frozenset[str]
    #: pools.toml
    request_functions: frozenset[str] = frozenset()
    timeouts: Mapping[str, int] = field(default_factory=dict)
    #: PA204: context managers that bound the calls in their body; calls whose default
    #: timeout is the socket default, and the calls that set that default
    timeout_scopes: frozenset[str] = frozenset()
    socket_default: frozenset[str] = frozenset()
    default_timeout_setters: frozenset[str] = frozenset()
    #: blocking.toml: decorators that run the decorated sync function in a thread, by name,
    #: with the keyword that must be passed as True
    offload_decorators: Mapping[str, str] = field(default_factory=dict)
    clients: frozenset[str] = frozenset()
    client_requests: frozenset[str] = frozenset()
    #: PA202: a client's methods that open a long-lived connection (`ws_connect`)
    client_connections: frozenset[str] = frozenset()
    db_connects: frozenset[str] = frozenset()
    #: pools.toml [run_once]: names of lifecycle functions that run once per process
    run_once: frozenset[str] = frozenset()
    #: pools.toml [run_once]: words that make a function name say it runs rarely
    #: (`send_telemetry_heartbeat`), and memoizing decorators (a cached function runs
    #: once per key)
    run_once_words: frozenset[str] = frozenset()
    run_once_decorators: frozenset[str] = frozenset()
    #: pools.toml [run_once]: words of a function's module, class or own name that say it
    #: serves a rare event (a firmware update); words that say it authenticates (only with
    #: a credential it stores); calls that wait for a person (`webbrowser.open`)
    run_once_topics: frozenset[str] = frozenset()
    #: pools.toml [run_once]: base classes (last name) whose objects are made per request:
    #: a memo on one is filled per request
    per_request_classes: frozenset[str] = frozenset()
    auth_words: frozenset[str] = frozenset()
    interactive_calls: frozenset[str] = frozenset()
    #: pools.toml [paced_loops]: calls that wait the loop's pace (`self.throttle()`)
    paced_throttles: frozenset[str] = frozenset()
    #: resources.toml: constructor -> (code, methods that release it)
    resources: Mapping[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    #: resources.toml: constructor -> (buffer types that make it hold no OS resource when
    #: passed first or as `fileobj=`, keywords that detach it unless passed a false literal)
    resource_exempt: Mapping[str, tuple[frozenset[str], frozenset[str]]] = field(
        default_factory=dict)
    borrowers: frozenset[str] = frozenset()
    #: pools.toml [in_process]: transports, adapters, mocks, ... (see the table's comments)
    in_process: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: rules/noqa.toml: another linter's code -> the perfaudit codes it also suppresses
    noqa_aliases: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: blocking.toml [error_path]: cleanup calls not reported in an `except` handler that
    #: ends by raising or returning
    error_cleanup: frozenset[str] = frozenset()
    #: method names of the `unless_exited` rows (`wait`, `communicate`)
    exited_methods: frozenset[str] = frozenset()
    #: `canonical`'s answers so far (a file resolves the same names many times)
    _canonical: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def runs_once(self, name: str) -> bool:
        """Whether a function's name says it runs once or rarely: a `[run_once]` hook, or
        a name one of whose `_`-separated words is a `[run_once]` word."""
        if name in self.run_once:
            return True
        words = self.run_once_words
        return bool(words) and any(w in words for w in name.lower().split("_"))

    def canonical(self, qual: str) -> str:
        """Map a re-export or alias to the name the tables use (longest prefix first)."""
        got = self._canonical.get(qual)
        if got is None:
            got = self._canonical[qual] = self._canonical_of(qual)
        return got

    def _canonical_of(self, qual: str) -> str:
        if qual in self.aliases:
            return self.aliases[qual]
        head, _, _tail = qual.rpartition(".")
        while head:
            if head in self.aliases:
                return self.aliases[head] + qual[len(head):]
            head, _, _ = head.rpartition(".")
        return qual


@functools.lru_cache(maxsize=8)
def _load(extra: tuple[BlockingRow, ...]) -> Tables:
    blocking_data = read_table("blocking.toml")
    types_data = read_table("types.toml")
    pools = read_table("pools.toml")
    res_data = read_table("resources.toml")
    noqa_data = read_table("noqa.toml")
    timeouts = {call: int(group["positional"]) for group in pools.get("timeout", [])
                for call in group["calls"]}
    resources = {call: (group["code"], frozenset(group["close"]))
                 for group in res_data.get("resource", []) for call in group["calls"]}
    resource_exempt = {call: (frozenset(group.get("unless_first_arg", ())),
                              frozenset(group.get("unless_keyword", ())))
                       for group in res_data.get("resource", []) for call in group["calls"]
                       if group.get("unless_first_arg") or group.get("unless_keyword")}
    blocking: dict[str, BlockingEntry] = {}
    for group in blocking_data.get("group", []):
        for call in group["calls"]:
            blocking[call] = BlockingEntry(group["code"], call, group["instead"],
                                           frozenset(group.get("unless_first_arg", ())),
                                           bool(group.get("unless_descriptor", False)),
                                           tuple(group.get("unless_url_prefix", ())),
                                           _flag_spec(group.get("unless_flag")),
                                           frozenset(group.get("unless_keyword_true", ())),
                                           bool(group.get("unless_exited", False)),
                                           tuple(group.get("only_prefix", ())))
    for row in extra:
        blocking[row.call] = BlockingEntry(row.code, row.call, row.instead)
    return Tables(
        blocking=blocking,
        error_cleanup=frozenset(blocking_data.get("error_path", {}).get("cleanup", [])),
        exited_methods=frozenset(q.rpartition(".")[2] for q, e in blocking.items()
                                 if e.unless_exited),
        classes=frozenset(types_data.get("classes", [])),
        aliases=dict(types_data.get("aliases", {})),
        returns=dict(types_data.get("returns", {})),
        attributes=dict(types_data.get("attributes", {})),
        truediv=frozenset(types_data.get("truediv", {}).get("types", [])),
        request_functions=frozenset(pools.get("request_functions", [])),
        timeouts=timeouts,
        timeout_scopes=frozenset(pools.get("timeout_scopes", {}).get("calls", [])),
        socket_default=frozenset(call for group in pools.get("timeout", [])
                                 if group.get("socket_default") for call in group["calls"]),
        default_timeout_setters=frozenset(pools.get("default_timeout", {}).get("calls", [])),
        offload_decorators={call: group["keyword"]
                            for group in blocking_data.get("offload_decorator", [])
                            for call in group["calls"]},
        clients=frozenset(pools.get("clients", [])),
        client_requests=frozenset(pools.get("client_requests", [])),
        client_connections=frozenset(pools.get("client_connections", [])),
        db_connects=frozenset(pools.get("db_connects", [])),
        run_once=frozenset(pools.get("run_once", {}).get("functions", [])),
        run_once_words=frozenset(pools.get("run_once", {}).get("words", [])),
        run_once_decorators=frozenset(pools.get("run_once", {}).get("decorators", [])),
        run_once_topics=frozenset(pools.get("run_once", {}).get("topics", [])),
        per_request_classes=frozenset(pools.get("run_once", {}).get("per_request_classes", [])),
        auth_words=frozenset(pools.get("run_once", {}).get("auth_words", [])),
        interactive_calls=frozenset(pools.get("run_once", {}).get("interactive", [])),
        paced_throttles=frozenset(pools.get("paced_loops", {}).get("throttles", [])),
        resources=resources,
        resource_exempt=resource_exempt,
        borrowers=frozenset(res_data.get("borrowers", {}).get("calls", [])),
        in_process={key: frozenset(values)
                    for key, values in pools.get("in_process", {}).items()},
        noqa_aliases={alias.upper(): frozenset(codes)
                      for alias, codes in noqa_data.get("aliases", {}).items()},
    )


@dataclass(frozen=True)
class CliTable:
    """`rules/cli.toml`: the decorators of command-line frameworks (one-shot commands)."""

    #: decorators that make a command: functions and `Class.method` names
    commands: frozenset[str]
    #: of those, the ones that replace the function with a command object (calling the
    #: name runs the command-line parser)
    objects: frozenset[str]
    #: decorators whose result is a command group -> the group's class
    groups: Mapping[str, str]
    #: decorators that only wrap a function
    wrappers: frozenset[str]
    #: `[startup_methods]`: names of coroutines that start or stop a service
    startup_names: frozenset[str] = frozenset()
    #: `[startup_methods]`: the codes marked one-shot in them
    startup_codes: frozenset[str] = frozenset()
    #: `[startup_methods]`: names of coroutines that serve until stopped, and words of the
    #: names of the classes whose such methods count (their startup prefix is marked)
    serving_names: frozenset[str] = frozenset()
    serving_classes: frozenset[str] = frozenset()
    #: `[codegen]`: modules whose importers' coroutines run without an event loop
    codegen: frozenset[str] = frozenset()


@functools.lru_cache(maxsize=8)
def _load_cli(extra: tuple[str, ...]) -> CliTable:
    data = read_table("cli.toml")
    return CliTable(commands=frozenset([*data.get("commands", []), *extra]),
                    objects=frozenset(data.get("objects", [])),
                    groups=dict(data.get("groups", {})),
                    wrappers=frozenset(data.get("wrappers", {}).get("calls", [])),
                    startup_names=frozenset(data.get("startup_methods", {}).get("names", [])),
                    startup_codes=frozenset(data.get("startup_methods", {}).get("codes", [])),
                    serving_names=frozenset(data.get("startup_methods", {}).get("serving", [])),
                    serving_classes=frozenset(
                        data.get("startup_methods", {}).get("serving_classes", [])),
                    codegen=frozenset(data.get("codegen", {}).get("imports", [])))


def load_cli_table(config: Config) -> CliTable:
    """The CLI table with the config's `cli-decorators` added."""
    try:
        return _load_cli(config.cli_decorators)
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:  # a broken install
        raise PerfauditError(f"cannot load perfaudit's API tables: {exc}") from None


def load_tables(config: Config) -> Tables:
    try:
        return _load(config.blocking)
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:  # a broken install
        raise PerfauditError(f"cannot load perfaudit's API tables: {exc}") from None
