"""Every module's `script:` and `stub:` run as rendered from its contract fixture (tests/contracts.py)."""

import re

import pytest

from contracts import (
    BIN_DIR,
    ContractError,
    command_lines,
    module_dirs,
    parse_module,
    render_gstring,
    run_contract,
)

MODULES = module_dirs()
MODULE_IDS = [path.name for path in MODULES]


def test_there_are_modules():
    assert MODULES, "no modules/local/*/main.nf found"


@pytest.mark.parametrize("module_dir", MODULES, ids=MODULE_IDS)
def test_module_has_contract_fixture(module_dir):
    assert (module_dir / "tests" / "contract.json").exists(), f"modules/local/{module_dir.name} has no tests/contract.json"


@pytest.mark.parametrize("module_dir", MODULES, ids=MODULE_IDS)
def test_script_is_one_bin_command(module_dir):
    spec = parse_module(module_dir / "main.nf")
    lines = command_lines(spec.script)
    assert len(lines) == 1, f"{spec.name}: script must be one command line, found {len(lines)}: {lines}"
    program = lines[0].split()[0]
    assert (BIN_DIR / program).is_file(), f"{spec.name}: script calls {program!r}, which is not a bin/ script"
    shell_part = re.sub(r"\$\{[^}]*\}", "", lines[0])  # Groovy expressions may hold `?:` or `|`
    assert not re.search(r"&&|\|\||;|\|", shell_part), f"{spec.name}: script chains commands: {lines[0]}"


@pytest.mark.parametrize("module_dir", MODULES, ids=MODULE_IDS)
def test_script_contract(module_dir, tmp_path):
    spec = parse_module(module_dir / "main.nf")
    assert spec.outputs, f"{spec.name}: no path(...) outputs declared"
    try:
        run_contract(spec, tmp_path)
    except ContractError as error:
        pytest.fail(str(error))


@pytest.mark.parametrize("module_dir", MODULES, ids=MODULE_IDS)
def test_stub_contract(module_dir, tmp_path):
    spec = parse_module(module_dir / "main.nf")
    try:
        run_contract(spec, tmp_path, stub=True)
    except ContractError as error:
        pytest.fail(str(error))


# The framework itself, on hand-written modules: a contract that cannot fail proves nothing.

TOY_MODULE = r'''
process TOY {
    label 'process_single'

    input:
    tuple val(meta), path(fasta)

    output:
    tuple val(meta), path("${meta.id}.txt"), emit: text   // the result
    path "extra_*.log", optional: true, emit: logs
    tuple val("${task.process}"), val('utrbench'), eval('echo 1.0'), topic: versions

    script:
    def args = task.ext.args ?: ''
    """
    cat $fasta \\
        > ${meta.id}.txt ${args}
    """

    stub:
    """
    touch ${meta.id}.txt
    """
}
'''


@pytest.fixture
def toy_module(tmp_path):
    main_nf = tmp_path / "toy" / "main.nf"
    (main_nf.parent / "tests").mkdir(parents=True)
    main_nf.write_text(TOY_MODULE)
    return main_nf


def write_fixture(main_nf, values, setup=()):
    import json

    (main_nf.parent / "tests" / "contract.json").write_text(json.dumps({"setup": list(setup), "values": values}))


def test_parse_module_reads_script_stub_outputs(toy_module):
    spec = parse_module(toy_module)
    assert spec.script == "\n    cat $fasta \\\\\n        > ${meta.id}.txt ${args}\n    "
    assert spec.stub == "\n    touch ${meta.id}.txt\n    "
    assert [(o.pattern, o.emit, o.optional) for o in spec.outputs] == [
        ("${meta.id}.txt", "text", False),
        ("extra_*.log", "logs", True),
    ]
    assert spec.eval_commands == ["echo 1.0"]


def test_render_gstring_follows_groovy_escapes():
    values = {"meta.id": "toy", "x": "1", "task.ext.args ?: ''": "--fast"}
    source = 'a \\$HOME ${x} $meta.id, \\\\\nb \\\nc \\"q\\" ${ task.ext.args ?: \'\' }'
    assert render_gstring(source, values) == 'a $HOME 1 toy, \\\nb c "q" --fast'


def test_render_gstring_names_missing_expressions():
    with pytest.raises(ContractError, match=r"no fixture value for meta.id, size"):
        render_gstring("--out ${meta.id} --size $size", {})


def test_render_gstring_rejects_bare_dollar():
    with pytest.raises(ContractError, match="unescaped"):
        render_gstring("echo $(id -u)", {})


def test_command_lines_joins_continuations():
    assert command_lines("\n  a.py --x 1 \\\\\n    --y 2\n") == ["a.py --x 1 --y 2"]
    assert len(command_lines("\n a.py\n b.py\n")) == 2


def test_run_contract_passes_and_checks_outputs(toy_module, tmp_path):
    write_fixture(toy_module, {"meta.id": "toy", "fasta": "in.fa", "args": ""}, setup=["echo '>s' > in.fa"])
    workdir = tmp_path / "run"
    workdir.mkdir()
    assert run_contract(parse_module(toy_module), workdir) == ["toy.txt"]
    assert (workdir / "toy.txt").read_text() == ">s\n"


def test_run_contract_fails_on_missing_output(toy_module, tmp_path):
    write_fixture(toy_module, {"meta.id": "toy", "fasta": "in.fa", "args": "; rm toy.txt"}, setup=["touch in.fa"])
    with pytest.raises(ContractError, match=r"declared output 'toy.txt' \(emit: text\) was not created"):
        run_contract(parse_module(toy_module), tmp_path)


def test_run_contract_fails_on_command_error(toy_module, tmp_path):
    write_fixture(toy_module, {"meta.id": "toy", "fasta": "absent.fa", "args": ""})
    with pytest.raises(ContractError, match="script exited 1"):
        run_contract(parse_module(toy_module), tmp_path)


def test_run_contract_requires_fixture(toy_module, tmp_path):
    with pytest.raises(ContractError, match="has no tests/contract.json"):
        run_contract(parse_module(toy_module), tmp_path)
