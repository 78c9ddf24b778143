"""Languages are data: a language is a prompt catalog, ``prompts/<code>.yaml``.

A catalog says, under ``catalog:``, its name in its own script (``ພາສາລາວ``), the
digits its members' keypads send, and the catalog a missing text falls back to.
Adding Thai, Khmer, Vietnamese or Myanmar is adding a catalog, on the dashboard
or as a file; nothing in the code names a language but the shipped defaults.

A language is **on the members' language menu** once its catalog has every text
the published flows show, quizzes and surveys included. Until then it is listed on
the Content page with its coverage, "312 of 330 texts", for the translators to
finish, and a text it lacks falls back along its ``fallback``. The languages the
``languages`` list in ``flows/lists.yaml`` names (the shipped Lao and English) are
promised: every check holds them to every text, so a publish never takes one off
the menu.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from gateway.content.flows import Problem
from gateway.content.prompts import Catalog
from gateway.content.usage import uses
from gateway.engine.digits import DIGIT_MAP
from gateway.engine.model import FlowBook, OptionList

LIST = "languages"  # the option list the language menu shows
LABEL = "lang"  # its items' label keys: lang.<code>
# Every key the flows show but the language names: each catalog's own name is
# given to every other.
_OPTIONAL = (LABEL + ".", "catalog.")


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    digits: str
    fallback: str | None
    covered: int
    total: int

    @property
    def complete(self) -> bool:
        return self.covered == self.total


def needed(book: FlowBook) -> set[str]:
    """The keys a language must have to be on the menu."""
    return {key for key in uses(book) if not key.startswith(_OPTIONAL)}


def described(book: FlowBook, catalog: Catalog) -> list[Language]:
    """Each catalog's language: its name, digits, fallback and coverage, in menu order."""
    keys = needed(book)
    found = [
        Language(
            code,
            catalog.name(code),
            catalog.texts[code].get("catalog.digits", ""),
            catalog.fallback(code),
            len(keys & set(catalog.texts[code])),
            len(keys),
        )
        for code in catalog.languages
    ]
    order = list(book.lists[LIST].items) if LIST in book.lists else []
    return sorted(found, key=lambda lang: (order.index(lang.code) if lang.code in order else len(order), lang.code))


def promise(book: FlowBook, catalog: Catalog) -> None:
    """Hold the languages ``flows/lists.yaml`` lists to every text (all of them, when
    it lists none)."""
    declared = [code for code in (book.lists[LIST].items if LIST in book.lists else ()) if code in catalog.texts]
    catalog.promised = tuple(declared) or tuple(catalog.languages)


def offer(book: FlowBook, catalog: Catalog) -> list[str]:
    """Put every complete language on the language menu (the order ``flows/lists.yaml``
    gives first) and give each catalog every language's own name as its label;
    return the menu's languages."""
    for code in catalog.languages:
        for other in catalog.languages:
            catalog.texts[code].setdefault(f"{LABEL}.{other}", catalog.name(other))
    on_menu = [lang.code for lang in described(book, catalog) if lang.complete]
    label = book.lists[LIST].label if LIST in book.lists else LABEL
    book.lists[LIST] = OptionList(LIST, label, tuple(on_menu))
    catalog.chosen = tuple(dict.fromkeys([*catalog.promised, *on_menu]))
    return on_menu


def problems(catalog: Catalog, where: str = "prompts") -> list[Problem]:
    """A catalog's description: a name, ten digits the gateway reads, a fallback it has."""
    found = []
    for code in catalog.languages:
        document = f"{where}/{code}.yaml"
        texts = catalog.texts[code]
        # A catalog from before catalogs described themselves has no name: it is shown by
        # its code (and its ``lang.<code>`` labels) until one is given; an empty one is a mistake.
        if "catalog.name" in texts and not texts["catalog.name"].strip():
            found.append(
                Problem.said(
                    f"{document}:1",
                    "catalog.name: the language's name in its own script, as members will see it on the language menu",
                )
            )
        digits = texts.get("catalog.digits", "")
        if digits and not (
            len(digits) == 10
            and all(
                unicodedata.decimal(ch, -1) == n and ord(ch) in DIGIT_MAP or ch == str(n) for n, ch in enumerate(digits)
            )
        ):
            found.append(
                Problem.said(
                    f"{document}:1",
                    "catalog.digits: the ten digits 0 to 9 in order, "
                    "in a script the gateway reads (Latin, Lao, Thai, Khmer, Myanmar)",
                )
            )
        fallback = texts.get("catalog.fallback")
        if fallback and fallback not in catalog.texts:
            found.append(Problem.said(f"{document}:1", "catalog.fallback: %(code)s has no catalog", code=fallback))
    return found
