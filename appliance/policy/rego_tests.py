"""Running Rego unit tests with regopy, which has no ``opa test`` of its own.

Every rule named ``test_...`` in a ``*_test.rego`` file is a test, as with ``opa test``: it
passes when it evaluates to ``true`` against the policy and data of the directory, and fails
when it is false, undefined, or an error.

rego-cpp 1.5 cannot evaluate ``with input as`` against a policy of any size (it aborts the
process, or answers from the wrong input), so this runner does what ``with`` would do: it
evaluates the test's input expression first, sets the result as the real input, and then
evaluates the test's body without the ``with`` clause. That works for tests of the usual shape,
and the runner refuses, as a failed test, any other:

    test_deny_x if {
        d := authz.decision with input as {"user": ...}   # at most one `with input as`,
        not d.allow                                        # at the top level of the body
    }

``with data... as`` is refused too (rego-cpp aborts on it): tests of other data load an
edited copy of the policy directory instead. Each test file runs in a child process by default,
so a crash is reported against the test that was running instead of taking the caller down.

    python -m appliance.policy.rego_tests [POLICY_DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from regopy import Interpreter

from appliance.policy.bundle import TEST_SUFFIX, default_policy_dir, read_policy_dir
from appliance.policy.embedded import rego_input

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_TEST_HEAD = re.compile(r"^(test_\w+)\s+if\s*\{", re.MULTILINE)
_WITH = re.compile(r"\bwith\s+(\S+)\s+as\b")
_INPUT_RULE = "__input_"
_TRUE = '{"expressions":[true]}'
_RECORD = "@rego-test "  # marks the child's result lines on its stdout


@dataclass(frozen=True)
class RegoTest:
    """One test rule: the file it is in (relative to the policy directory), package and name."""

    path: str
    package: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.path}::{self.name}"


@dataclass(frozen=True)
class RegoTestResult:
    test: RegoTest
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class _Parsed:
    test: RegoTest
    body: str  # without its `with input as` clause
    input_expr: str | None
    problem: str = ""


def discover_rego_tests(policy_dir: Path) -> list[RegoTest]:
    """Every ``test_`` rule of every ``*_test.rego`` file, in file and source order."""
    return [parsed.test for path in _test_files(Path(policy_dir))
            for parsed in _parse_file(Path(policy_dir), path)[1]]


def run_rego_tests(policy_dir: Path, *, isolated: bool = True,
                   timeout: float = 600.0) -> list[RegoTestResult]:
    """Run every Rego test under ``policy_dir``; in a child process unless ``isolated=False``."""
    policy_dir = Path(policy_dir)
    if not isolated:
        return list(_run_in_process(policy_dir))
    tests = discover_rego_tests(policy_dir)
    child = subprocess.run(
        [sys.executable, "-m", "appliance.policy.rego_tests", "--jsonl", str(policy_dir)],
        capture_output=True, text=True, timeout=timeout, check=False)
    results: dict[str, RegoTestResult] = {}
    running: str | None = None
    for line in child.stdout.splitlines():
        if not line.startswith(_RECORD):
            continue  # rego-cpp writes its own diagnostics to stdout
        record = json.loads(line[len(_RECORD):])
        if "start" in record:
            running = record["start"]
            continue
        result = RegoTestResult(RegoTest(**record["test"]), record["passed"], record["detail"])
        results[result.test.id] = result
    crash = f"(exit {child.returncode}): {' '.join(child.stderr.split()[-40:])}"
    for test in tests:
        if test.id in results:
            continue
        if running in (test.id, f"{test.path}::"):
            what = "this test" if running == test.id else "this file"
            detail = f"the Rego engine crashed running {what} {crash}"
        else:
            detail = f"not run {crash}"
        results[test.id] = RegoTestResult(test, False, detail)
    return [results[test.id] for test in tests]


def _test_files(policy_dir: Path) -> list[Path]:
    return [path for path in sorted(policy_dir.rglob(f"*{TEST_SUFFIX}"))
            if not any(part.startswith(".") for part in path.relative_to(policy_dir).parts)]


def _parse_file(policy_dir: Path, path: Path) -> tuple[str, list[_Parsed]]:
    """The file's source without its tests, and each test split into body and input."""
    source = path.read_text("utf-8")
    package = _PACKAGE.search(source)
    if package is None:
        raise ValueError(f"{path} has no package line")
    rel = path.relative_to(policy_dir).as_posix()
    rest: list[str] = []
    parsed: list[_Parsed] = []
    position = 0
    for head in _TEST_HEAD.finditer(source):
        if head.start() < position:
            continue  # a test_ head inside an earlier test's body: not a rule of its own
        end = _matching_brace(source, head.end() - 1)
        rest.append(source[position:head.start()])
        position = end + 1
        test = RegoTest(rel, package.group(1), head.group(1))
        parsed.append(_split_with(test, source[head.end():end]))
    rest.append(source[position:])
    return "".join(rest), parsed


