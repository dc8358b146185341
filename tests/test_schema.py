"""nextflow_schema.json and the params of nextflow.config (and the profiles' conf/*.config) agree.

nf-schema validates params against the schema and Seqera Platform builds its launch form from it,
so a param missing from either side, or a default that differs, is a bug users would see.
"""

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

PROJECT_DIR = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((PROJECT_DIR / "nextflow_schema.json").read_text())
PROFILE_CONFIGS = sorted((PROJECT_DIR / "conf").glob("*.config"))

# `name = value`, optionally followed by a `// comment`; the value is one quoted string or one word.
ASSIGNMENT = re.compile(r"""^(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s/]+)\s*(?://.*)?$""")
SINGLE_QUOTED = re.compile(r"^'(?P<text>(?:[^'\\]|\\.)*)'$")
DOUBLE_QUOTED = re.compile(r'^"(?P<text>(?:[^"\\$]|\\.)*)"$')  # no `$`: an interpolated default is not static
# Profiles may point at bundled files; `${projectDir}` is the only interpolation allowed there.
PROJECT_PATH = re.compile(r'^"\$\{projectDir\}(?P<text>/[^"$\\]*)"$')
INTEGER = re.compile(r"^-?\d+$")
DECIMAL = re.compile(r"^-?\d+\.\d+$")
JSON_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool}


def parse_value(text, where):
    """A Groovy literal as Python: quoted string, true/false, null, integer or decimal."""
    for pattern in (SINGLE_QUOTED, DOUBLE_QUOTED):
        match = pattern.match(text)
        if match:
            return re.sub(r"\\(.)", r"\1", match.group("text"))
    match = PROJECT_PATH.match(text)
    if match:
        return str(PROJECT_DIR) + match.group("text")
    literals = {"true": True, "false": False, "null": None}
    if text in literals:
        return literals[text]
    if INTEGER.match(text):
        return int(text)
    if DECIMAL.match(text):
        return float(text)
    raise ValueError(f"{where}: not a simple literal: {text!r}")


def parse_params_blocks(text, where="config"):
    """The ``name = value`` lines of every top-level ``params { ... }`` block of a config file.

    Deliberately small: a block opens with ``params {`` at the start of a line and closes with
    ``}`` at the start of a line; inside, every line must be blank, a ``//`` comment or a simple
    assignment. Anything else raises, so a param can never be skipped silently.
    """
    params, inside = {}, False
    for number, line in enumerate(text.splitlines(), start=1):
        if not inside:
            inside = re.match(r"^params\s*\{\s*$", line) is not None
            continue
        if line.startswith("}"):
            inside = False
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        match = ASSIGNMENT.match(stripped)
        if not match:
            raise ValueError(f"{where}:{number}: not a `name = value` line: {stripped!r}")
        params[match.group("name")] = parse_value(match.group("value"), f"{where}:{number}")
    if inside:
        raise ValueError(f"{where}: params block not closed")
    return params


def schema_properties(schema):
    """``{name: property}`` over the groups the schema pulls in with ``allOf``."""
    properties = {}
    for reference in schema["allOf"]:
        group = reference["$ref"].removeprefix("#/$defs/")
        for name, definition in schema["$defs"][group]["properties"].items():
            assert name not in properties, f"{name} is in two groups"
            properties[name] = definition
    return properties


CONFIG_PARAMS = parse_params_blocks((PROJECT_DIR / "nextflow.config").read_text(), "nextflow.config")
PROPERTIES = schema_properties(SCHEMA)


def test_parser_reads_literals_and_comments():
    text = (
        "x = 1\n"
        "params {\n"
        "    // a comment\n"
        "    name  = 'a//b' // trailing comment\n"
        '    other = "q"\n'
        "\n"
        "    flag  = false\n"
        "    count = -3\n"
        "    rate  = 0.25\n"
        "    unset = null\n"
        "}\n"
        "y = 2\n"
    )
    assert parse_params_blocks(text) == {"name": "a//b", "other": "q", "flag": False, "count": -3, "rate": 0.25, "unset": None}


@pytest.mark.parametrize("line", ["    x = params.y", '    x = "${z}"', "    x", "    if (a) { b = 1 }"])
def test_parser_rejects_what_it_cannot_read(line):
    with pytest.raises(ValueError):
        parse_params_blocks(f"params {{\n{line}\n}}\n")


