"""How people ask: a sentence in any of the four languages, reduced to the command it asks for.

No model: folded words compared with each command's aliases and the phrases of the vocabulary,
allowing for what the languages glue to a word. Turkish and Indonesian add suffixes (``bakiyem``,
``faturalarımı``, ``tagihanku``), Indonesian verbs take prefixes (``membayar``, ``diperpanjang``),
French elides (``l'facture``, ``j'veux``), English and French add a plural ``s``. A word matches a
keyword it begins with (or, for a verb, ends with after a prefix) when what is left over is short
enough to be such an ending; a longer word of five letters or more also matches one typo away.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Words that carry no meaning for matching, accents folded (English, French, Indonesian, Turkish).
_FILLER_WORDS = (
    # English
    "a an the my me mine our please pls show see list what whats is are am i we want wanna to can could "
    "you get check view of for do does did how much many any would like need tell give "
    "about there have has which where when who why let lets just now some anything something"
    # French
    " mon ma mes notre nos le la les l un une voir afficher affiche montre montrez montrer moi svp stp "
    "quel quelle quels quelles est de du des d je j veux voudrais voudrait peux pouvez pourriez "
    "combien ai a en et s il y qu que quoi me m sur faire merci vous nous tu elle ils elles ce cela ca t"
    # Indonesian
    " saya aku kami lihat tampilkan tolong cek mohon berapa ingin mau dong ya apa yang untuk bisa "
    "minta coba sih nih deh kah bagaimana gimana punya ada saja"
    # Turkish
    " benim bizim goster lutfen bir ne kadar nedir bana mi mu istiyorum isterim hangi var neler "
    "nasil ben biz musun misin miyim"
)
FILLERS = frozenset(_FILLER_WORDS.split())
# What may stand beside a command's object without being an argument ("pay *my* invoice").
_POSSESSIVE_WORDS = (
    "my our the a an please pls mon ma mes notre nos svp stp saya aku kami tolong apa saja ya dong "
    "benim bizim lutfen"
)
_POSSESSIVES = frozenset(_POSSESSIVE_WORDS.split())

# Turkish and Indonesian suffixes and English/French plurals: at most this many letters follow the
# keyword ("faturalarimi" is "fatura" + 6). Longer leftovers are other words ("planet").
_MAX_ENDING = 6
# Indonesian verb prefixes, longest first (meng-, memper-, di-, ber-, ...).
_PREFIXES = ("memper", "meng", "meny", "mem", "men", "me", "di", "ber", "ter", "pe")
# Keywords this short only match exactly (an ending would make "ode" match "odev").
_MIN_STEM = 3
_ELISION = re.compile(r"\b([ldjmnstc]|qu|jusqu|lorsqu|puisqu)['’ʼ`]")
# French joins a pronoun with a hyphen: "montre-moi", "reste-t-il", "qu'est-ce".
_PRONOUN = re.compile(r"-(?:t-)?(moi|toi|nous|vous|le|la|les|lui|leur|y|en|je|tu|il|elle|on|ils|elles|ce)\b")
_SPLIT = re.compile(r"[^\w.@:/-]+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form used for matching ("Ödeme" -> "odeme", "İ" -> "i")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Turkish dotless ı has no decomposition: fold it by hand so "yardım" finds "yardim".
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("ı", "i")


def words(text: str) -> list[str]:
    """The words of a folded sentence, French elisions split off ("l'facture" -> "facture")."""
    text = _PRONOUN.sub(r" \1", _ELISION.sub(r"\1 ", text))
    return [w.strip(".:-/?!") or w for w in _SPLIT.sub(" ", text).split()]


def fits(word: str, keyword: str, alone: bool = True) -> bool:
    """``word`` is ``keyword`` with what the languages add to it, or one typo away from it. A
    keyword shorter than three letters takes endings only beside others ("talep *aç*mak")."""
    if word == keyword:
        return True
    if len(keyword) < (_MIN_STEM if alone else 2):
        return False
    if word.startswith(keyword) and len(word) - len(keyword) <= _MAX_ENDING:
        return True
    for prefix in _PREFIXES:
        rest = word[len(prefix) :]
        if word.startswith(prefix) and rest.startswith(keyword) and len(rest) - len(keyword) <= _MAX_ENDING:
            return True
    return len(keyword) >= 5 and word.isalpha() and _one_edit(word, keyword)


def _one_edit(a: str, b: str) -> bool:
    """One letter wrong, missing, extra, or two neighbours swapped ("balanec", "domians")."""
    if abs(len(a) - len(b)) > 1:
        return False
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    if len(a) == len(b):
        swapped = a[head : head + 2][::-1] == b[head : head + 2] and a[head + 2 :] == b[head + 2 :]
        return swapped or a[head + 1 :] == b[head + 1 :]
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[head + 1 :] == shorter[head:]


@dataclass(frozen=True)
class Phrase:
    """Words that ask for ``command``; ``args`` are what the phrase means beyond the command
    ("how much do I owe" is the unpaid invoices: ``invoices`` with ``unpaid``)."""

    command: str
    words: tuple[str, ...]
    args: tuple[str, ...] = ()

    @classmethod
    def parse(cls, command: str, text: str) -> Phrase:
        """``"owe => unpaid"``: the words, then the arguments they stand for."""
        said, _, means = text.partition("=>")
        return cls(command, tuple(w for w in words(fold(said)) if w not in FILLERS), tuple(means.split()))


@dataclass(frozen=True)
class Understood:
    command: str
    args: list[str]


class PhraseBook:
    """Every phrase of every command, and the nouns that only name what a command acts on
    ("reboot my *server*"): those are dropped from the arguments."""

    def __init__(self, phrases: Iterable[Phrase], objects: Iterable[str] = ()) -> None:
        self.phrases = sorted(phrases, key=lambda p: -sum(len(w) for w in p.words))
        self.objects = tuple(words(fold(" ".join(objects))))

    def is_object(self, word: str) -> bool:
        return _names_object(self.objects, word)

    def trim(self, args: Sequence[str]) -> list[str]:
        """No arguments when only possessives, politeness and object nouns were given ("reboot my
        server", "perpanjang domain saya"); otherwise ``args`` as typed: most fillers can be real
        arguments ("language en", "vat DE")."""
        noise = [fold(a) for a in args]
        return [] if all(w in _POSSESSIVES or self.is_object(w) for w in noise) else list(args)

    def pairs(self) -> list[Phrase]:
        """The two-word phrases without arguments: these are as good as an alias ("mulai ulang"
        is a reboot even though "mulai" alone is /start)."""
        return [p for p in self.phrases if len(p.words) == 2 and not p.args]

    def understand(self, text: str) -> Understood | None:
        """The command the sentence asks for, by the phrase that covers the most letters of it,
        a verb weighing more than the noun it acts on ("régler ma facture" is paying, not
        showing an invoice); the other words, fillers and object nouns removed, are its arguments."""
        said = [w for w in words(fold(text)) if w not in FILLERS]
        best: tuple[int, Phrase, list[int]] | None = None
        for phrase in self.phrases:
            at = _find(said, phrase.words)
            if at is None:
                continue
            score = sum(len(w) if self.is_object(w) else 10 * len(w) for w in phrase.words)
            if best is None or score > best[0]:
                best = (score, phrase, at)
        if best is None:
            return None
        _, phrase, used = best
        rest = [w for i, w in enumerate(said) if i not in used and not self.is_object(w)]
        return Understood(phrase.command, [*phrase.args, *rest])


@functools.lru_cache(maxsize=4096)
def _names_object(objects: tuple[str, ...], word: str) -> bool:
    """Whether ``word`` fits one of ``objects``: remembered, as the same words come back (the
    arguments of buttons), and trying every noun with typos costs more than the rest of a match."""
    return any(fits(word, noun) for noun in objects)


def _find(said: list[str], wanted: tuple[str, ...]) -> list[int] | None:
    """Where the words of a phrase occur in order (others may come between: "open a support
    ticket"), each word fitted by ``fits``; None when one is missing."""
    found: list[int] = []
    start = 0
    alone = len(wanted) == 1
    for keyword in wanted:
        for i in range(start, len(said)):
            if fits(said[i], keyword, alone):
                found.append(i)
                start = i + 1
                break
        else:
            return None
    return found
