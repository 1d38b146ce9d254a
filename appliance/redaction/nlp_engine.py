"""A Presidio ``NlpEngine`` on a blank spaCy ``en`` tokenizer: no pipeline to download, ever.

Presidio needs tokens and lemmas only for its context enhancer (is "passport" near this number?).
A blank pipeline has no lemmatizer, so the lower-cased token stands in for the lemma; recognizers'
CONTEXT lists spell out the plural and inflected forms they need. Named entities come from the
NER recognizer, not from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import spacy
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine


class BlankSpacyNlpEngine(NlpEngine):
    engine_name = "blank_spacy"
    is_available = True

    def __init__(self, language: str = "en") -> None:
        self.language = language
        self.nlp: Any = None

    def load(self) -> None:
        self.nlp = spacy.blank(self.language)

    def is_loaded(self) -> bool:
        return self.nlp is not None

    def _artifacts(self, doc: Any) -> NlpArtifacts:
        # Token texts, not the Doc: the context enhancer only needs len() and iteration, and
        # walking a spaCy Doc once per match was the analyzer's largest cost.
        texts, starts, lemmas = [], [], []
        for token in doc:
            texts.append(token.text)
            starts.append(token.idx)
            lemmas.append(token.lower_)
        return NlpArtifacts(entities=[], tokens=texts, tokens_indices=starts,  # type: ignore[arg-type]
                            lemmas=lemmas, nlp_engine=self, language=self.language, scores=[])

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        if not self.is_loaded():
            self.load()
        return self._artifacts(self.nlp(text))

    def process_batch(self, texts: Iterable[str], language: str, batch_size: int = 256,
                      n_process: int = 1, **kwargs: Any) -> Iterator[tuple[str, NlpArtifacts]]:
        if not self.is_loaded():
            self.load()
        items = list(texts)
        for text, doc in zip(items, self.nlp.pipe(items, batch_size=batch_size), strict=True):
            yield text, self._artifacts(doc)

    def is_stopword(self, word: str, language: str) -> bool:
        return bool(self.nlp.vocab[word].is_stop)

    def is_punct(self, word: str, language: str) -> bool:
        return bool(self.nlp.vocab[word].is_punct)

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return [self.language]
