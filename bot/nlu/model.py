"""The topic model: scikit-learn TF-IDF + multinomial logistic regression over every target plus a
"fallback" class, blended with BM25 (bm25s) over each target's examples, keywords and title.

Training uses the libraries as documented. Scoring one message reads the fitted model's own
arrays (the vectoriser's vocabulary_ and idf_, the classifier's coef_ and intercept_) with a few
numpy operations, because sklearn's per-call input validation costs more than the arithmetic for
a single short message (TfidfVectorizer.transform + predict_proba ≈ 1 ms, this ≈ 0.05 ms);
tests/test_nlu.py checks that both give the same probabilities.
"""
from __future__ import annotations

import warnings

import numpy as np

FALLBACK = "fallback"


def identity(features):
    """The vectoriser's analyzer: documents arrive as lists of feature strings."""
    return features


class TopicModel:
    """fit(docs, labels, weights, bm25_docs) → scores(features) → (blended per target, p_fallback)."""

    C = 40.0             # inverse L2 strength (sklearn's C): little regularisation, many features
    BM25_WEIGHT = 0.35   # share of the blended score that comes from BM25
    BM25_DAMPING = 5.0   # BM25 top score t counts as t / (t + 5): a few shared words are weak evidence

    def __init__(self, targets: list[str]):
        self.targets = list(targets)                  # in-scope classes, blended-score order
        self.classes = self.targets + [FALLBACK]

    def fit(self, docs: list[list[str]], labels: list[str], weights: list[float],
            bm25_docs: list[list[str]]) -> "TopicModel":
        import bm25s
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectoriser = TfidfVectorizer(analyzer=identity, sublinear_tf=True, lowercase=False)
        X = self.vectoriser.fit_transform(docs)
        # saga, 30 epochs: the same cross-validated accuracy as lbfgs run to convergence (0.873
        # vs 0.874 on the FAQ examples) in a tenth of the time; it stops before its tolerance,
        # which is what the ConvergenceWarning would say.
        self.classifier = LogisticRegression(C=self.C, solver="saga", max_iter=30, tol=1e-3,
                                             random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.classifier.fit(X, labels, sample_weight=np.asarray(weights))
        order = [list(self.classifier.classes_).index(c) for c in self.classes]
        # fast-path arrays (see the module docstring), columns in self.classes order
        self._vocab = self.vectoriser.vocabulary_
        self._idf = self.vectoriser.idf_.astype(np.float64)
        self._W = np.ascontiguousarray(self.classifier.coef_[order].T, dtype=np.float64)
        self._b = self.classifier.intercept_[order].astype(np.float64)
        self.bm25 = bm25s.BM25()
        self.bm25.index([list(d) or ["\0"] for d in bm25_docs], show_progress=False)
        self._bm25_vocab = self.bm25.vocab_dict
        return self

    def __len__(self) -> int:
        return len(self._vocab)

    def knows(self, feature: str) -> bool:
        return feature in self._vocab

    def proba(self, feats: list[str]) -> np.ndarray:
        """Class probabilities in `self.classes` order (== classifier.predict_proba)."""
        counts: dict[int, int] = {}
        vocab = self._vocab
        for f in feats:
            j = vocab.get(f)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        z = self._b.copy()
        if counts:
            idx = np.fromiter(counts, dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            val = (1.0 + np.log(tf)) * self._idf[idx]          # sublinear tf × idf, then l2
            val /= np.sqrt(val.dot(val))
            z += val @ self._W[idx]
        z -= z.max()
        p = np.exp(z)
        return p / p.sum()

    def proba_sklearn(self, feats: list[str]) -> np.ndarray:
        """The same through sklearn's own calls (for tests and benchmarks)."""
        p = self.classifier.predict_proba(self.vectoriser.transform([feats]))[0]
        cls = list(self.classifier.classes_)
        return np.array([p[cls.index(c)] for c in self.classes])

    def bm25_scores(self, words: list[str]) -> np.ndarray:
        """BM25 of the words against each target's document (bm25s), in target order."""
        known = [w for w in words if w in self._bm25_vocab]
        if not known:
            return np.zeros(len(self.targets))
        return self.bm25.get_scores(known)

    def scores(self, feats: list[str], words: list[str]) -> tuple[np.ndarray, float]:
        """(blended score per target in `targets` order, fallback probability)."""
        p = self.proba(feats)
        p_fallback = float(p[-1])
        blended = p[:-1]
        if self.BM25_WEIGHT:
            bm = self.bm25_scores(words)
            top = float(bm.max()) if len(bm) else 0.0
            if top > 0:
                bm = bm / (top + self.BM25_DAMPING)
                blended = (1 - self.BM25_WEIGHT) * blended + self.BM25_WEIGHT * bm * (1 - p_fallback)
        return blended, p_fallback
