"""The README stays true: its example runs, and CI runs exactly its test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_README_has_two_setup_commands_and_ci_runs_its_test_command():
    commands = [line for block in _blocks("bash") for line in block.splitlines()
                if "python3 -m venv" in line]
    assert len(commands) == 2
    main_job, test_command = commands
    assert main_job.endswith("kronconv verify")
    assert test_command.endswith("-m pytest")
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci_lines


def test_README_examples_run(capsys):
    layer, network = _blocks("python")
    namespace: dict = {}
    exec(compile(layer, "README.md", "exec"), namespace)
    assert "Compressed Sparse Row sparse array" in capsys.readouterr().out
    exec(compile(network, "README.md", "exec"), namespace)       # uses the first block's names
    assert capsys.readouterr().out.startswith("62026 ")


_COMMAND = re.compile(r"(?:^|&&\s*)(\S*?)(python3?|pip3?|kronconv|asv|pytest|sphinx-build)\s")


def test_README_commands_go_through_the_venv():
    """Every command to run (in a code block, or inline from pip, python or asv) names the
    venv's executable: nothing is installed into whichever Python is first on PATH. Only
    ``python3 -m venv .venv`` needs the system's Python."""
    commands = [line.strip() for language in ("bash", "text") for block in _blocks(language)
                for line in block.splitlines()]
    commands += [" ".join(span.split()) for span in re.findall(r"(?<!`)`([^`]+)`(?!`)", README)
                 if re.match(r"(python3?|pip3?|asv|\.venv/bin/)\s?", span)]
    found = 0
    for command in commands:
        for prefix, _ in _COMMAND.findall(command.replace("python3 -m venv .venv", "")):
            assert prefix == ".venv/bin/", command
            found += 1
    assert found >= 20          # the set-up, training, docs, benchmarks, extras' installs
