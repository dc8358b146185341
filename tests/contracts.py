"""Module contracts: run a module's `script:` and `stub:` commands outside Nextflow.

Each ``modules/local/<name>/main.nf`` is read for its ``script:`` and ``stub:`` strings and
its ``output:`` paths. A fixture ``modules/local/<name>/tests/contract.json`` gives the value of
every Groovy expression the strings interpolate (CONTRIBUTING.md, "Module contract fixtures").
The strings are rendered as Groovy renders a triple-double-quoted GString, run with bash in an
empty directory (bin/ first on PATH, as Nextflow stages it), and every declared output must exist.

This is a reader for the small, regular subset of Nextflow the module conventions allow (one
process per file, sections on their own lines, script strings in triple double quotes), not a
Nextflow parser: anything outside that subset is reported as an error rather than guessed at.
"""

import glob
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN_DIR = PROJECT_DIR / "bin"
# Test-data generators: on PATH for fixtures' setup commands only, never for a pipeline task.
TEST_DATA_DIR = PROJECT_DIR / "tests" / "data"

# Section labels of a process body; each starts a section that runs until the next one.
SECTION_LABEL = re.compile(r"^\s*(input|output|when|script|shell|exec|stub|topic):\s*$")
# `path("x")`, `path 'x'`, with the quoted pattern captured (either quote, no nesting).
OUTPUT_PATH = re.compile(r"""\bpath\s*\(?\s*(?P<quote>["'])(?P<pattern>.*?)(?P=quote)""")
EVAL_COMMAND = re.compile(r"""\beval\s*\(\s*(?P<quote>["'])(?P<command>.*?)(?P=quote)\s*\)""")
EMIT_NAME = re.compile(r"\bemit:\s*(\w+)")
OPTIONAL = re.compile(r"\boptional:\s*true\b")
# Groovy `$name` interpolation: an identifier followed by any `.property` chain.
DOLLAR_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


class ContractError(Exception):
    """A module or fixture that breaks the conventions; the message says where and what."""


@dataclass
class OutputPath:
    """One ``path(...)`` of a process ``output:`` section."""

    pattern: str  # unrendered Groovy string, may interpolate and glob
    emit: str | None
    optional: bool


@dataclass
class ModuleSpec:
    """What a contract needs from one module's ``main.nf``."""

    name: str
    main_nf: Path
    script: str  # the raw GString source between the triple quotes
    stub: str | None
    outputs: list = field(default_factory=list)
    eval_commands: list = field(default_factory=list)

    @property
    def fixture_path(self) -> Path:
        return self.main_nf.parent / "tests" / "contract.json"


def module_dirs(root=PROJECT_DIR) -> list:
    """Every ``modules/local/<name>/`` folder that holds a ``main.nf``, sorted by name."""
    return sorted(path.parent for path in Path(root).glob("modules/local/*/main.nf"))


def _sections(lines):
    """Map each section label of the process body to its lines."""
    sections, current = {}, None
    for line in lines:
        match = SECTION_LABEL.match(line)
        if match:
            current = match.group(1)
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return sections


def _strip_comment(line: str) -> str:
    """``line`` without a trailing ``// comment`` (a ``//`` inside quotes is kept)."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif line.startswith("//", index):
            return line[:index]
    return line


def _triple_quoted(lines, where) -> str:
    """The first triple-double-quoted string in ``lines``; lines before it must be ``def`` lines."""
    text = "\n".join(lines)
    start = text.find('"""')
    if start < 0:
        raise ContractError(f"{where}: no triple-double-quoted string.")
    for line in text[:start].splitlines():
        if line.strip() and not line.strip().startswith(("def ", "//")):
            raise ContractError(f"{where}: only `def` lines may precede the string, found {line.strip()!r}.")
    end = start + 3
    while True:
        end = text.find('"""', end)
        if end < 0:
            raise ContractError(f"{where}: unterminated triple-quoted string.")
        if text[end - 1] != "\\":  # an escaped quote does not close the string
            return text[start + 3:end]
        end += 1


def parse_module(main_nf) -> ModuleSpec:
    """Read the script, stub and output paths of the one process in ``main_nf``."""
    main_nf = Path(main_nf)
    sections = _sections(main_nf.read_text().splitlines())
    where = str(main_nf.relative_to(PROJECT_DIR) if main_nf.is_relative_to(PROJECT_DIR) else main_nf)
    if "script" not in sections:
        raise ContractError(f"{where}: no `script:` section.")
    outputs, eval_commands = [], []
    for line in sections.get("output", []):
        code = _strip_comment(line)
        emit = EMIT_NAME.search(code)
        for match in OUTPUT_PATH.finditer(code):
            outputs.append(OutputPath(match.group("pattern"), emit.group(1) if emit else None, bool(OPTIONAL.search(code))))
        eval_commands += [match.group("command") for match in EVAL_COMMAND.finditer(code)]
    script = _triple_quoted(sections["script"], f"{where} script:")
    stub = _triple_quoted(sections["stub"], f"{where} stub:") if "stub" in sections else None
    return ModuleSpec(main_nf.parent.name, main_nf, script, stub, outputs, eval_commands)


