"""The documentation: every equation has its section and function; every public name its docs."""

from __future__ import annotations

import ast
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


def _conf_extensions() -> list[str]:
    """The ``extensions`` list of docs/conf.py, read from its syntax tree (not run)."""
    tree = ast.parse((DOCS / "conf.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == "extensions"):
            return ast.literal_eval(node.value)
    raise AssertionError("docs/conf.py sets no extensions")


def test_docs_conf_renders_math_with_a_shipped_mathjax():
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert "sphinx-mathjax-offline" in _conf_extensions()
    assert not re.search(r"^mathjax_path\s*=", conf, re.M)   # the package sets its own copy
    pyproject = (DOCS.parent / "pyproject.toml").read_text(encoding="utf-8")
    docs_extra = re.search(r"^docs = \[(.*)\]$", pyproject, re.M)[1]
    assert '"sphinx-mathjax-offline==' in docs_extra


def test_docs_math_loads_a_local_mathjax_that_the_build_ships(tmp_path):
    """A one-page build with the docs' math extensions: the page's only MathJax script is a
    file of the build's own _static, which exists, and no script is loaded from a URL."""
    pytest.importorskip("sphinx")
    from sphinx.application import Sphinx

    math = [name for name in _conf_extensions() if "mathjax" in name]
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "conf.py").write_text(f"extensions = {math!r}\n", encoding="utf-8")
    (tmp_path / "src" / "index.rst").write_text(
        "Math\n====\n\n:math:`f(\\theta) = \\theta^T \\theta / (2 C l)`\n", encoding="utf-8")
    out = tmp_path / "html"
    app = Sphinx(tmp_path / "src", tmp_path / "src", out, tmp_path / "doctrees", "html",
                 status=None, warning=None, freshenv=True, warningiserror=True)
    app.build()
    page = (out / "index.html").read_text(encoding="utf-8")
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', page)
    assert not [s for s in sources if "://" in s or s.startswith("//")], sources
    mathjax = [s for s in sources if "mathjax" in s.lower()]
    assert len(mathjax) == 1, sources
    script = out / mathjax[0].split("?")[0]
    assert script.is_file()
    assert script.stat().st_size > 100_000                            # MathJax, not a stub
    assert (script.parent / "output" / "chtml" / "fonts" / "woff-v2").is_dir()   # its fonts
    assert 'class="math' in page
    assert "\\theta^T" in page


def test_every_page_is_in_the_index_toctree():
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   (\w+)$", index, re.M))
    pages = {p.stem for p in DOCS.glob("*.rst") if not p.stem.startswith("_")} - {"index"}
    assert listed == pages


def test_golden_page_documents_every_key_and_meta_field():
    from kronconv.golden import GOLDEN_FIELDS, golden_array_specs

    page = (DOCS / "golden.rst").read_text(encoding="utf-8")
    arch = kronconv.Architecture.preset("digits")
    keys = {re.sub(r"^(conv|full)\d+\.", r"\1{m}.", s.name)
            for s in golden_array_specs(arch, 2, "float64")}
    assert {"conv{m}.phi", "full{m}.grad_W", "Gv"} <= keys
    for key in keys | {"meta"}:
        assert f"``{key}``" in page, f"golden.rst does not document {key}"
    for field in GOLDEN_FIELDS:
        assert f"``{field.name}``" in page, f"golden.rst does not document meta's {field.name}"
    assert "literalinclude:: golden_reader.py" in page


def test_architecture_page_documents_every_key():
    from dataclasses import fields

    page = (DOCS / "architecture.rst").read_text(encoding="utf-8")
    sections = _sections(page)["Every key"]
    names = {f.name for kind in (kronconv.ConvSpec, kronconv.FullSpec) for f in fields(kind)}
    for key in names | {"input", "conv", "full", "name"}:
        assert f"   * - ``{key}``" in sections, f"architecture.rst does not document {key}"
    for name in kronconv.ACTIVATIONS:
        assert f'``"{name}"``' in sections


def test_every_shared_docstring_section_is_filled_and_used():
    import importlib
    import pkgutil

    from kronconv._docstrings import SECTIONS

    used = set()
    for info in pkgutil.iter_modules(kronconv.__path__):
        if info.name == "_docstrings":                # the sections' home, its own example
            continue
        module = importlib.import_module(f"kronconv.{info.name}")
        source = Path(module.__file__).read_text(encoding="utf-8")
        used |= {name for name in SECTIONS if f"%({name})s" in source}
        for name, obj in vars(module).items():
            for target in [obj, *(vars(obj).values() if isinstance(obj, type) else [])]:
                doc = getattr(target, "__doc__", None)
                assert not (isinstance(doc, str) and "%(raises" in doc), (info.name, name)
    assert used == set(SECTIONS)                     # no section left without a user
    doc = kronconv.objective.__doc__                 # filled, at the placeholder's indent
    assert "\n    ~kronconv.MemoryLimitError\n        If the pass would exceed" in doc
