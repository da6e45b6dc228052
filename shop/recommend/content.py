"""Content-based model: TF-IDF over product text, item-to-item cosine similarity and shopper profiles.

Content is the only signal for a product nobody has touched yet, so it carries new products into lists and
answers "similar products" for the whole catalogue.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from .neighbours import row_positions, top_k_sparse, unique_inverse


def _token(prefix: str, value: object) -> str:
    """Turn a category or brand into one token so 'Home & Garden' matches as a whole, not word by word."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = re.sub(r"\W+", "_", str(value).strip().lower()).strip("_")
    return f"{prefix}_{text}" if text else ""


def product_text(products: pd.DataFrame) -> list[str]:
    """The document indexed per product: name twice (names are short and decisive), description, tags."""

    def column(name: str) -> pd.Series:
        if name not in products.columns:
            return pd.Series([""] * len(products), index=products.index)
        return products[name].astype("string").fillna("").astype(str)

    names, descriptions = column("name"), column("description")
    categories = [
        _token("category", v)
        for v in (products["category"] if "category" in products else [""] * len(products))
    ]
    brands = [
        _token("brand", v)
        for v in (products["brand"] if "brand" in products else [""] * len(products))
    ]
    return [
        f"{n} {n} {d if d != n else ''} {c} {c} {b}"
        for n, d, c, b in zip(names, descriptions, categories, brands, strict=True)
    ]


class _TermIndex(NamedTuple):
    """The item vectors term by term, in the dtypes np.bincount works in (so it converts nothing)."""

    indptr: np.ndarray  # row offsets per term
    products: np.ndarray  # product per stored weight (intp)
    weights: np.ndarray  # TF-IDF weight (float64)
    row_lengths: np.ndarray  # products per term


