"""The neutral result of a profile: plain data that every renderer reads.

Nothing here knows pyinstrument or memray; `cpu.py`, `mem.py` and `leaks.py` turn their
output into these objects, and `report.py` renders them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Target:
    """What to run: a script path, a module (`-m`), or `pkg.module:function`."""

    kind: str  # "script" | "module" | "function"
    spec: str
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"-m {self.spec}" if self.kind == "module" else self.spec


@dataclass
class Outcome:
    """How the target's run ended."""

    #: ok | raised | exit | timeout | interrupted | terminated | killed | usage | internal
    status: str = "ok"
    exit_code: int | None = None
    exception: str = ""
    message: str = ""
    #: (path, line, function) of the innermost frame of the target's own code, if it raised
    where: tuple[str, int, str] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        """One line for the error message."""
        if self.status == "raised":
            at = f" ({self.where[0]}:{self.where[1]} in {self.where[2]})" if self.where else ""
            text = f"{self.exception}: {self.message}" if self.message else self.exception
            return f"the target raised {text}{at}"
        if self.status == "exit":
            extra = f": {self.message}" if self.message else ""
            return f"the target exited with status {self.exit_code}{extra}"
        if self.status == "killed":
            return f"the target was killed by signal {self.exit_code}"
        if self.status in ("timeout", "interrupted", "terminated"):
            return self.message or f"the target was stopped ({self.status})"
        return self.message


@dataclass(frozen=True)
class FunctionStat:
    """A function's time: self (in its own code) and total (with what it calls)."""

    function: str
    path: str
    line: int
    self_time: float
    total_time: float
    library: bool = False


@dataclass
class HotNode:
    """One frame of the call tree trimmed to the hot path."""

    function: str
    path: str
    line: int
    time: float
    share: float
    library: bool = False
    children: list[HotNode] = field(default_factory=list)
    #: library frames folded away between this frame and its parent (one path, no branch)
    hidden: int = 0


@dataclass
class CpuProfile:
    duration: float
    cpu_time: float
    samples: int
    hot_path: HotNode | None
    top_self: list[FunctionStat]
    top_total: list[FunctionStat]
    #: seconds spent on each line of the target's own code, callees included: "path\0line"
    line_time: dict[str, float] = field(default_factory=dict)
    #: seconds spent in each function of the target's own code: "path\0function"
    function_time: dict[str, float] = field(default_factory=dict)
    #: self time of the functions that take most ("function (path:line)" -> seconds), for
    #: baselines: what changed when wall time regresses
    self_times: dict[str, float] = field(default_factory=dict)
    #: seconds an event loop spent waiting in select/epoll (awaits on I/O and timers)
    idle_time: float = 0.0


@dataclass(frozen=True)
class AllocationSite:
    """Memory held at the high-water mark by one stack's innermost line."""

    function: str
    path: str
    line: int
    size: int
    count: int
    #: the caller chain, innermost first, as "function (path:line)"
    stack: tuple[str, ...] = ()


@dataclass
class MemProfile:
    peak_memory: int
    allocations: int
    allocated_bytes: int
    top_sites: list[AllocationSite]
    #: bytes held at the peak by each line of the target's code (any frame of the stack)
    line_bytes: dict[str, int] = field(default_factory=dict)
    function_bytes: dict[str, int] = field(default_factory=dict)
    #: bytes at the peak of the sites holding most ("function (path:line)" -> bytes)
    site_bytes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LeakSite:
    path: str
    line: int
    growth: int  # bytes gained between the first and the last checkpoint
    per_call: float
    blocks: int
    source: str = ""
    #: where the memory is allocated, when deeper than the site: "path:line" of a library
    via: str = ""


@dataclass(frozen=True)
class ResourceSite:
    """A line of the target's own code that holds more of a resource after each call."""

    kind: str  # fds | sockets | threads | tasks | processes
    path: str  # "" when the resource's holder is unknown
    line: int
    #: what made it: "open()", "socket()", "Thread.start()", "create_task(coro)", "Popen()"
    what: str
    growth: int  # more held at the last checkpoint than at the first
    per_call: float
    source: str = ""
    #: the static finding on that line ("PA301 message"), "" if none, None if not scanned
    finding: str | None = None


@dataclass
class ResourceLeak:
    """One kind of resource over the calls of --leaks: does the count keep growing?"""

    kind: str
    leaking: bool
    per_call: float  # fitted growth of the count per call
    first: int
    last: int
    reason: str
    sites: list[ResourceSite] = field(default_factory=list)


@dataclass(frozen=True)
class WarningGroup:
    """The ResourceWarnings of one allocation site (`profile --resources`)."""

    path: str  # the line of the target's code that allocated the object ("" if unknown)
    line: int
    category: str
    count: int
    message: str  # the first one's text
    #: the allocation traceback, innermost first, as "path:line"
    traceback: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class OpenResource:
    """Resources of one kind and site still open when the run ended (`--resources`)."""

    kind: str  # fds | sockets | threads | tasks | processes
    path: str
    line: int
    what: str
    count: int


@dataclass
class ResourceReport:
    warnings: list[WarningGroup] = field(default_factory=list)
    left_open: list[OpenResource] = field(default_factory=list)
    #: counts before the run and after it
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)