def _closing_brace(text, open_index) -> int:
    """Index of the ``}`` that closes the ``{`` at ``open_index`` (braces in the expression nest)."""
    depth = 0
    for index in range(open_index, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise ContractError(f"unterminated ${{...}} in {text[open_index - 1:open_index + 40]!r}.")


def render_gstring(source: str, values: dict) -> str:
    """Render Groovy GString ``source`` with ``values`` keyed by expression text.

    As Groovy does for a triple-double-quoted string: ``\\\\`` is a backslash, ``\\$`` a dollar,
    ``\\"`` a quote, ``\\n``/``\\t`` a newline/tab, a backslash before a line break joins the
    lines; ``${expr}`` and ``$name.prop`` are interpolated. An expression missing from
    ``values`` raises :class:`ContractError` naming it.
    """
    escapes = {"\\": "\\", "$": "$", '"': '"', "'": "'", "n": "\n", "t": "\t", "\n": ""}
    out, index, missing = [], 0, []

    def value_of(expression):
        if expression not in values:
            missing.append(expression)
            return ""
        return str(values[expression])

    while index < len(source):
        char = source[index]
        if char == "\\" and index + 1 < len(source):
            following = source[index + 1]
            if following not in escapes:
                raise ContractError(f"unsupported escape \\{following} in {source!r}.")
            out.append(escapes[following])
            index += 2
        elif char == "$" and source[index + 1:index + 2] == "{":
            close = _closing_brace(source, index + 1)
            out.append(value_of(source[index + 2:close].strip()))
            index = close + 1
        elif char == "$" and (match := DOLLAR_NAME.match(source, index + 1)):
            out.append(value_of(match.group(0)))
            index = match.end()
        elif char == "$":  # Groovy rejects a bare dollar in a GString at compile time
            raise ContractError(f"unescaped $ (write \\$ for bash) in {source[index:index + 30]!r}.")
        else:
            out.append(char)
            index += 1
    if missing:
        raise ContractError(f"no fixture value for {', '.join(sorted(set(missing)))}.")
    return "".join(out)


def command_lines(source: str) -> list:
    """The non-blank lines of a script string after joining ``\\`` line continuations.

    Whitespace runs are collapsed to one space, so lines compare the way bash splits them.
    """
    joined = re.sub(r"\\\\?\n", " ", source)
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


def load_fixture(spec: ModuleSpec) -> dict:
    """The module's contract.json, with ``${PROJECT_DIR}`` expanded in its values."""
    if not spec.fixture_path.exists():
        raise ContractError(f"modules/local/{spec.name} has no tests/contract.json (see CONTRIBUTING.md).")
    try:
        fixture = json.loads(spec.fixture_path.read_text())
    except json.JSONDecodeError as error:
        raise ContractError(f"{spec.fixture_path}: not valid JSON ({error}).") from None
    unknown = set(fixture) - {"setup", "values"}
    if unknown or not isinstance(fixture.get("values"), dict):
        raise ContractError(f"{spec.fixture_path}: expected keys 'setup' (list) and 'values' (object).")
    values = {key: str(value).replace("${PROJECT_DIR}", str(PROJECT_DIR)) for key, value in fixture["values"].items()}
    return {"setup": list(fixture.get("setup", [])), "values": values}


def task_environment() -> dict:
    """PATH as a Nextflow task sees it (bin/ first, then this Python's environment), plus the test-data generators."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN_DIR), str(TEST_DATA_DIR), str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PROJECT_DIR"] = str(PROJECT_DIR)
    return env


def _run_bash(script, workdir, env, what):
    """Run ``script`` as Nextflow does (``bash -ue``); raise with its output when it fails."""
    result = subprocess.run(["bash", "-ue", "-c", script], cwd=workdir, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise ContractError(f"{what} exited {result.returncode}:\n$ {script}\n{result.stdout}{result.stderr}")
    return result.stdout


def run_contract(spec: ModuleSpec, workdir, stub=False) -> list:
    """Run setup then the rendered script (or stub) in ``workdir``; return the outputs found.

    Raises :class:`ContractError` when a command fails or a non-optional output is missing.
    """
    fixture = load_fixture(spec)
    env = task_environment()
    source = spec.stub if stub else spec.script
    if source is None:
        raise ContractError(f"modules/local/{spec.name} has no `stub:` section.")
    for command in fixture["setup"]:
        _run_bash(command, workdir, env, f"{spec.name} setup")
    rendered = render_gstring(source, fixture["values"])
    _run_bash(rendered, workdir, env, f"{spec.name} {'stub' if stub else 'script'}")
    if not stub:  # the eval outputs run after the script, in the task directory
        for command in spec.eval_commands:
            _run_bash(render_gstring(command, fixture["values"]), workdir, env, f"{spec.name} eval({command!r})")
    found = []
    for output in spec.outputs:
        pattern = render_gstring(output.pattern, fixture["values"])
        matches = sorted(glob.glob(pattern, root_dir=workdir))
        if not matches and not output.optional:
            name = f" (emit: {output.emit})" if output.emit else ""
            raise ContractError(f"{spec.name} {'stub' if stub else 'script'}: declared output {pattern!r}{name} was not created.")
        found += matches
    return found
