"""Sphinx configuration: ``python -m sphinx -W -n -b html docs docs/_build/html``."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

import kronconv_figures  # noqa: E402

import kronconv  # noqa: E402

kronconv_figures.write_inventories(HERE / "_generated")

project = "kronconv"
author = "the kronconv developers"
release = version = kronconv.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    # MathJax 3 shipped with the package and copied into the build's _static/mathjax: the
    # equations render without network access (it sets mathjax_path to the local copy)
    "sphinx-mathjax-offline",
    "sphinx.ext.intersphinx",
    "kronconv_figures",
    "layout_figure",
]
exclude_patterns = ["_build", "_generated/*.py"]
autosummary_generate = True
autodoc_typehints = "none"          # the numpydoc sections give the types and shapes
autodoc_member_order = "bysource"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
napoleon_use_param = False          # "ndarray of shape (d, a*b)" is prose, not a class to link
napoleon_use_ivar = True
html_theme = "alabaster"
html_static_path = []
nitpicky = True
# numpydoc types are prose ("ndarray of shape (d, a*b)", "int"): only dotted names, which
# are real objects (kronconv.LayerShape, scipy.sparse.csr_array), must resolve.
# matplotlib's classes have no inventory here (the build reads none from the network).
nitpick_ignore_regex = [("py:class", r"[^.]+"), ("py:class", r"matplotlib\..+")]
templates_path = ["_templates"]
# The inventories are written by kronconv_figures from the names the docs link to (no
# network at build time); the links point at the published numpy and scipy docs.
intersphinx_mapping = {
    "numpy": ("https://numpy.org/doc/stable/", str(HERE / "_generated" / "numpy.inv")),
    "scipy": ("https://docs.scipy.org/doc/scipy/", str(HERE / "_generated" / "scipy.inv")),
}
