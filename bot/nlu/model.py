"""The topic model: scikit-learn TF-IDF + multinomial logistic regression over every target plus a
"fallback" class, blended with BM25 (bm25s) over each target's examples, keywords and title.

Training uses the libraries as documented. Scoring one message reads the fitted models' own
arrays (the vectoriser's vocabulary_ and idf_, the classifier's coef_ and intercept_, bm25s's
precomputed per-term scores) with a few numpy operations, because sklearn's per-call input
validation costs more than the arithmetic for one short message (TfidfVectorizer.transform +
predict_proba ≈ 1 ms, this ≈ 0.05 ms), and so that a saved index loads without importing
scikit-learn, scipy or bm25s (seconds of a restart). The estimators stay in memory after
fitting (`fitted`, not saved); tests/test_nlu.py checks both paths give the same scores.
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

    C = 100.0            # inverse L2 strength (sklearn's C): little regularisation, many features
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
        bm25 = bm25s.BM25()
        bm25.index([list(d) or ["\0"] for d in bm25_docs], show_progress=False)
        # bm25s keeps every term's score per document (its "eager" sparse matrix); as a dense
        # term × target table, a query's scores are the sum of its terms' rows
        s = bm25.scores
        n_terms = len(s["indptr"]) - 1         # bm25s also numbers an empty token, with no scores
        self._bm25_vocab = {w: i for w, i in bm25.vocab_dict.items() if i < n_terms}
        self._bm25 = np.zeros((n_terms, s["num_docs"]))
        for term_id in range(n_terms):
            lo, hi = s["indptr"][term_id], s["indptr"][term_id + 1]
            self._bm25[term_id, s["indices"][lo:hi]] = s["data"][lo:hi]
        self.fitted = (self.vectoriser, self.classifier, bm25)
        return self

    def __getstate__(self):
        state = dict(self.__dict__)
        for name in ("fitted", "vectoriser", "classifier"):
            state.pop(name, None)
        return state

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
        """The same through sklearn's own calls (right after fitting; for tests)."""
        vectoriser, classifier, _ = self.fitted
        p = classifier.predict_proba(vectoriser.transform([feats]))[0]
        cls = list(classifier.classes_)
        return np.array([p[cls.index(c)] for c in self.classes])

    def bm25_scores(self, words: list[str]) -> np.ndarray:
        """BM25 of the words against each target's document, in target order (== bm25s's
        get_scores)."""
        ids = [self._bm25_vocab[w] for w in words if w in self._bm25_vocab]
        if not ids:
            return np.zeros(len(self.targets))
        return self._bm25[ids].sum(axis=0)

    def bm25_scores_bm25s(self, words: list[str]) -> np.ndarray:
        """The same through bm25s (right after fitting; for tests)."""
        known = [w for w in words if w in self._bm25_vocab]
        return self.fitted[2].get_scores(known) if known else np.zeros(len(self.targets))

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
