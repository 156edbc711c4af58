"""The package ships like one: its licence (and simpleNN's), a valid citation, a changelog
entry for its version, type information, and a torch extra that leaves CI's pin alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kronconv

ROOT = Path(kronconv.__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
BSD3_CLAUSES = ("Redistributions of source code must retain the above copyright",
                "Redistributions in binary form must reproduce the above copyright",
                "may be used to endorse or promote products derived from")


def _release(version: str) -> tuple[int, ...]:
    """``"2.13.0"`` -> ``(2, 13, 0)``."""
    return tuple(int(part) for part in re.match(r"\d+(\.\d+)*", version)[0].split("."))


def test_license_is_an_spdx_expression_with_the_build_requirement_that_reads_it():
    assert PROJECT["license"] == "BSD-3-Clause"
    assert not any(c.startswith("License ::") for c in PROJECT.get("classifiers", ()))
    (setuptools,) = [r for r in PYPROJECT["build-system"]["requires"]
                     if r.startswith("setuptools")]
    assert _release(setuptools.split(">=")[1]) >= (77, 0, 3)


def test_license_files_exist_and_are_bsd_3_clause():
    files = PROJECT["license-files"]
    assert files[0] == "LICENSE"
    assert "kronconv/datasets/COPYRIGHT" in files          # simpleNN's data, in the wheel
    for name in files:
        text = (ROOT / name).read_text(encoding="utf-8")
        assert all(clause in text for clause in BSD3_CLAUSES), name
    assert "Copyright (c) 2026, the kronconv developers" in (ROOT / "LICENSE").read_text()
    assert "The simpleNN Project" in (ROOT / "kronconv/datasets/COPYRIGHT").read_text()


def test_vendored_simplenn_keeps_its_own_notice():
    text = (ROOT / "tests/simplenn/MATLAB/COPYRIGHT").read_text(encoding="utf-8")
    assert "Copyright (c) 2007-2019 The simpleNN Project." in text
    assert all(clause in text for clause in BSD3_CLAUSES)


def test_py_typed_ships_in_the_package():
    assert (ROOT / "kronconv" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["kronconv"]


def test_citation_is_cff_1_2_0_of_this_version_and_licence():
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    fields = dict(re.findall(r"^([\w-]+): \"?([^\"\n]*)\"?$", text, re.M))
    assert fields["cff-version"] == "1.2.0"
    assert fields["version"] == PROJECT["version"]
    assert fields["license"] == PROJECT["license"]
    assert fields["title"] == PROJECT["name"]
    for required in ("message", "authors"):              # CFF 1.2.0's required keys
        assert re.search(rf"^{required}:", text, re.M), required


def test_changelog_starts_with_this_version():
    headings = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"),
                          re.M)
    assert headings[0] == PROJECT["version"]
    assert len(headings) == len(set(headings))


def test_torch_extra_has_a_lower_bound_only_and_ci_keeps_its_pin():
    (requirement,) = PROJECT["optional-dependencies"]["torch"]
    name, bound = re.fullmatch(r"(torch)>=([\d.]+)", requirement).groups()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    pinned = re.search(r'pip install "torch==([\d.]+)"', ci)
    assert pinned, "CI installs an exact torch"
    assert _release(pinned[1]) >= _release(bound)        # the pin satisfies the extra
    installs = re.findall(r'pip install "\.\[([\w,]+)\]"', ci)
    assert ci.index(pinned[0]) < ci.index(".[")            # the pin comes first
    for extra in {e for group in installs for e in group.split(",")}:
        # no extra CI installs asks for torch, so pip never fetches another one
        assert not any(r.startswith(name) for r in PROJECT["optional-dependencies"][extra])
