"""Sphinx configuration of the skgsr documentation.

Build it from the repository root (the test suite does the same, in
``tests/test_docs.py``)::

    python -m sphinx -W -b html doc doc/_build/html

The gallery (``doc/examples/plot_*.py``) runs during the build. Set
``SKGSR_DOCS_SKIP_SLOW=1`` to skip the examples listed in ``SLOW_EXAMPLES``
below, or pass ``-D plot_gallery=0`` to build without running any example.
"""

import os
import sys
from datetime import date

HERE = os.path.dirname(os.path.abspath(__file__))
# the checkout's package first, so that the docs describe this tree's code
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "sphinxext"))

import skgsr  # noqa: E402

# --------------------------------------------------------------------- project
project = "skgsr"
author = "the skgsr developers"
copyright = f"{date.today().year}, {author}"
release = skgsr.__version__
version = ".".join(release.split(".")[:2])

# --------------------------------------------------------------------- general
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "examples/GALLERY_HEADER.rst"]
root_doc = "index"
default_role = "literal"
# No intersphinx: the build must work offline (CI reaches package registries
# only), so references to scikit-learn, numpy or matplotlib objects stay plain
# text.

# ---------------------------------------------------------------- autodoc etc.
autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
# numpydoc renders the sections; autosummary's class template lists the members
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# ---------------------------------------------------------------------- gallery
# Examples that take long enough to be worth skipping in a quick build; none
# yet. SKGSR_DOCS_SKIP_SLOW=1 leaves them out (they are still shown, not run).
SLOW_EXAMPLES = []


def _gallery_pattern():
    if os.environ.get("SKGSR_DOCS_SKIP_SLOW", "").strip() not in ("", "0"):
        slow = "|".join(name.replace(".", r"\.") for name in SLOW_EXAMPLES)
        if slow:
            return rf"/plot_(?!({slow})$)"
    return r"/plot_"


sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": _gallery_pattern(),
    # the papers' order, not alphabetical: sphinxext/skgsr_gallery.py
    "within_subsection_order": "skgsr_gallery.PaperOrder",
    "download_all_examples": False,
    "remove_config_comments": True,
    "capture_repr": ("_repr_html_",),
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "min_reported_time": 1,
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skgsr",),
    "reference_url": {"skgsr": None},
    "show_memory": False,
    "reset_modules": ("matplotlib", "skgsr_gallery.reset_warnings"),
}

os.environ.setdefault("MPLBACKEND", "Agg")

# ------------------------------------------------------------------------ html
html_theme = "pydata_sphinx_theme"
html_title = f"skgsr {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_show_sourcelink = False
html_context = {"default_mode": "light"}


# ---------------------------------------------------------------- autodoc hook
def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Leave out the methods a class inherits from scikit-learn.

    They are scikit-learn's API (``get_params``, ``set_output``, the metadata
    routing ``set_*_request`` methods...) and are documented there; their
    docstrings also refer to labels of scikit-learn's own documentation, which
    would be broken links here.
    """
    if what == "class" and (getattr(obj, "__module__", None) or "").startswith(
        "sklearn."
    ):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)
