"""Words an organiser may use for provinces, topics and languages in CSV files.

A province can be given by its key (``luang_prabang``) or by its label in any
catalog (``Luang Prabang``, ``ຫຼວງພະບາງ``); all map to the key we store.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.content.prompts import Catalog
from gateway.engine.model import FlowBook


def _fold(text: str) -> str:
    return " ".join(text.replace("_", " ").split()).casefold()


@dataclass(frozen=True)
class Vocabulary:
    provinces: dict[str, str]
    topics: dict[str, str]
    languages: dict[str, str]

    @classmethod
    def build(cls, book: FlowBook, catalog: Catalog) -> "Vocabulary":
        def words(list_name: str) -> dict[str, str]:
            found: dict[str, str] = {}
            option_list = book.lists.get(list_name)
            for item in option_list.items if option_list else ():
                found[_fold(item)] = item
                for lang in catalog.languages:
                    if catalog.has(lang, option_list.label_key(item)):
                        found[_fold(catalog.template(lang, option_list.label_key(item)))] = item
            return found

        return cls(words("provinces"), words("topics"), words("languages"))

    def province(self, text: str) -> str | None:
        return self.provinces.get(_fold(text))

    def topic(self, text: str) -> str | None:
        return self.topics.get(_fold(text))

    def language(self, text: str) -> str | None:
        return self.languages.get(_fold(text))