def test_schema_is_valid_draft_2020_12():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_every_group_is_used():
    used = {reference["$ref"].removeprefix("#/$defs/") for reference in SCHEMA["allOf"]}
    assert used == set(SCHEMA["$defs"])


def test_config_and_schema_declare_the_same_params():
    assert sorted(CONFIG_PARAMS) == sorted(PROPERTIES)


@pytest.mark.parametrize("name", sorted(CONFIG_PARAMS))
def test_schema_default_matches_config(name):
    definition, config_default = PROPERTIES[name], CONFIG_PARAMS[name]
    if config_default is None:
        # A null default is "unset"; the schema omits it (a "null"/"None" default breaks launch forms).
        assert "default" not in definition
        return
    assert definition["default"] == config_default
    expected_type = JSON_TYPES[definition["type"]]
    assert isinstance(definition["default"], expected_type) and not (
        definition["type"] != "boolean" and isinstance(definition["default"], bool)
    ), f"{name}: default {definition['default']!r} is not a JSON {definition['type']}"


def test_config_defaults_validate_against_schema():
    instance = {name: value for name, value in CONFIG_PARAMS.items() if value is not None}
    errors = [error.message for error in Draft202012Validator(SCHEMA).iter_errors(instance)]
    assert not errors


@pytest.mark.parametrize("config", PROFILE_CONFIGS, ids=[path.name for path in PROFILE_CONFIGS])
def test_profile_params_are_declared_and_valid(config):
    params = parse_params_blocks(config.read_text(), config.name)
    assert set(params) <= set(PROPERTIES), f"undeclared: {sorted(set(params) - set(PROPERTIES))}"
    instance = {**CONFIG_PARAMS, **params}
    instance = {name: value for name, value in instance.items() if value is not None}
    errors = [error.message for error in Draft202012Validator(SCHEMA).iter_errors(instance)]
    assert not errors


# The params that switch each part of the benchmark on; test_full must set every one.
FULL_BENCHMARK_INPUTS = ["utr_gtf", "utr_genome", "utr_hal", "utr_species", "models", "phylop_bigwig", "cadd_tsv",
                         "mpra_tables", "halflife_table", "expression_genome", "expression_gtf", "expression_table",
                         "rbp_eclip", "rbp_motifs",
                         "variants_clinvar", "variants_gnomad", "variants_eqtl", "variants_cadd"]
README = (PROJECT_DIR / "README.md").read_text()


def readme_section(title):
    """The text of the README's ``## title`` section, up to the next ``## ``."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else len(README)]


def test_full_profile_runs_every_task_on_real_inputs():
    params = parse_params_blocks((PROJECT_DIR / "conf" / "test_full.config").read_text(), "test_full.config")
    assert [name for name in FULL_BENCHMARK_INPUTS if not params.get(name)] == []
    bundled = {name: value for name, value in params.items() if isinstance(value, str) and str(PROJECT_DIR) in value}
    assert bundled == {}, "test_full must not read the bundled test data"


def test_full_profile_inputs_are_documented_in_the_readme():
    """Every file test_full reads is named in the README's download section, so neither drifts alone."""
    params = parse_params_blocks((PROJECT_DIR / "conf" / "test_full.config").read_text(), "test_full.config")
    section = readme_section("Full benchmark (`test_full`)")
    file_names = {name: value.split("/")[-1] for name, value in params.items()
                  if PROPERTIES[name]["type"] == "string" and name in FULL_BENCHMARK_INPUTS}
    assert {name: file_name for name, file_name in file_names.items() if file_name not in section} == {}


def test_every_param_sits_in_a_described_group():
    """Seqera Platform and --help list params by group; a top-level property would be shown in none."""
    assert "properties" not in SCHEMA
    for name, group in SCHEMA["$defs"].items():
        assert group.get("title") and group.get("description") and group.get("fa_icon"), name


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_every_param_has_launch_form_text(name):
    """The launch form shows the description, the help text behind it and the icon of every param."""
    definition = PROPERTIES[name]
    assert [key for key in ("description", "help_text", "fa_icon") if not definition.get(key)] == []
    assert re.fullmatch(r"fa[bsr] fa-[a-z0-9-]+", definition["fa_icon"]), definition["fa_icon"]
    assert definition["help_text"] != definition["description"]
