"""Small dense solves on the request path.

Folding a shopper into a factor model solves one k x k system that is symmetric positive definite by
construction (a Gram matrix plus a ridge term). LAPACK's Cholesky solver answers it in about half the time
of numpy's general solver, most of which is call overhead at this size; should the matrix not be positive
definite after all (a zero ridge on degenerate factors), the general solver decides.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack


def solve_spd(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``matrix @ x = rhs`` for a symmetric positive definite ``matrix`` (float64)."""
    _, solution, info = lapack.dposv(matrix, rhs, lower=1)
    if (
        info != 0
    ):  # not positive definite (or a bad argument): the general solver raises if singular
        return np.linalg.solve(matrix, rhs)
    return solution