class ContentModel:
    """TF-IDF item vectors, with top-k neighbours precomputed sparsely (never a dense n x n matrix).

    Parameters
    ----------
    n_neighbours:
        Neighbours kept per product for ``similar``; enough for a page plus filtering of excluded items.
    ngram_range, min_df, max_features:
        Passed to scikit-learn's TfidfVectorizer; bigrams catch "tea light" vs "light bulb".
    """

    def __init__(
        self,
        n_neighbours: int = 50,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 1,
        max_features: int | None = 50_000,
    ) -> None:
        self.n_neighbours = n_neighbours
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, products: pd.DataFrame) -> ContentModel:
        documents = product_text(products)
        vectorizer = TfidfVectorizer(
            sublinear_tf=True,
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            max_features=self.max_features,
            dtype=np.float32,
        )
        try:
            matrix = vectorizer.fit_transform(documents)
        except (
            ValueError
        ):  # every document empty: no content signal at all, say so with zero vectors
            matrix = sp.csr_matrix((len(documents), 1), dtype=np.float32)
            vectorizer = None
        else:
            # The terms max_features cut are only kept for introspection; scikit-learn says they
            # may be dropped before pickling, and they would be most of the saved vectorizer.
            vectorizer.stop_words_ = None
        # Kept to code products added after the fit (``transform``) in the same vector space.
        self.vectorizer_ = vectorizer
        self.item_vectors_ = normalize(matrix.tocsr(), norm="l2", copy=False)
        self.has_text_ = np.asarray(self.item_vectors_.getnnz(axis=1) > 0)
        self.neighbours_ = top_k_sparse(
            self.item_vectors_, self.item_vectors_.T.tocsc(), self.n_neighbours
        )
        return self

    def transform(self, products: pd.DataFrame) -> sp.csr_matrix:
        """Unit TF-IDF vectors for products the model was not fitted on, with the fitted vocabulary
        and IDF weights, so their cosine to the catalogue means what it means between fitted ones.

        Words the fitted catalogue never used carry no weight. A model saved before the vectorizer
        was kept (or fitted on empty text) codes every product as a zero vector: similar to nothing.
        """
        vectorizer = getattr(self, "vectorizer_", None)
        shape = (len(products), self.item_vectors_.shape[1])
        if vectorizer is None or not len(products):
            return sp.csr_matrix(shape, dtype=np.float32)
        matrix = vectorizer.transform(product_text(products))
        return normalize(matrix.tocsr().astype(np.float32), norm="l2", copy=False)

    def profile_scores(self, history: sp.csr_matrix) -> np.ndarray:
        """Cosine of each product to each shopper's weighted mean item vector (rows of ``history``).

        The profile is small and dense per shopper; multiplying the sparse item matrix by it touches each
        stored TF-IDF weight once (measured faster than keeping the profile sparse).
        """
        profile = np.asarray((history @ self.item_vectors_).todense(), dtype=np.float32)
        norms = np.linalg.norm(profile, axis=1, keepdims=True)
        profile /= np.where(norms > 0, norms, 1.0)
        return np.asarray(self.item_vectors_ @ profile.T, dtype=np.float64).T

    def profile_scores_for(self, items: np.ndarray, strengths: np.ndarray) -> np.ndarray:
        """``profile_scores`` for one shopper given as (item, strength) pairs.

        The profile is built sparsely from the shopper's few item rows. Its cosine to every product then
        only needs the products that share one of its terms: the term-major copy of the item vectors
        gives those directly, which on a catalogue with specific product names touches a small share of
        the stored weights. When the profile's terms are common enough that the gather would touch more
        than a third of them, one pass over the whole matrix is cheaper and is used instead.
        """
        matrix = self.item_vectors_
        positions, lengths = row_positions(matrix.indptr, items)
        terms, inverse = unique_inverse(matrix.indices[positions])
        profile = np.bincount(
            inverse, weights=matrix.data[positions] * np.repeat(strengths, lengths)
        )
        norm = float(np.sqrt(profile @ profile))
        if norm > 0:
            profile /= norm
        by_term = self._by_term()
        if 3 * int(by_term.row_lengths[terms].sum()) > matrix.nnz:
            dense = np.zeros(matrix.shape[1], dtype=np.float32)
            dense[terms] = profile
            return np.asarray(matrix @ dense, dtype=np.float64)
        positions, lengths = row_positions(by_term.indptr, terms)
        weights = by_term.weights[positions]
        weights *= np.repeat(profile, lengths)
        return np.bincount(by_term.products[positions], weights=weights, minlength=matrix.shape[0])

    def _by_term(self) -> _TermIndex:
        """The item vectors transposed (one row per term), built once per process after fit or load."""
        index = self.__dict__.get("_term_index")
        if index is None:
            by_term = self.item_vectors_.T.tocsr()
            index = self._term_index = _TermIndex(
                by_term.indptr,
                by_term.indices.astype(np.intp),
                by_term.data.astype(np.float64),
                np.diff(by_term.indptr),
            )
        return index

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_term_index", None)  # derived from item_vectors_: not worth its bytes on disk
        return state

    def pair_similarity(self, items_a: np.ndarray, items_b: np.ndarray | None = None) -> np.ndarray:
        """Dense cosine block between two small item sets (for explanations and diversity).

        The rows are gathered straight from the CSR arrays, and only terms that two of the gathered rows
        share can make an off-diagonal entry: the block is the product of a small dense matrix over those
        shared terms (a few dozen, where the rows use hundreds), plus each row's squared norm on the
        diagonal of a square block. This runs on every request, several times.
        """
        same = items_b is None
        items = np.asarray(items_a) if same else np.concatenate([items_a, items_b])
        matrix = self.item_vectors_
        positions, lengths = row_positions(matrix.indptr, items)
        rows = np.repeat(np.arange(len(items)), lengths)
        terms = matrix.indices[positions]
        values = matrix.data[positions].astype(np.float64)
        order = np.argsort(terms, kind="stable")
        ordered = terms[order]
        repeated = ordered[1:] == ordered[:-1]
        shared = np.zeros(len(ordered), dtype=bool)
        shared[1:] = repeated
        shared[:-1] |= repeated
        entries = order[shared]
        shared_terms = ordered[shared]
        first = np.ones(len(shared_terms), dtype=bool)
        first[1:] = shared_terms[1:] != shared_terms[:-1]
        columns = np.cumsum(first) - 1
        dense = np.zeros((len(items), int(first.sum())))
        dense[rows[entries], columns] = values[entries]
        if not same:
            return dense[: len(items_a)] @ dense[len(items_a) :].T
        block = dense @ dense.T
        block[np.diag_indices(len(items))] = np.bincount(
            rows, weights=values * values, minlength=len(items)
        )
        return block
