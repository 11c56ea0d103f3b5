"""Write ``pbmc68k_reduced.npz`` from scanpy's bundled copy (run once).

The single-cell gallery example reads this file instead of importing scanpy,
so that the documentation's dependencies stay small. It holds the
log-normalized expression of scanpy's ``pbmc68k_reduced`` (``adata.raw.X``,
700 cells x 765 genes, as a CSR matrix), the gene names
(``adata.raw.var_names``) and the cell types (``adata.obs["bulk_labels"]``);
README.md beside it says where the data come from and under which licenses.

Usage (needs ``pip install scanpy``; reads the file scanpy ships, downloads
nothing)::

    python doc/examples/data/make_pbmc68k_reduced.py
"""

import os
from importlib.metadata import version

import numpy as np
import scanpy as sc
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    adata = sc.datasets.pbmc68k_reduced()
    X = sp.csr_array(adata.raw.X, dtype=np.float32)
    X.sort_indices()
    np.savez_compressed(
        os.path.join(HERE, "pbmc68k_reduced.npz"),
        data=X.data,
        indices=X.indices.astype(np.int32),
        indptr=X.indptr.astype(np.int32),
        shape=np.array(X.shape),
        genes=np.asarray(adata.raw.var_names, dtype=str),
        cell_types=adata.obs["bulk_labels"].astype(str).to_numpy(dtype=str),
        scanpy_version=np.array(version("scanpy")),
    )


if __name__ == "__main__":
    main()
