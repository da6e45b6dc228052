"""Neighbourhood collaborative filtering: item-kNN over the implicit interaction matrix, and co-purchase.

Item-to-item models are the strongest single signal on basket data (and cheap to fold a shopper into:
a sparse vector-matrix product), so the hybrid leans on them for shoppers with a short history.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_BLOCK_CELLS = (
    8_000_000  # dense cells per block when computing similarities: bounded memory on big catalogues
)


def row_positions(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in a CSR matrix's ``indices``/``data`` of the given rows, concatenated, and each row's length.

    Gathering a handful of rows this way is several times cheaper than scipy's fancy indexing, which builds
    a new matrix with all its checks; the request path does it for every shopper.
    """
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    ends = np.cumsum(lengths)
    offsets = np.repeat(starts - (ends - lengths), lengths)
    return offsets + np.arange(int(ends[-1]) if len(ends) else 0), lengths


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for a 1-d integer array, by one sort: numpy's own
    took twice as long for the few hundred terms of a request's history."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.empty(len(ordered), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(len(ordered), dtype=np.intp)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def top_k_sparse(
    left: sp.csr_matrix,
    right: sp.spmatrix,
    k: int,
    *,
    norms: np.ndarray | None = None,
    shrinkage: float = 0.0,
    exclude_self: bool = True,
) -> sp.csr_matrix:
    """Row-wise top-k of ``left @ right`` as a sparse matrix, computed in dense row blocks.

    ``norms`` turns dot products into cosines (with ``shrinkage`` added to the denominator, which pulls
    similarities supported by few co-occurrences towards zero). Only positive similarities are kept.
    """
    n_rows, n_cols = left.shape[0], right.shape[1]
    k = max(0, min(k, n_cols - 1 if exclude_self else n_cols))
    if n_rows == 0 or k == 0:
        return sp.csr_matrix((n_rows, n_cols), dtype=np.float32)
    block = max(1, _BLOCK_CELLS // max(n_cols, 1))
    indptr = [np.zeros(1, dtype=np.int64)]
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    right = right.tocsc()
    # One denominator buffer for every block: the outer product of the norms is computed in float64
    # and stored as float32, as before, without a float64 block and its float32 copy per block.
    denominators = (
        np.empty((min(block, n_rows), n_cols), dtype=np.float32) if norms is not None else None
    )
    for start in range(0, n_rows, block):
        stop = min(start + block, n_rows)
        dense = np.asarray((left[start:stop] @ right).todense(), dtype=np.float32)
        if norms is not None:
            denominator = denominators[: stop - start]
            np.multiply(
                norms[start:stop, None], norms[None, :], out=denominator, casting="same_kind"
            )
            denominator += np.float32(shrinkage + 1e-12)
            dense /= denominator
        if exclude_self:
            rows = np.arange(stop - start)
            dense[rows, rows + start] = 0.0
        top = np.argpartition(-dense, k - 1, axis=1)[:, :k]
        values = np.take_along_axis(dense, top, axis=1)
        # Every row's kept neighbours, best first, in one sort of the block: the non-positive ones sort
        # last (as +inf), ties keep their partition order, as each row's own stable sort did.
        keep = values > 0
        order = np.argsort(np.where(keep, -values, np.inf), axis=1, kind="stable")
        counts = keep.sum(axis=1)
        first = np.arange(k)[None, :] < counts[:, None]
        indices.append(np.take_along_axis(top, order, axis=1)[first])
        data.append(np.take_along_axis(values, order, axis=1)[first])
        indptr.append(indptr[-1][-1] + np.cumsum(counts))
    return sp.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, np.float32),
            np.concatenate(indices) if indices else np.zeros(0, np.int32),
            np.concatenate(indptr),
        ),
        shape=(n_rows, n_cols),
    )


