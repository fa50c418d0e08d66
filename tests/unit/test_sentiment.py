import subprocess
import sys

import emoji
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from pipeline.core.sentiment import score

VADER = SentimentIntensityAnalyzer()
SKIN_TONES = dict.fromkeys(range(0x1F3FB, 0x1F400))
TONED_EMOJI = sorted(  # every toned emoji whose untoned form is an emoji too
    e
    for e in emoji.EMOJI_DATA
    if e.translate(SKIN_TONES) != e and e.translate(SKIN_TONES) in emoji.EMOJI_DATA
)
CHAT_PIECES = list("abcdefghijklmnopqrstuvwxyz ABC!?.,:;()^_-=<3'") + [
    "😀", "😍", "❤️", "👍", "👍🏽", "😡", "😢", "👎", "💩", "😂",
    "👨‍👩‍👧", "🇫🇷", "\u200d", "\ufe0f", "🏿",
    "haha", "hehe", "lol", "lmao", "slow", "not ", "very ", "but ", ":)", ":(", "^_^", "T_T",
]


@pytest.mark.parametrize(
    "text", ["hahaha", "haha", "hehe", "lol", "lmao", "hahahaha", "hehehe", "LOL", "lolol", "lmaooo"]
)
def test_laughter_scores_positive(text):
    assert score(text) >= 0.4


def test_long_laughter_scores_like_vaders_hahaha():
    assert score("hahahahaha") == score("hahaha") == VADER.polarity_scores("hahaha")["compound"]


def test_hello_is_neutral():
    assert score("hello") == 0.0


def test_so_slow_complaint_is_negative():
    assert score("so slow!") < -0.3


def test_complaint_words_vader_lacks_are_negative():
    assert score("the bot is laggy") < 0
    assert score("it crashed again") < 0


@pytest.mark.parametrize("text", ["", " ", "\n\t  "])
def test_empty_or_whitespace_text_scores_zero(text):
    assert score(text) == 0.0


@pytest.mark.parametrize("text", ["😀", "😍", "❤️", "👍", "😂"])
def test_positive_emoji_scores_positive(text):
    assert score(text) > 0.2


@pytest.mark.parametrize("text", ["😡", "😢", "👎", "💩"])
def test_negative_emoji_scores_negative(text):
    assert score(text) < -0.1


def test_emoji_without_any_evidence_is_neutral():
    assert score("🇫🇷") == 0.0
    assert score("hello 🇫🇷") == 0.0


@pytest.mark.parametrize("text", [":)", ":D", "=)", "^_^", "<3"])
def test_happy_emoticons_score_positive(text):
    assert score(text) > 0.3


@pytest.mark.parametrize("text", [":(", ":'(", "=(", "T_T", "</3"])
def test_sad_emoticons_score_negative(text):
    assert score(text) < -0.3


def test_vader_emoticons_score_as_vader():
    for text in (":)", ":(", "<3", ":-/", "xD"):
        assert score(text) == VADER.polarity_scores(text)["compound"]


@pytest.mark.parametrize("toned", ["👍🏻", "👍🏽", "👍🏿", "🤦🏻‍♀️", "👎🏾", "🙏🏼"])
def test_skin_tone_variant_scores_like_the_base_emoji(toned):
    assert score(toned) == score(toned.translate(SKIN_TONES))


@settings(max_examples=200)
@given(st.sampled_from(TONED_EMOJI), st.sampled_from(["", "thanks ", "so slow "]))
def test_every_skin_toned_emoji_scores_like_its_base(toned, prefix):
    assert score(prefix + toned) == score(prefix + toned.translate(SKIN_TONES))


def test_variation_selector_does_not_change_the_score():
    assert score("❤️") == score("❤") > 0.5


def test_emoji_adds_to_the_text_in_its_direction():
    assert score("great job 👍") > score("great job") > 0
    assert score("this is so slow 😡") < score("this is so slow") < 0


def test_emoji_stuck_to_a_word_still_counts():
    assert score("thanks😍") == score("thanks 😍")


def test_negation_applies_to_an_emoji_like_to_a_word():
    assert score("not 👍") < 0 < score("👍")


def test_repeated_emoji_strengthen_the_score():
    assert score("😍😍😍") > score("😍") > 0


@pytest.mark.parametrize(
    "text",
    [
        "The service was great, thanks!",
        "I hate waiting in line.",
        "Not bad at all",
        "VADER is VERY SMART, handsome, and FUNNY!!!",
        "The book was kind of good.",
        "Today SUX!",
        "At least it isn't a horrible book.",
        "aha, the hallway lollipop is here",
        "café au lait, très bien",
    ],
)
def test_plain_text_scores_exactly_as_vader(text):
    assert score(text) == VADER.polarity_scores(text)["compound"]


@given(st.text())
def test_score_of_any_text_stays_within_minus_one_and_one(text):
    assert -1.0 <= score(text) <= 1.0


@given(st.lists(st.sampled_from(CHAT_PIECES), max_size=40).map("".join))
def test_score_of_chat_like_text_stays_within_minus_one_and_one(text):
    assert -1.0 <= score(text) <= 1.0


def test_importing_sentiment_pulls_no_adapter_and_does_not_import_emosent():
    code = (
        "import sys, pipeline.core.sentiment as s; s.score('ok 👍'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'faust', 'aiokafka', 'kafka', 'clickhouse_connect', 'chdb', 'fastapi', 'emosent'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
