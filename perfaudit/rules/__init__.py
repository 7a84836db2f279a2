"""The rule registry: every rule, sorted by code. This tuple is the single source of truth."""

from __future__ import annotations

from perfaudit.engine.rulebase import Rule
from perfaudit.model import RuleMeta
from perfaudit.rules.pa000_parse_error import ParseError
from perfaudit.rules.pa101_blocking_file_io_in_async import BlockingFileIoInAsync
from perfaudit.rules.pa102_blocking_http_in_async import BlockingHttpInAsync
from perfaudit.rules.pa103_blocking_sleep_in_async import BlockingSleepInAsync
from perfaudit.rules.pa104_blocking_subprocess_in_async import BlockingSubprocessInAsync
from perfaudit.rules.pa105_blocking_db_in_async import BlockingDbInAsync
from perfaudit.rules.pa106_transitive_blocking_in_async import TransitiveBlockingInAsync
from perfaudit.rules.pa201_request_without_session_in_loop import RequestWithoutSessionInLoop
from perfaudit.rules.pa202_client_created_per_call import ClientCreatedPerCall
from perfaudit.rules.pa203_db_connection_per_call import DbConnectionPerCall
from perfaudit.rules.pa204_http_call_without_timeout import HttpCallWithoutTimeout
from perfaudit.rules.pa301_open_without_context_manager import OpenWithoutContextManager
from perfaudit.rules.pa302_open_read_oneliner import OpenReadOneliner
from perfaudit.rules.pa303_unclosed_resource import UnclosedResource
from perfaudit.rules.pa304_dangling_task import DanglingTask
from perfaudit.rules.pa401_cache_on_method import CacheOnMethod
from perfaudit.rules.pa402_unbounded_module_cache import UnboundedModuleCache
from perfaudit.rules.pa403_eager_readlines import EagerReadlines

ALL_RULES: tuple[type[Rule], ...] = (
    ParseError,
    BlockingFileIoInAsync,
    BlockingHttpInAsync,
    BlockingSleepInAsync,
    BlockingSubprocessInAsync,
    BlockingDbInAsync,
    TransitiveBlockingInAsync,
    RequestWithoutSessionInLoop,
    ClientCreatedPerCall,
    DbConnectionPerCall,
    HttpCallWithoutTimeout,
    OpenWithoutContextManager,
    OpenReadOneliner,
    UnclosedResource,
    DanglingTask,
    CacheOnMethod,
    UnboundedModuleCache,
    EagerReadlines,
)

PARSE_ERROR: RuleMeta = ParseError.meta()

RULES_BY_CODE: dict[str, type[Rule]] = {r.code: r for r in ALL_RULES}


def all_meta() -> dict[str, RuleMeta]:
    return {r.code: r.meta() for r in ALL_RULES}


def instantiate(codes: frozenset[str]) -> list[Rule]:
    return [r() for r in ALL_RULES if r.code in codes and not r.project_wide]