def _split_with(test: RegoTest, body: str) -> _Parsed:
    clauses = [m for m in _WITH.finditer(_blank_strings(body))]
    if not clauses:
        return _Parsed(test, body, None)
    if len(clauses) > 1 or clauses[0].group(1) != "input":
        return _Parsed(test, body, None, "the runner supports one `with input as` per test "
                       "and no other `with`")
    clause = clauses[0]
    masked = _blank_strings(body)
    if _depth(masked, clause.start()) != 0:
        return _Parsed(test, body, None, "`with input as` must be at the top level of the body")
    end = _expression_end(masked, clause.end())
    return _Parsed(test, body[:clause.start()] + body[end:], body[clause.end():end].strip())


def _blank_strings(text: str) -> str:
    """The text with string contents and comments replaced by spaces (same length)."""
    out = list(text)
    i, quote = 0, ""
    while i < len(text):
        char = text[i]
        if quote:
            if quote == '"' and char == "\\":
                out[i] = out[i + 1] = " "
                i += 2
                continue
            if char == quote:
                quote = ""
            else:
                out[i] = " " if char != "\n" else "\n"
        elif char in "\"`":
            quote = char
        elif char == "#":
            while i < len(text) and text[i] != "\n":
                out[i] = " "
                i += 1
            continue
        i += 1
    return "".join(out)


def _depth(masked: str, index: int) -> int:
    return sum(masked[:index].count(o) - masked[:index].count(c) for o, c in ("{}", "[]", "()"))


def _matching_brace(source: str, open_index: int) -> int:
    masked = _blank_strings(source)
    depth = 0
    for i in range(open_index, len(masked)):
        depth += {"{": 1, "}": -1}.get(masked[i], 0)
        if depth == 0:
            return i
    raise ValueError(f"unbalanced braces after offset {open_index}")


def _expression_end(masked: str, start: int) -> int:
    """Where the expression starting at ``start`` ends: a newline or ``;`` at its own depth."""
    depth = 0
    for i in range(start, len(masked)):
        char = masked[i]
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
            if depth < 0:
                return i
        elif depth == 0 and char in "\n;" and masked[start:i].strip():
            return i
    return len(masked)


def _run_in_process(policy_dir: Path, announce: bool = False) -> Iterator[RegoTestResult]:
    policy = read_policy_dir(policy_dir)
    data = json.dumps(policy.data(), ensure_ascii=False)
    for path in _test_files(policy_dir):
        rest, parsed = _parse_file(policy_dir, path)
        generated = [rest]
        for item in parsed:
            if item.problem:
                continue  # never compiled: rego-cpp may abort on what the runner refuses
            if item.input_expr is not None:
                generated.append(f"\n{_INPUT_RULE}{item.test.name} := {item.input_expr}\n")
            generated.append(f"\n{item.test.name} if {{{item.body}}}\n")
        if announce:
            print(_RECORD + json.dumps({"start": f"{path.relative_to(policy_dir).as_posix()}::"}),
                  flush=True)
        interpreter = Interpreter()
        try:
            interpreter.add_data_json(data)
            for module in policy.modules:
                interpreter.add_module(module.path, module.source)
            interpreter.add_module(path.relative_to(policy_dir).as_posix(), "".join(generated))
            prefix = parsed[0].test.package.replace(".", "/") + "/" if parsed else ""
            entrypoints = [prefix + n for item in parsed if not item.problem
                           for n in (item.test.name, _INPUT_RULE + item.test.name)]
            bundle = interpreter.build(None, entrypoints) if parsed else None
        except Exception as exc:
            for item in parsed:
                yield RegoTestResult(item.test, False, f"does not compile: {_first_line(exc)}")
            continue
        for item in parsed:
            if announce:
                print(_RECORD + json.dumps({"start": item.test.id}), flush=True)
            yield _run_one(interpreter, bundle, prefix, item)


def _run_one(interpreter: Interpreter, bundle: object, prefix: str,
             item: _Parsed) -> RegoTestResult:
    if item.problem:
        return RegoTestResult(item.test, False, item.problem)
    try:
        # Each test starts from the same place: the input its clause gives, or an empty one.
        value: object = {}
        if item.input_expr is not None:
            output = str(interpreter.query_bundle_entrypoint(
                bundle, prefix + _INPUT_RULE + item.test.name))  # type: ignore[arg-type]
            if output == "undefined":
                return RegoTestResult(item.test, False, "its `with input as` value is undefined")
            value = json.loads(output)["expressions"][0]
        interpreter.set_input(rego_input(value))
        output = str(interpreter.query_bundle_entrypoint(
            bundle, prefix + item.test.name))  # type: ignore[arg-type]
    except Exception as exc:
        output = f"error: {_first_line(exc)}"
    passed = output == _TRUE
    return RegoTestResult(item.test, passed, "" if passed else f"got {output[:300]}")


def _first_line(error: object) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Rego unit tests of a policy directory.")
    parser.add_argument("policy_dir", nargs="?", type=Path, default=default_policy_dir())
    parser.add_argument("--jsonl", action="store_true", help="one JSON record per line")
    args = parser.parse_args(argv)
    failed = total = 0
    for result in _run_in_process(args.policy_dir, announce=args.jsonl):
        total += 1
        failed += not result.passed
        if args.jsonl:
            print(_RECORD + json.dumps({"test": asdict(result.test), "passed": result.passed,
                                        "detail": result.detail}), flush=True)
        elif not result.passed:
            print(f"FAIL {result.test.id}: {result.detail}")
    if not args.jsonl:
        print(f"{total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
