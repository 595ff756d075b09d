"""Batched matrix exponential in pure NumPy (Pade 13 with scaling and squaring, Higham 2005) for the PK engine."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["expm_batched"]

# Higham (2005) "The scaling and squaring method for the matrix exponential revisited", SIAM J Matrix Anal
# Appl 26:1179-1193: Pade [13/13] coefficients and the 1-norm bound theta_13 below which no scaling is needed.
_B13 = (
    64764752532480000.0,
    32382376266240000.0,
    7771770303897600.0,
    1187353796428800.0,
    129060195264000.0,
    10559470521600.0,
    670442572800.0,
    33522128640.0,
    1323241920.0,
    40840800.0,
    960960.0,
    16380.0,
    182.0,
    1.0,
)
_THETA13 = 5.371920351148152


def expm_batched(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """Matrix exponential of each matrix in a stack.

    Parameters
    ----------
    a : ndarray, shape (N, n, n)
        Real square matrices.

    Returns
    -------
    ndarray, shape (N, n, n)
        ``exp(a[i])`` for every i, computed with the [13/13] Pade approximant after scaling each matrix by
        ``2**-s_i`` where ``s_i = max(0, ceil(log2(||a_i||_1 / theta_13)))``, then squaring ``s_i`` times. Each matrix
        keeps its own ``s_i`` (no over-scaling of small matrices in a batch). Exact up to rounding (relative error
        of order 1e-15 for the well-conditioned compartmental matrices used here), and valid for defective
        matrices (repeated eigenvalues, e.g. ka == k), where an eigen-decomposition would fail.
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise ValueError("expm_batched: expected an array of shape (N, n, n)")
    n = a.shape[1]
    norms = np.abs(a).sum(axis=1).max(axis=1)
    with np.errstate(divide="ignore"):
        s = np.where(norms > _THETA13, np.ceil(np.log2(np.maximum(norms, 1e-300) / _THETA13)), 0.0)
    s = s.astype(np.int64)
    scaled = a / (2.0**s)[:, None, None]
    ident = np.broadcast_to(np.eye(n), a.shape)
    a2 = scaled @ scaled
    a4 = a2 @ a2
    a6 = a4 @ a2
    b = _B13
    u_inner = b[13] * a6 + b[11] * a4 + b[9] * a2
    u = scaled @ (a6 @ u_inner + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * ident)
    v_inner = b[12] * a6 + b[10] * a4 + b[8] * a2
    v = a6 @ v_inner + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * ident
    result: NDArray[np.float64] = np.asarray(np.linalg.solve(v - u, v + u), dtype=np.float64)
    max_s = int(s.max()) if s.size else 0
    for k in range(max_s):
        mask = s > k
        if mask.all():
            result = result @ result
        else:
            result[mask] = result[mask] @ result[mask]
    return result
