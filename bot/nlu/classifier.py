"""A small TF-IDF + multinomial logistic regression classifier in numpy.

Sparse rows are (indices, values) pairs; training is full-batch Adam with L2, which takes well
under a second for a few thousand short examples, so the model is trained at start-up from the
FAQ content instead of being stored as an artefact that can drift from it.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np


class Vectoriser:
    """Feature strings → L2-normalised TF-IDF sparse rows over a fixed vocabulary."""

    def __init__(self, docs: list[list[str]], min_df: int = 1):
        df = Counter(f for doc in docs for f in set(doc))
        vocab = sorted(f for f, n in df.items() if n >= min_df)
        self.index = {f: i for i, f in enumerate(vocab)}
        n = len(docs)
        self.idf = np.array([math.log((1 + n) / (1 + df[f])) + 1.0 for f in vocab], dtype=np.float32)

    def __len__(self) -> int:
        return len(self.index)

    def transform(self, features: list[str]) -> tuple[np.ndarray, np.ndarray]:
        index = self.index
        counts: dict[int, int] = {}
        for f in features:
            i = index.get(f)
            if i is not None:
                counts[i] = counts.get(i, 0) + 1
        return self.weigh(counts)

    def weigh(self, counts: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The row for {column: count}, columns in order of first occurrence (`transform`)."""
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        idx = np.array(list(counts), dtype=np.int64)
        tf = np.array(list(counts.values()), dtype=np.float32)
        val = (1.0 + np.log(tf)) * self.idf[idx]
        # == np.linalg.norm(val), which computes exactly this for a 1-D float array, without
        # its Python-level dispatch (a noticeable share of a per-message call)
        return idx, val / np.sqrt(val.dot(val))


class SoftmaxRegression:
    """Multinomial logistic regression on sparse rows."""

    def __init__(self, n_features: int, classes: list[str], l2: float = 1e-4):
        self.classes = list(classes)
        self.l2 = l2
        self.W = np.zeros((n_features, len(classes)), dtype=np.float32)
        self.b = np.zeros(len(classes), dtype=np.float32)

    def _logits(self, indptr, indices, data):
        rows = data[:, None] * self.W[indices]
        out = np.add.reduceat(rows, indptr[:-1], axis=0) if len(indices) else \
            np.zeros((len(indptr) - 1, len(self.classes)), dtype=np.float32)
        empty = indptr[:-1] == indptr[1:]
        out[empty] = 0.0                       # reduceat copies the next row for empty rows
        return out + self.b

    def fit(self, rows, labels: list[str], sample_weight=None, epochs: int = 300,
            lr: float = 0.1) -> "SoftmaxRegression":
        lengths = [len(r[0]) for r in rows]
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        indices = np.concatenate([r[0] for r in rows]).astype(np.int64)
        data = np.concatenate([r[1] for r in rows]).astype(np.float32)
        row_of = np.repeat(np.arange(len(rows)), lengths)
        y = np.array([self.classes.index(lab) for lab in labels])
        Y = np.zeros((len(rows), len(self.classes)), dtype=np.float32)
        Y[np.arange(len(rows)), y] = 1.0
        w = np.ones(len(rows), dtype=np.float32) if sample_weight is None else \
            np.asarray(sample_weight, dtype=np.float32)
        w = w / w.sum()
        b1, b2, eps = 0.9, 0.999, 1e-8
        # X^T G by feature: sort the non-zeros by feature once, then sum runs with reduceat
        order = np.argsort(indices, kind="stable")
        f_sorted, d_sorted, r_sorted = indices[order], data[order], row_of[order]
        used, starts = np.unique(f_sorted, return_index=True)
        for t in range(1, epochs + 1):
            Z = self._logits(indptr, indices, data)
            Z -= Z.max(axis=1, keepdims=True)
            P = np.exp(Z)
            P /= P.sum(axis=1, keepdims=True)
            G = (P - Y) * w[:, None]
            g_used = np.add.reduceat(d_sorted[:, None] * G[r_sorted], starts, axis=0)
            g_used += self.l2 * self.W[used]
            gb = G.sum(axis=0)
            if t == 1:
                mW = vW = np.zeros_like(g_used)
                mb = vb = np.zeros_like(gb)
            mW = b1 * mW + (1 - b1) * g_used
            vW = b2 * vW + (1 - b2) * g_used * g_used
            self.W[used] -= lr * (mW / (1 - b1 ** t)) / (np.sqrt(vW / (1 - b2 ** t)) + eps)
            mb = b1 * mb + (1 - b1) * gb
            vb = b2 * vb + (1 - b2) * gb * gb
            self.b -= lr * (mb / (1 - b1 ** t)) / (np.sqrt(vb / (1 - b2 ** t)) + eps)
        return self

    def logits(self, row) -> np.ndarray:
        idx, val = row
        if len(idx) == 0:
            return self.b.copy()
        return val @ self.W[idx] + self.b

    def proba(self, row) -> np.ndarray:
        z = self.logits(row)
        z = z - z.max()
        p = np.exp(z)
        return p / p.sum()