def bm25_weight(user_items: sp.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """BM25 weighting with users as the 'terms': shoppers who touch everything say little about an item.

    Each (user, item) cell is scaled by the user's inverse document frequency (how few items they touched)
    and saturated by the item's popularity, so best sellers do not become everyone's neighbour.
    """
    matrix = user_items.tocoo(copy=True)
    n_items = matrix.shape[1]
    user_degree = np.bincount(matrix.row, minlength=matrix.shape[0])
    idf = np.log(n_items) - np.log1p(user_degree)
    idf = np.clip(idf, 0.05, None)
    item_length = np.bincount(matrix.col, weights=matrix.data, minlength=n_items)
    average = item_length.mean() if item_length.size and item_length.mean() > 0 else 1.0
    length_norm = (1.0 - b) + b * item_length / average
    matrix.data = (
        matrix.data * (k1 + 1.0) / (k1 * length_norm[matrix.col] + matrix.data) * idf[matrix.row]
    )
    return matrix.tocsr()


class ItemKNN:
    """Item-to-item similarity over the user-item matrix, kept as a sparse top-k matrix.

    Parameters
    ----------
    n_neighbours:
        Neighbours kept per item; more neighbours raise coverage, fewer raise precision.
    shrinkage:
        Added to the cosine denominator: similarities from a handful of shared shoppers are shrunk.
    weighting:
        ``"bm25"``, ``"idf"`` or ``"none"`` applied to the user-item matrix before cosine similarity, or
        ``"rp3beta"`` for the popularity-penalised random-walk similarity (``rp3_alpha``, ``rp3_beta``).
    binary:
        Use 0/1 interactions (co-occurrence) instead of interaction strengths.
    """

    def __init__(
        self,
        n_neighbours: int = 100,
        shrinkage: float = 10.0,
        weighting: str = "bm25",
        binary: bool = False,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        rp3_alpha: float = 1.0,
        rp3_beta: float = 0.5,
    ) -> None:
        self.rp3_alpha = rp3_alpha
        self.rp3_beta = rp3_beta
        self.n_neighbours = n_neighbours
        self.shrinkage = shrinkage
        self.weighting = weighting
        self.binary = binary
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b

    def fit(self, user_items: sp.csr_matrix) -> ItemKNN:
        if self.weighting not in ("bm25", "idf", "none", "rp3beta"):
            raise ValueError(
                f"weighting must be 'bm25', 'idf', 'none' or 'rp3beta', got {self.weighting!r}"
            )
        matrix = user_items.tocsr().astype(np.float64)
        if self.binary:
            matrix.data = np.ones_like(matrix.data)
        if self.weighting == "rp3beta":
            return self._fit_rp3beta(matrix, user_items)
        if self.weighting == "bm25":
            matrix = bm25_weight(matrix, self.bm25_k1, self.bm25_b)
        elif self.weighting == "idf":
            degree = np.diff(matrix.indptr)
            idf = np.clip(np.log(matrix.shape[1]) - np.log1p(degree), 0.05, None)
            matrix = sp.diags(idf) @ matrix
        item_vectors = matrix.T.tocsr().astype(np.float32)
        norms = np.sqrt(np.asarray(item_vectors.multiply(item_vectors).sum(axis=1)).ravel())
        self.similarity_ = top_k_sparse(
            item_vectors, item_vectors.T, self.n_neighbours, norms=norms, shrinkage=self.shrinkage
        )
        self.item_support_ = np.diff(user_items.tocsc().indptr)
        return self

    def _fit_rp3beta(self, matrix: sp.csr_matrix, user_items: sp.csr_matrix) -> ItemKNN:
        """RP3beta (Christoffel et al. 2015; Paudel et al. 2017): a three-step random walk item -> user -> item.

        The walk's transition probabilities (each item spreads over its shoppers, each shopper over their
        items) are divided by the target item's popularity to the power ``beta``, which stops best sellers
        from being everyone's neighbour. On basket data it ranks better than cosine kNN and ALS (Dacrema
        et al. 2019, "Are we really making much progress?").
        """
        matrix = matrix.copy()
        matrix.data = np.power(matrix.data, self.rp3_alpha)
        user_degree = np.asarray(matrix.sum(axis=1)).ravel()
        item_degree = np.asarray(matrix.sum(axis=0)).ravel()
        item_to_user = (
            sp.diags(1.0 / np.where(item_degree > 0, item_degree, 1.0)) @ matrix.T
        ).tocsr()
        user_to_item = sp.diags(1.0 / np.where(user_degree > 0, user_degree, 1.0)) @ matrix
        popularity = np.diff(user_items.tocsc().indptr).astype(float)
        penalty = np.power(np.where(popularity > 0, popularity, 1.0), -self.rp3_beta)
        right = (user_to_item @ sp.diags(penalty)).tocsc().astype(np.float32)
        similarity = top_k_sparse(item_to_user.astype(np.float32), right, self.n_neighbours)
        # Rows summing to one make a shopper's score an average over their items, not a count of them.
        row_sums = np.asarray(similarity.sum(axis=1)).ravel()
        self.similarity_ = (
            sp.diags(1.0 / np.where(row_sums > 0, row_sums, 1.0)) @ similarity
        ).tocsr()
        self.item_support_ = np.diff(user_items.tocsc().indptr)
        return self

    def scores(self, history: sp.csr_matrix) -> np.ndarray:
        """Sum of similarities from each history item to every product, weighted by the history strengths."""
        return np.asarray((history @ self.similarity_).todense(), dtype=np.float64)

    def scores_for(self, items: np.ndarray, strengths: np.ndarray) -> np.ndarray:
        """``scores`` for one shopper given as (item, strength) pairs: a gather of their neighbour rows.

        A shopper touches a few dozen items, so summing their stored neighbours is a few hundred additions
        (in the same order as the sparse product); a one-row sparse matrix would cost more in set-up alone.
        """
        matrix = self.similarity_
        positions, lengths = row_positions(matrix.indptr, items)
        contributions = matrix.data[positions] * np.repeat(strengths, lengths)
        return np.bincount(
            matrix.indices[positions], weights=contributions, minlength=matrix.shape[1]
        )
