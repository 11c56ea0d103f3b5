"""Packaging for skgsr: Graph Spectral Regularization for scikit-learn."""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    with open(os.path.join(HERE, "skgsr", "__init__.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def read_readme():
    with open(os.path.join(HERE, "README.rst"), encoding="utf-8") as f:
        return f.read()


EXTRAS = {
    "plot": ["matplotlib>=3.6"],
    "dist": ["dask[distributed]>=2023.1"],
    "graph": ["networkx>=2.8"],
}
EXTRAS["test"] = [
    "pytest>=7",
    "pytest-timeout",
    # the README's test command runs on every core (-n auto in pyproject.toml)
    "pytest-xdist>=3",
    "hypothesis>=6",
    "ruff>=0.4",
    "pandas>=1.5",
    "pygsp>=0.5.1",
    "skorch>=0.15",
    *EXTRAS["plot"],
    *EXTRAS["dist"],
    *EXTRAS["graph"],
]
EXTRAS["docs"] = [
    "sphinx>=7",
    "numpydoc>=1.6",
    # GALLERY_HEADER.rst (the gallery's index) needs sphinx-gallery 0.17
    "sphinx-gallery>=0.17",
    "pydata-sphinx-theme>=0.15",
    "pillow",
    *EXTRAS["plot"],
    *EXTRAS["graph"],
]
# The test suite builds the documentation (tests/test_docs.py), gallery included,
# so the README's install command ".[test]" brings what the build needs.
EXTRAS["test"] += [r for r in EXTRAS["docs"] if r not in EXTRAS["test"]]

setup(
    name="skgsr",
    version=read_version(),
    description=(
        "Graph Spectral Regularization: scikit-learn estimators whose hidden "
        "layer is structured by a graph penalty (PyTorch core)."
    ),
    long_description=read_readme(),
    long_description_content_type="text/x-rst",
    license="BSD-3-Clause",
    packages=find_packages(include=["skgsr", "skgsr.*"]),
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.23",
        "scipy>=1.9",
        "scikit-learn>=1.6",
        "torch>=2.1",
        "joblib>=1.2",
    ],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["skgsr=skgsr.__main__:main"]},
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Science/Research",
        "License :: OSI Approved :: BSD License",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
