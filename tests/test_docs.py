"""The documentation: every equation has its section and function; every public name its docs."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import kronconv

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _sections(text: str) -> dict[str, str]:
    """Section title -> body, for the '---' underlined sections of an .rst page."""
    parts = re.split(r"\n(.+)\n-{3,}\n", text)
    return {parts[k].strip(): parts[k + 1] for k in range(1, len(parts) - 1, 2)}


@pytest.mark.parametrize("k", range(1, 10))
def test_derivation_rst_has_a_section_per_equation_naming_its_function(k):
    sections = _sections((DOCS / "derivation.rst").read_text(encoding="utf-8"))
    titles = [t for t in sections if t.startswith(f"Equation ({k})")]
    assert len(titles) == 1, f"no section for equation ({k})"
    body = sections[titles[0]]
    functions = re.findall(r":(?:func|class):`(kronconv\.\w+)`", body)
    assert functions, f"the section of equation ({k}) names no function"
    for name in functions:
        assert hasattr(kronconv, name.split(".")[1]), name
    assert ".. math::" in body
    assert ">>>" in body, f"the section of equation ({k}) has no example"


def test_derivation_rst_has_objective_and_forward_pass_sections():
    sections = _sections((DOCS / "derivation.rst").read_text(encoding="utf-8"))
    assert ":func:`kronconv.objective_and_gradient`" in sections["The network objective"]
    assert ":func:`kronconv.conv_S`" in sections["The forward pass"]


def test_api_rst_lists_every_public_name():
    api = (DOCS / "api.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   (\w+)$", api, re.M)) | set(re.findall(r"\.\. data:: (\w+)", api))
    assert set(kronconv.__all__) - {"__version__"} <= listed


PUBLIC_FUNCTIONS = [name for name in kronconv.__all__
                    if inspect.isfunction(getattr(kronconv, name))]


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_public_function_docstrings_have_parameters_returns_examples(name):
    doc = inspect.getdoc(getattr(kronconv, name)) or ""
    assert "Examples\n--------" in doc, f"{name} has no Examples section"
    params = list(inspect.signature(getattr(kronconv, name)).parameters)
    if params:
        assert "Parameters\n----------" in doc, f"{name} has no Parameters section"
    assert "Returns\n-------" in doc, f"{name} has no Returns section"
