"""Parse source bytes into a stdlib `ast` tree, fast, whatever Python the code targets.

`ast.parse` is ~12x faster than LibCST but knows only the grammar of the running Python.
Code written for a newer Python (PEP 695 type parameters and `type` statements, PEP 701
f-strings, PEP 758 unparenthesized `except A, B:`) is first *repaired*: the offending construct is rewritten in place to
same-length text the running parser accepts (type parameter lists become spaces, an
f-string gets the other quote character or becomes a blank plain string). Line numbers
never move and columns move only on a repaired `type` line. When no repair works, LibCST
(which knows the newer grammar) decides: if it parses the file the file is skipped as
unanalysable, never reported as a parse error; if it does not, the error is real.

Nothing here may take the process down: LibCST's native parser overflows its stack on deep
nesting (about 1,270 brackets), so it is never asked about code that breaks a limit every
Python version has (200 nested brackets, 100 indentation levels), and otherwise runs in a
forked child where one is available (a crash there means "not valid"). A file nested too
deeply for `ast` is retried on a fresh, large stack with Python's default recursion limit,
as CPython itself would compile it, and is a parse error only if it fails there too.
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import os
import re
import select
import signal
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

_MAX_REPAIRS = 200
#: SyntaxError messages for limits that no Python version lifts: no repair, no LibCST
LIMIT_ERRORS = ("too many nested parentheses", "too many levels of indentation")
#: every CPython tokenizer refuses more than this many nested brackets (MAXLEVEL)
MAX_BRACKET_DEPTH = 200
#: seconds LibCST may take to decide about one file in a child process
_LIBCST_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class ParseError:
    message: str
    line: int
    column: int


@dataclass(slots=True)
class Parsed:
    tree: ast.Module | None
    text: str
    error: ParseError | None = None
    #: True when the file is valid for a newer Python but could not be analysed here
    skipped: bool = False
    repaired: bool = False


_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


class DecodeError(UnicodeError, LookupError):
    """The bytes cannot be decoded: an unknown or failing encoding in the cookie (`undefined`,
    `punycode`), or bytes that are invalid in the file's encoding. It is both a
    `UnicodeError` and a `LookupError`, so callers may catch either."""


def decode(data: bytes) -> str:
    """Decode like the interpreter does: BOM, then a PEP 263 cookie, else UTF-8.

    Raises `DecodeError` (and nothing else) when that fails."""
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[3:].decode("utf-8")
        encoding = "utf-8"
        for line in data.split(b"\n", 2)[:2]:
            m = _COOKIE.match(line)
            if m:
                encoding = m.group(1).decode("ascii")
                break
            if line.strip() and not line.lstrip().startswith(b"#"):
                break
        return data.decode(encoding)
    except (UnicodeError, LookupError) as exc:  # UnicodeError: `undefined`, `punycode`...
        raise DecodeError(str(exc)) from None


def parse(data: bytes) -> Parsed:
    try:
        text = decode(data)
    except DecodeError as exc:
        return Parsed(None, "", ParseError(f"cannot decode file: {exc}", 1, 1))
    pre = _pre_repair(text)
    if pre is not None:  # PEP 695/758 syntax on an older Python: repair first, parse once
        tree = _try_parse(pre)
        if isinstance(tree, ast.Module):
            return Parsed(tree, text, repaired=True)
        if not tree.message.startswith("!"):  # newer f-strings too: go on repairing
            repaired, _ = _repair_loop(pre, tree)
            if repaired is not None:
                return Parsed(repaired, text, repaired=True)
    first = _try_parse(text)
    if isinstance(first, ParseError) and first.message.startswith("!RecursionError"):
        # nested deeper than the recursion limit allows from here: try again as CPython
        # compiles a file, from a fresh stack, with the same (default) recursion limit
        first = _parse_on_fresh_stack(text)
    if isinstance(first, ast.Module):
        if _deep_blocks(first):  # maybe past the compiler's 20 nested blocks
            err = _compile_error(text)
            if err is not None:
                return Parsed(None, text, err)
        return Parsed(first, text)
    if first.message.startswith("!"):  # NUL bytes, absurd nesting
        return Parsed(None, text, ParseError(first.message[1:], 1, 1))
    if is_limit_error(first):  # invalid in every Python version: nothing to repair or ask
        return Parsed(None, text, first)
    repaired, last = _repair_loop(text, first)
    if repaired is not None:
        return Parsed(repaired, text, repaired=True)
    if last is not None and is_limit_error(last):
        return Parsed(None, text, last)
    # No repair: ask LibCST, which knows newer grammars, whether the file is valid.
    if _libcst_accepts(text):
        return Parsed(None, text, skipped=True)
    return Parsed(None, text, first)


_BLOCK_STMTS = (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
                *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))
_SCOPE_STMTS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
#: each nested loop, `with` or `try` takes at most 3 of the compiler's 20 blocks per scope
_SAFE_BLOCK_DEPTH = 6


def _deep_blocks(tree: ast.Module) -> bool:
    """Are loops, `with` and `try` nested deeper than `_SAFE_BLOCK_DEPTH` in one scope?
    (Only then can CPython's compiler refuse code the parser accepts: "too many statically
    nested blocks".) Walks statements only, without recursion."""
    stack: list[tuple[list[ast.stmt], int]] = [(tree.body, 0)]
    while stack:
        body, depth = stack.pop()
        for st in body:
            t = type(st)
            d = 0 if t in _SCOPE_STMTS else depth + 1 if t in _BLOCK_STMTS else depth
            if d > _SAFE_BLOCK_DEPTH:
                return True
            for name in ("body", "orelse", "finalbody"):
                sub = getattr(st, name, None)
                if sub:
                    stack.append((sub, d))
            for h in getattr(st, "handlers", ()):
                stack.append((h.body, d))
            for case in getattr(st, "cases", ()):
                stack.append((case.body, d))
    return False


#: a line that starts a block statement, and its indentation: `_FIRST_HEADER` on the first
#: line, `_BLOCK_HEADER` on the others (from the newline before it). Together the same
#: matches as `^([ \t]*)...` in multi-line mode, which the regex engine tries at every
#: character; a pattern that starts with a literal is searched for much faster.
_FIRST_HEADER = re.compile(r"([ \t]*)(?:async[ \t]+)?(?:for|while|with|try)\b")
_BLOCK_HEADER = re.compile(r"\n([ \t]*)(?:async[ \t]+)?(?:for|while|with|try)\b")


def may_nest_blocks_deeply(text: str) -> bool:
    """A cheap necessary condition for `_deep_blocks`, on the text: block statements nested
    N deep start at N different indentations."""
    if "\n" not in text:
        return False
    widths = set(_BLOCK_HEADER.findall(text))
    first = _FIRST_HEADER.match(text)
    if first is not None:
        widths.add(first.group(1))
    return len(widths) > _SAFE_BLOCK_DEPTH


def compile_error(text: str) -> ParseError | None:
    return _compile_error(text)


def _compile_error(text: str) -> ParseError | None:
    """CPython's own verdict on code its parser accepted (a compile to bytecode)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, "<file>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return ParseError(f"SyntaxError: {exc.msg}", exc.lineno or 1, exc.offset or 1)
    except (ValueError, RecursionError, MemoryError):
        return None  # decided elsewhere (the parse itself succeeded)
    return None


def is_limit_error(err: ParseError) -> bool:
    """A syntax error no newer Python lifts (too deep nesting or indentation)."""
    return err.message.removeprefix("SyntaxError: ").startswith(LIMIT_ERRORS)


def _parse_on_fresh_stack(text: str) -> ast.Module | ParseError:
    from perfaudit.engine.deep import TooDeep, run_with_big_stack

    try:
        return run_with_big_stack(lambda: _try_parse(text))
    except TooDeep as exc:
        return ParseError(f"!{exc}", 1, 1)


#: what every `_PEP695` match contains; patterns that start with a literal are searched for
#: several times faster than one anchored at every line start
_PEP695_HINTS = (re.compile(r"def[ \t]+\w+[ \t]*\["), re.compile(r"class[ \t]+\w+[ \t]*\["),
                 re.compile(r"type[ \t]+\w+[ \t]*[\[=]"))
_PEP695 = re.compile(r"^[ \t]*(?:(?:async[ \t]+)?def[ \t]+\w+[ \t]*\[|class[ \t]+\w+[ \t]*\[|"
                     r"type[ \t]+\w+[ \t]*[\[=])", re.MULTILINE)


#: PEP 758 (Python 3.14): `except A, B:` without parentheses (no `as`); the hint is what
#: every match contains, searched for first
_PEP758_HINT = re.compile(r"except\*?[ \t]+[A-Za-z_][\w.]*[ \t]*,")
_PEP758 = re.compile(r"^[ \t]*except\*?[ \t]+[A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)+"
                     r"[ \t]*:", re.MULTILINE)


def _pre_repair(text: str) -> str | None:
    """On a Python without PEP 695 (or PEP 758), the text with every type parameter list
    and `type` statement (every `except A, B:`) repaired up front: the repair loop would
    find them one failed parse at a time (a third of the parses of a modern code base;
    Home Assistant's `except A, B:` alone cost 620 extra parses); None when there are
    none."""
    patterns = []
    if sys.version_info < (3, 12) and any(
            hint.search(text) is not None for hint in _PEP695_HINTS):
        patterns.append(_PEP695)
    if sys.version_info < (3, 14) and _PEP758_HINT.search(text) is not None:
        patterns.append(_PEP758)
    starts: set[int] = set()
    for pattern in patterns:
        line = pos = 0
        for m in pattern.finditer(text):
            line += text.count("\n", pos, m.start())
            pos = m.start()
            starts.add(line)
    if not starts:
        return None
    lines = text.splitlines(keepends=True)
    if len(lines) != text.count("\n") + (0 if text.endswith("\n") else 1):
        return None  # other line breaks (\r, form feeds): leave it to the repair loop
    for idx in sorted(starts):
        if not _repair_line(lines, idx):
            return None
    return "".join(lines)


def pre_repair(text: str) -> str | None:
    """`_pre_repair`: the text as `parse` first tries it, or None when it needs no repair."""
    return _pre_repair(text)


def _try_parse(text: str) -> ast.Module | ParseError:
    """The tree, or the error as plain data. (Keeping a SyntaxError would keep its
    traceback's frames, and with them every tree, alive in a reference cycle.)"""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except SyntaxError as exc:
        return ParseError(f"SyntaxError: {exc.msg}", exc.lineno or 1, exc.offset or 1)
    except RecursionError as exc:
        return ParseError(f"!RecursionError: {exc} (nested too deeply for Python's compiler)",
                          1, 1)
    except (ValueError, MemoryError) as exc:
        return ParseError(f"!{exc}", 1, 1)


def bracket_depth(text: str) -> int:
    """The deepest bracket nesting, counting brackets inside strings and comments too (an
    upper bound of the real depth, found in one pass over the text)."""
    depth = deepest = 0
    for ch in re.findall(r"[()\[\]{}]", text):
        if ch in "([{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif depth:
            depth -= 1
    return deepest


def _libcst_accepts(text: str) -> bool:
    """Does LibCST parse ``text``? A crash of its native parser counts as no."""
    import libcst

    if bracket_depth(text) > MAX_BRACKET_DEPTH and _real_bracket_depth(text) > MAX_BRACKET_DEPTH:
        return False  # no Python accepts it, and LibCST's parser would overflow its stack
    if not hasattr(os, "fork"):
        from perfaudit.engine.deep import TooDeep, run_with_big_stack

        try:
            return run_with_big_stack(lambda: _libcst_parses(libcst, text))
        except TooDeep:
            return False
    return _in_child(lambda: _libcst_parses(libcst, text))


def _libcst_parses(libcst: object, text: str) -> bool:
    try:
        libcst.parse_module(text)  # type: ignore[attr-defined]
    except Exception:  # libcst raises ParserSyntaxError and, rarely, others
        return False
    return True


def _in_child(check: Callable[[], bool]) -> bool:
    """``check()`` in a forked child: a crash (a native stack overflow), a hang past
    `_LIBCST_TIMEOUT` or any failure is False; the calling process is never at risk."""
    r, w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3.12+: DeprecationWarning when threads exist
        pid = os.fork()
    if pid == 0:  # the child: answer one byte, never return into the caller
        code = 1
        try:
            os.close(r)
            os.write(w, b"1" if check() else b"0")
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    answer = b""
    try:
        ready, _, _ = select.select([r], [], [], _LIBCST_TIMEOUT)
        if ready:
            answer = os.read(r, 1)
    finally:
        os.close(r)
        if not answer:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return answer == b"1"


def _real_bracket_depth(text: str) -> int:
    """The bracket depth by the tokenizer (strings and comments do not count); when the
    text does not tokenize, the upper bound."""
    import io
    import tokenize

    depth = deepest = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.OP:
                if tok.string in "([{":
                    depth += 1
                    deepest = max(deepest, depth)
                elif tok.string in ")]}":
                    depth = max(0, depth - 1)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return bracket_depth(text)
    return deepest


def _repair_loop(text: str, err: ParseError,
                 attempt: Callable[[str], ast.Module | ParseError] | None = None,
                 ) -> tuple[ast.Module | None, ParseError | None]:
    """The repaired tree, or None and the last error seen (None if it was not a syntax
    error). ``attempt`` parses each repaired text (`_try_parse` by default)."""
    attempt = attempt or _try_parse
    lines = text.splitlines(keepends=True)
    seen: set[tuple[int, int]] = set()
    for _ in range(_MAX_REPAIRS):
        lineno = err.line
        key = (lineno, len(seen))
        if lineno < 1 or lineno > len(lines) or key in seen:
            return None, err
        seen.add(key)
        if not _repair_line(lines, lineno - 1):
            return None, err
        result = attempt("".join(lines))
        if isinstance(result, ast.Module):
            return result, None
        if result.message.startswith("!"):
            return None, None
        err = result
        if is_limit_error(err):
            return None, err
    return None, err


#: how the parser (not the symbol table) words the errors the repair loop meets
_PARSER_ERRORS = ("f-string", "invalid syntax", "unterminated", "multiple exception types",
                  "expected", "unmatched", "closing parenthesis", "unexpected",
                  "invalid character", "EOL", "EOF")
#: what `_check_parses` gives for text that parses (no tree is made)
_PARSES = ast.Module(body=[], type_ignores=[])


_build: Callable[[str, str, str], object] | None
try:
    # the C function `symtable.symtable` calls, without the Python wrapper objects it then
    # builds (about 3% of the check of Home Assistant's files); the module's own function
    # where the C one is not there; None on a Python without either
    from _symtable import symtable as _build  # type: ignore[import-not-found,no-redef]
except ImportError:  # pragma: no cover
    try:
        from symtable import symtable as _build
    except ImportError:
        _build = None
#: builds a text's symbol table (raising its syntax errors), or None (`_check_parses`,
#: and the runner's syntax check of files no rule can match)
build_symtable = _build


def _check_parses(text: str) -> ast.Module | ParseError:
    """`_try_parse` without the tree: `_PARSES`, or the parser's error as `_try_parse`
    would give it, found with CPython's parser and symbol table alone (about half the
    cost). An error that is not certainly the parser's (the symbol table raised it, or
    another exception) is a "!" error: the repair loop stops."""
    if build_symtable is None:  # pragma: no cover
        return ParseError("!no symbol table", 1, 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build_symtable(text, "<unknown>", "exec")
    except SyntaxError as exc:
        msg = exc.msg or ""
        if not msg.startswith(_PARSER_ERRORS):
            return ParseError("!not certainly a parse error", 1, 1)
        return ParseError(f"SyntaxError: {msg}", exc.lineno or 1, exc.offset or 1)
    except Exception:  # RecursionError, ValueError, MemoryError...: `parse` tells
        return ParseError("!not certainly a parse error", 1, 1)
    return _PARSES


def repairs_to_valid(text: str, line: int, message: str) -> bool:
    """Whether `_repair_loop`, started on ``text`` at a parse error on ``line``, ends with
    text that parses (``message``: that error's); found without making the `ast` objects
    (`_check_parses`). The repairs are the loop's own, in the same order: the parser
    reports the same errors either way. False when that is not certain (an error the
    symbol table raised, a limit, anything else): then `parse` decides, as the analysis
    itself would."""
    if not message.startswith(_PARSER_ERRORS) or message.startswith(LIMIT_ERRORS):
        return False
    done, _ = _repair_loop(text, ParseError(f"SyntaxError: {message}", line, 1),
                           _check_parses)
    return done is not None


_TYPE_PARAMS = re.compile(r"^(\s*(?:async\s+def|def|class)\s+\w+\s*)\[")
_TYPE_STMT = re.compile(r"^(\s*)type(\s+)(\w+)(\s*)(\[|=)")
_EXCEPT_TUPLE = re.compile(r"^(\s*except\*?)(\s+)([^:#]+,[^:#]+?)(\s*):")
_STR_START = re.compile(r"(?i)(?<![\w])([rbuf]{0,2})('''|\"\"\"|'|\")")


def _repair_line(lines: list[str], idx: int) -> bool:
    """Rewrite the newer-Python construct on line ``idx`` in place; False if none found."""
    line = lines[idx]
    m = _TYPE_PARAMS.match(line)
    if m:
        return _blank_brackets(lines, idx, m.end(1))
    m = _TYPE_STMT.match(line)
    if m:
        indent, sp, name, sp2, tok = m.groups()
        # `type X[T] = v` -> `X         = v`: same length, same indentation
        rest = line[m.end(5) - 1:]
        head = indent + name + " " * (4 + len(sp) + len(sp2))
        lines[idx] = head + rest
        if tok == "[":
            return _blank_brackets(lines, idx, len(head))
        return True
    m = _EXCEPT_TUPLE.match(line)
    if m:  # PEP 758 `except A, B:` -> `except(A, B):` (one character longer)
        lines[idx] = m.group(1) + "(" + " " * (len(m.group(2)) - 1) + m.group(3) + ")" \
            + m.group(4) + ":" + line[m.end():]
        return True
    return _repair_fstrings(lines, idx)


def _blank_brackets(lines: list[str], idx: int, start: int) -> bool:
    """Replace the bracketed text starting at lines[idx][start] == '[' with spaces."""
    depth = 0
    i, col = idx, start
    while i < len(lines):
        line = lines[i]
        chars = list(line)
        while col < len(chars):
            ch = chars[col]
            if ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
            if ch not in "\r\n":
                chars[col] = " "
            if depth == 0:
                lines[i] = "".join(chars)
                return True
            col += 1
        # the brackets go on past this line: join the lines with a backslash continuation
        nl = len(chars) - len(line.rstrip("\r\n"))
        if nl == 0 or len(chars) - nl == 0:
            return False
        chars[len(chars) - nl - 1] = "\\"
        lines[i] = "".join(chars)
        i, col = i + 1, 0
    return False


def _repair_fstrings(lines: list[str], idx: int) -> bool:
    """Rewrite every PEP 701 f-string that starts on line ``idx``."""
    text = "".join(lines)
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln))
    pos, end_of_line = offsets[idx], offsets[idx + 1]
    changed = False
    while pos < end_of_line:
        ch = text[pos]
        if ch == "#":
            break
        m = _STR_START.match(text, pos)
        if m is None:
            pos += 1
            continue
        prefix, quote = m.group(1).lower(), m.group(2)
        body = m.end()
        if "f" in prefix:
            end = _scan_fstring(text, body, quote, "r" in prefix)
            if end is None:
                return changed
            piece = text[pos:end]
            new = _rewrite_fstring(piece, len(prefix), quote)
            if new is None:
                return changed
            text = text[:pos] + new + text[end:]
            changed = True
            pos = end
        else:
            end = _scan_plain(text, body, quote, "r" in prefix)
            if end is None:
                return changed
            pos = end
    if changed:
        lines[:] = text.splitlines(keepends=True)
    return changed


def _scan_plain(text: str, i: int, quote: str, raw: bool) -> int | None:
    n = len(text)
    while i < n:
        if text.startswith(quote, i):
            return i + len(quote)
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "\n" and len(quote) == 1:
            return None
        i += 1
    return None


def _scan_fstring(text: str, i: int, quote: str, raw: bool, close: str | None = None) -> int | None:
    """Return the index after the f-string's closing quote (or after ``close`` in a spec)."""
    n = len(text)
    while i < n:
        if close is None and text.startswith(quote, i):
            return i + len(quote)
        ch = text[i]
        if close is not None and ch == close:
            return i
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            if text.startswith("{{", i):
                i += 2
                continue
            j = _scan_field(text, i + 1, quote, raw)
            if j is None:
                return None
            i = j
            continue
        i += 1
    return None


def _scan_field(text: str, i: int, quote: str, raw: bool) -> int | None:
    """Scan a replacement field after its '{'; return the index after its '}'."""
    depth = 0
    n = len(text)
    while i < n:
        ch = text[i]
        m = _STR_START.match(text, i) if ch in "'\"rRbBuUfF" else None
        if m is not None:
            prefix, q = m.group(1).lower(), m.group(2)
            end = (_scan_fstring(text, m.end(), q, "r" in prefix) if "f" in prefix
                   else _scan_plain(text, m.end(), q, "r" in prefix))
            if end is None:
                return None
            i = end
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "}":
            if depth == 0:
                return i + 1
            depth -= 1
        elif ch == ":" and depth == 0 and not text.startswith(":=", i):
            spec_end = _scan_fstring(text, i + 1, quote, raw, close="}")
            if spec_end is None:
                return None
            return spec_end + 1
        i += 1
    return None


def _rewrite_fstring(piece: str, plen: int, quote: str) -> str | None:
    """Same-length replacement that the running parser accepts."""
    inner = piece[plen + len(quote):-len(quote)]
    other = {"'": '"', '"': "'", "'''": '"""', '"""': "'''"}[quote]
    if other[0] not in inner and "\\" not in inner and "#" not in inner and "\n" not in inner:
        try:
            candidate = piece[:plen] + other + inner + other
            ast.parse(candidate, mode="eval")
            return candidate
        except SyntaxError:
            pass
    blank = "".join(c if c == "\n" else " " for c in inner)
    if "\n" in piece:
        body = blank + " " * (plen + 2 * len(quote) - 6) if len(quote) == 3 else None
        if body is None:
            if len(piece) < 6:
                return None
            core = "".join(c if c == "\n" else " " for c in piece[3:-3])
            return '"""' + core + '"""'
        return '"""' + body + '"""'
    return '"' + blank + '"' + " " * (plen + 2 * len(quote) - 2)
