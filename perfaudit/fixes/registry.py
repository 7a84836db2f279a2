"""The fixes, keyed by rule code (one module per rule's fix, as for the rules).

The order is the order of the hooks in the shared traversal: PA302 comes first, so that
`open(p).read()` becomes `pathlib.Path(p).read_text()` before anything wraps it.
"""

from __future__ import annotations

from perfaudit.fixes import pa101, pa102, pa103, pa104, pa105, pa106, pa201, pa301, pa302, pa403
from perfaudit.fixes._base import RuleFix
from perfaudit.model import Finding

FIXES: dict[str, type[RuleFix]] = {
    cls.code: cls
    for cls in (pa302.Fix, pa103.Fix, pa101.Fix, pa102.Fix, pa104.Fix, pa105.Fix, pa106.Fix,
                pa201.Fix, pa301.Fix, pa403.Fix)
}


def not_applied_reason(f: Finding) -> str:
    """Why a finding `fix` wanted is still there after it ran."""
    cls = FIXES.get(f.code)
    return cls.why_not(f) if cls is not None else "the rule has no automatic fix"
