"""Words an organiser may use for provinces, topics and languages in CSV files.

A province can be given by its key (``luang_prabang``) or by its label in any
catalog (``Luang Prabang``, ``ຫຼວງພະບາງ``), with spaces, hyphens, case and Lao
spelling variants ignored (``LuangPrabang``, ``luang-prabang``); all map to the
key we store. A word that is none of them gets ``suggest``: the names it could
be (``ວຽງຈັນ``: the capital or the province) or the nearest ones.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from gateway.content.prompts import Catalog
from gateway.encoding import fold_lao
from gateway.engine.model import FlowBook

_LOOSE = re.compile(r"[\s\-_'.,()]+")
MIN_PART = 4  # letters of a name she must type for it to count as that name


def _fold(text: str) -> str:
    return _LOOSE.sub("", fold_lao(text).casefold())


def holds(name: str, typed: str) -> bool:
    """Whether ``name`` holds what she typed, spelling and spaces aside."""
    return _fold(typed) in _fold(name)


@dataclass(frozen=True)
class Vocabulary:
    provinces: dict[str, str]
    topics: dict[str, str]
    languages: dict[str, str]
    # Each list's items with the names she would recognise (for suggestions).
    names: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def build(cls, book: FlowBook, catalog: Catalog) -> "Vocabulary":
        names: dict[str, dict[str, str]] = {}

        def words(list_name: str) -> dict[str, str]:
            found: dict[str, str] = {}
            option_list = book.lists.get(list_name)
            shown = names.setdefault(list_name, {})
            for item in option_list.items if option_list else ():
                found[_fold(item)] = item
                for lang in catalog.languages:
                    if catalog.has(lang, option_list.label_key(item)):
                        label = catalog.template(lang, option_list.label_key(item))
                        found[_fold(label)] = item
                        shown.setdefault(label, item)
            return found

        return cls(words("provinces"), words("topics"), words("languages"), names)

    def province(self, text: str) -> str | None:
        return self.provinces.get(_fold(text)) or self._only("provinces", text)

    def topic(self, text: str) -> str | None:
        return self.topics.get(_fold(text)) or self._only("topics", text)

    def _only(self, list_name: str, text: str) -> str | None:
        """The one item whose name holds ``text`` (ສຸຂະພາບ: ສຸຂະພາບຊຸມຊົນ), if only one
        does and she typed enough of it to mean it."""
        if len(_fold(text)) < MIN_PART:
            return None
        items = {item for label, item in self.names.get(list_name, {}).items() if holds(label, text)}
        return items.pop() if len(items) == 1 else None

    def language(self, text: str) -> str | None:
        return self.languages.get(_fold(text))

    def suggest(self, list_name: str, text: str, most: int = 3) -> list[str]:
        """Names of the list's items ``text`` could mean: those whose name holds it
        (``ວຽງຈັນ`` is in the capital's name and the province's), else the nearest."""
        typed = _fold(text)
        shown = self.names.get(list_name, {})
        if not typed:
            return []
        holding: dict[str, str] = {}
        for label, item in shown.items():
            if typed in _fold(label) and item not in holding.values():
                holding[label] = item
        if holding:
            return list(holding)[:most]
        folded = {_fold(label): label for label in shown}
        return [folded[match] for match in difflib.get_close_matches(typed, list(folded), n=most, cutoff=0.6)]