@dataclass
class LeakReport:
    calls: int
    warmup: int
    retained: list[int]
    per_call: float  # fitted growth of retained memory, bytes per call
    leaking: bool
    sites: list[LeakSite]
    reason: str = ""
    #: every growing line of the target's own code ("path\0line", see `cpu.key`) -> bytes
    line_growth: dict[str, int] = field(default_factory=dict)
    #: descriptors, sockets, threads, tasks and processes held after each call
    resources: list[ResourceLeak] = field(default_factory=list)


@dataclass(frozen=True)
class ScanLink:
    """A static finding placed in the profile: how much of the run its line or function took."""

    code: str
    path: str
    line: int
    message: str
    function: str
    #: "line" when the figures are those of the finding's line, "function" for its function
    scope: str
    time_share: float | None
    time: float | None
    memory_share: float | None
    memory: int | None
    #: --leaks: bytes per call retained by the leak sites the finding covers, and their share
    leak: float | None = None
    leak_share: float | None = None


#: a frame of the target's own code: (path, line, function)
FrameRef = tuple[str, int, str]


@dataclass(frozen=True)
class BlockingSite:
    """A blocking call made while a thread ran an event loop (--blocking)."""

    call: str  # the audit event or wrapped call: "time.sleep", "open", "socket.connect"
    code: str  # the static rule that covers such calls ("" when none does)
    what: str
    #: the frames of the target's own code that led to it, innermost first
    chain: list[FrameRef]
    #: the library function the innermost own frame called ("" when it made the call itself)
    via: str
    count: int
    #: seconds on the loop (calls whose time was measured; see `timed`)
    time: float
    timed: int
    detail: str = ""  # the first call's argument: a path, an address
    #: where it happened when no frame of the target's code is on the stack
    stack: list[FrameRef] = field(default_factory=list)
    #: "confirmed" (a static finding covers it) or "runtime-only"
    status: str = ""
    findings: list[str] = field(default_factory=list)  # "PA103 app.py:12"
    #: runtime-only: what the static rules would need to catch it
    needs: str = ""
    #: the pytest plugin: the tests that hit it
    tests: list[str] = field(default_factory=list)

    @property
    def site(self) -> FrameRef | None:
        return self.chain[0] if self.chain else (self.stack[0] if self.stack else None)


@dataclass(frozen=True)
class LoopStall:
    """A callback or task step that held the loop past the stall threshold (--blocking)."""

    chain: list[FrameRef]  # own frames of the sampled stack, innermost first
    stack: list[FrameRef]  # the innermost frames when sampled, down to the own code
    callback: str  # when the stack could not be sampled: the callback or task
    count: int
    time: float
    longest: float
    blocking: float  # of which in recorded blocking calls
    findings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RuntimeFinding:
    """A static PA101-PA106 finding of an executed file, seen (or not) at run time."""

    code: str
    path: str
    line: int
    message: str
    function: str
    status: str  # "confirmed" | "not reached"
    count: int = 0
    time: float = 0.0
    #: what confirmed it: the blocking calls ("time.sleep") and/or "stall"
    by: list[str] = field(default_factory=list)


@dataclass
class BlockingReport:
    threshold: float
    steps: int  # loop callbacks and task steps run
    longest_step: float
    loop_time: float  # seconds the loop spent running callbacks
    calls: list[BlockingSite]
    stalls: list[LoopStall]
    files: list[str]  # the target's own files the run executed
    findings: list[RuntimeFinding] | None = None  # None: the static join was not made


@dataclass(frozen=True)
class GateRow:
    """One figure checked against a budget or a baseline."""

    figure: str
    limit: float  # the budget, or the baseline's value
    measured: float
    ok: bool
    change: float | None = None  # relative change against a baseline


@dataclass(frozen=True)
class Change:
    """A function's self time, or a site's memory, in a baseline and now."""

    label: str
    old: float
    new: float


@dataclass
class ProfileResult:
    target: Target
    modes: list[str]
    outcome: Outcome = field(default_factory=Outcome)
    repeat: int = 1
    #: the run time of each repetition, seconds
    runs: list[float] = field(default_factory=list)
    #: runs made under memray (allocation figures are per run)
    mem_runs: int = 0
    figures: dict[str, float] = field(default_factory=dict)
    cpu: CpuProfile | None = None
    mem: MemProfile | None = None
    leaks: LeakReport | None = None
    resources: ResourceReport | None = None
    links: list[ScanLink] | None = None
    blocking: BlockingReport | None = None
    budget: list[GateRow] = field(default_factory=list)
    regression: list[GateRow] = field(default_factory=list)
    baseline_path: str = ""
    baseline_env_diff: list[str] = field(default_factory=list)
    #: for each regressed figure, what changed most since the baseline
    changes: dict[str, list[Change]] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def breakdown(self) -> dict[str, dict[str, float]]:
        """What the figures are made of, for a baseline: self time per run of the functions
        that take most, bytes at the peak of the sites that hold most."""
        out: dict[str, dict[str, float]] = {}
        if self.cpu is not None and self.cpu.self_times:
            runs = max(1, len(self.runs)) if self.modes[:1] == ["cpu"] else 1
            out["self-time"] = {k: v / runs for k, v in self.cpu.self_times.items()}
        if self.mem is not None and self.mem.site_bytes:
            out["memory"] = {k: float(v) for k, v in self.mem.site_bytes.items()}
        return out

    @property
    def gates_failed(self) -> bool:
        return any(not r.ok for r in self.budget) or any(not r.ok for r in self.regression)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = {"kind": self.target.kind, "spec": self.target.spec,
                          "args": list(self.target.args)}
        return data
