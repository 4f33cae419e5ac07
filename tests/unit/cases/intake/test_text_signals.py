"""Case flags from the description: either Chinese script, any width or case, Chinese and English."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.intake.hanzi import TRADITIONAL_TO_SIMPLIFIED
from cases.intake.text_signals import DEFAULT_SIGNALS, detect_language, find_signals, normalise

SAFETY = "safety_risk"
OUTAGE = "outage"
MAJOR = "major_complaint"

# (description, the flags and phrases the shipped lists find in it)
CASES: list[tuple[str, dict[str, list[str]]]] = [
    # Simplified Chinese, found.
    ("充电宝冒烟了", {SAFETY: ["冒烟"]}),
    ("昨晚电热水壶突然起火，厨房都熏黑了", {SAFETY: ["起火"]}),
    ("插座漏电，孩子被电了一下", {SAFETY: ["漏电"]}),
    ("手机充电时电池鼓包，后盖都顶开了", {SAFETY: ["鼓包"]}),
    ("电暖器用了十分钟就短路，还冒火花", {SAFETY: ["冒火花", "短路"]}),
    ("吹风机把手烫伤了，要求赔偿", {SAFETY: ["烫伤"]}),
    ("电动车停在楼下自燃了", {SAFETY: ["自燃"]}),
    ("从昨天开始APP无法登录，所有门店全部无法使用", {OUTAGE: ["无法登录", "全部无法使用"]}),
    ("收银系统崩溃，整个上午服务中断", {OUTAGE: ["系统崩溃", "服务中断"]}),
    ("再不处理我就找律师起诉你们", {MAJOR: ["起诉", "律师"]}),
    ("我要打12315投诉", {MAJOR: ["12315"]}),
    ("已经投诉到消费者协会了", {MAJOR: ["消费者协会", "投诉到"]}),
    # Traditional Chinese: the same phrases, reported in the policy's spelling.
    ("充電寶冒煙了", {SAFETY: ["冒烟"]}),
    ("電線燒焦了，差點著火", {SAFETY: ["著火", "烧焦"]}),
    ("熱水器漏電，我兒子觸電了", {SAFETY: ["漏电", "触电"]}),
    ("爐子爆炸，手被燒傷", {SAFETY: ["爆炸", "烧伤"]}),
    ("我已经联系了媒體記者", {MAJOR: ["媒体", "记者"]}),
    ("我會去消協，還要上法院", {MAJOR: ["法院", "消协"]}),
    ("系統癱瘓，登錄不了", {OUTAGE: ["登录不了", "系统瘫痪"]}),
    # Full-width letters, digits and spaces.
    ("我要打１２３１５投诉", {MAJOR: ["12315"]}),
    ("Ｔｈｅ　ＣＨＡＲＧＥＲ　ｅｘｐｌｏｄｅｄ", {SAFETY: ["exploded"]}),
    ("ｏｕｔａｇｅ since 9am", {OUTAGE: ["outage"]}),
    # English, found: case, punctuation and the suffixes s, es, ed, ing.
    ("The charger caught FIRE last night", {SAFETY: ["fire"]}),
    ("Fire! The toaster is on fire", {SAFETY: ["fire"]}),
    ("Strong burning smell from the fan, and it burned my finger", {SAFETY: ["burn"]}),
    ("The lamp got so hot the shade is burnt", {SAFETY: ["burnt"]}),
    ("The power bank overheated and then exploded", {SAFETY: ["exploded", "overheat"]}),
    ("My son got an electric shock from the kettle", {SAFETY: ["electric shock"]}),
    ("Sparks came out of the socket", {SAFETY: ["sparks"]}),
    ("Service down again, we cannot log in", {OUTAGE: ["service down", "cannot log in"]}),
    ("I will SUE you. My lawyer has the receipts", {MAJOR: ["lawyer", "sue"]}),
    ("I have already contacted a journalist and the regulator", {MAJOR: ["journalist", "regulator"]}),
    ("Posting this on social media tonight", {MAJOR: ["social media"]}),
    ("I am taking this to the press", {MAJOR: ["to the press"]}),
    # Mixed Chinese and English, with no spaces between them.
    ("手机fire了!!", {SAFETY: ["fire"]}),
    ("我的laptop冒烟了, I will call my lawyer", {SAFETY: ["冒烟"], MAJOR: ["lawyer"]}),
    ("App无法登录 and the system down page shows", {OUTAGE: ["无法登录", "system down"]}),
    # Nothing to find.
    ("快递太慢了", {}),
    ("衣服颜色不对", {}),
    ("衣服顏色不對，要求退貨", {}),
    ("尺码偏小，想换大一号", {}),
    ("firewall settings wrong", {}),
    ("The engine misfired twice", {}),
    ("That rude clerk should be fired", {}),
    ("The CD burner does not eject", {}),
    ("I was shocked by the price", {}),
    ("I pressed the button and nothing happened", {}),
    ("The media player skips tracks", {}),
    ("This is a billing issue, please refund", {}),
    ("Smoked salmon arrived warm", {}),
    ("请拨打4001231500联系客服", {}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text for text, _ in CASES])
def test_shipped_signals(text: str, expected: dict[str, list[str]]) -> None:
    assert find_signals(text, DEFAULT_SIGNALS) == expected


def test_the_table_has_both_outcomes_in_both_scripts() -> None:
    # A table that lost its negatives, or its traditional rows, would still pass row by row.
    assert len(CASES) >= 40
    assert sum(1 for _, found in CASES if not found) >= 10
    traditional = [text for text, _ in CASES if text.translate(TRADITIONAL_TO_SIMPLIFIED) != text]
    assert len(traditional) >= 5
    assert len({text for text, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("phrase", "text", "found"),
    [
        ("fire", "caught fire", True),
        ("fire", "fire!", True),
        ("fire", "fires", True),
        ("fire", "firewall", False),
        ("fire", "misfired", False),
        ("fire", "fired", False),
        ("fire", "campfire", False),
        ("burn", "burns", True),
        ("burn", "burned", True),
        ("burn", "burning", True),
        ("burn", "burner", False),
        ("burn", "heartburn", False),
        ("burn", "burn2", False),
        ("box", "boxes", True),
        ("box", "boxer", False),
        ("12315", "call 12315 now", True),
        ("12315", "123150", False),
        ("12315", "12315s", False),
        ("service down", "service   down", True),
        ("service down", "servicedown", False),
        ("冒烟", "冒烟", True),
        ("冒烟", "没有冒烟", True),
        ("fire", "手机fire了", True),
        ("冒烟", "冒 烟", False),
    ],
)
def test_boundary_and_suffix_rule(phrase: str, text: str, found: bool) -> None:
    assert (find_signals(text, {"flag": [phrase]}) == {"flag": [phrase]}) is found


def test_phrases_keep_the_policy_order_not_the_text_order() -> None:
    phrases = {"a": ["lawsuit", "lawyer", "media"], "b": ["fire"]}
    assert find_signals("media, then a lawyer, then a lawsuit", phrases) == {"a": ["lawsuit", "lawyer", "media"]}
    assert list(find_signals("fire and a lawyer", {"b": ["fire"], "a": ["lawyer"]})) == ["b", "a"]


def test_a_phrase_is_reported_once_in_its_first_spelling() -> None:
    phrases = {"major": ["媒體", "媒体", "記者", "媒體", "MEDIA", "media"]}
    assert find_signals("媒体记者 media", phrases) == {"major": ["媒體", "記者", "MEDIA"]}


def test_phrases_are_normalised_like_the_text() -> None:
    assert find_signals("我要打12315", {"m": ["１２３１５"]}) == {"m": ["１２３１５"]}
    assert find_signals("caught fire", {"s": ["ＦＩＲＥ"]}) == {"s": ["ＦＩＲＥ"]}
    assert find_signals("充电宝冒烟", {"s": ["冒煙"]}) == {"s": ["冒煙"]}


def test_an_empty_phrase_finds_nothing() -> None:
    assert find_signals("anything at all", {"x": ["", "   ", "\u3000"]}) == {}
    assert find_signals("", DEFAULT_SIGNALS) == {}


def test_a_bare_string_of_phrases_is_refused() -> None:
    with pytest.raises(TypeError, match="'x'"):
        find_signals("fire", {"x": "fire"})


def test_the_answer_is_the_same_every_time() -> None:
    text = "充電寶冒煙了，I will call my lawyer and go to the media, 系统崩溃"
    first = find_signals(text, DEFAULT_SIGNALS)
    assert first == {SAFETY: ["冒烟"], OUTAGE: ["系统崩溃"], MAJOR: ["lawyer", "to the media"]}
    for _ in range(20):
        again = find_signals(text, DEFAULT_SIGNALS)
        assert again == first
        assert [list(again), *again.values()] == [list(first), *first.values()]


def test_the_shipped_phrases_are_already_normal_and_distinct() -> None:
    # A phrase that normalises to another form could never be written back as the policy spells it.
    for flag, phrases in DEFAULT_SIGNALS.items():
        assert [normalise(p) for p in phrases] == list(phrases), flag
        assert len(set(phrases)) == len(phrases), flag


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),
        ("ｆｉｒｅ　ａｌａｒｍ", "fire alarm"),
        ("Straße", "strasse"),
        ("ﾃｽﾄ", "テスト"),
        ("充電寶冒煙了", "充电宝冒烟了"),
        ("體質報導", "体质报导"),
        ("  a \t\n b\u3000\u3000c  ", "a b c"),
        ("已经联系了媒體記者", "已经联系了媒体记者"),
        ("", ""),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_the_table_maps_common_traditional_characters_one_to_one() -> None:
    table = {chr(k): chr(v) for k, v in TRADITIONAL_TO_SIMPLIFIED.items()}
    for pair in ("電电", "燒烧", "煙烟", "燙烫", "傷伤", "訴诉", "體体", "記记", "報报", "導导", "壞坏",
                 "質质", "買买", "賣卖", "貨货", "東东", "車车", "門门", "開开", "關关", "發发", "熱热",
                 "爐炉", "線线", "產产", "險险", "護护", "損损", "權权", "據据"):
        assert table[pair[0]] == pair[1], pair
    assert len(table) >= 600
    # No target is itself folded again, and no character maps to itself.
    assert not set(table.values()) & set(table)
    assert all(k != v for k, v in table.items())
    assert all(unicodedata.normalize("NFKC", k) == k for k in table)
    # Characters with no single simplified form are not guessed.
    assert not {"乾", "於", "畫", "麼"} & set(table)


@given(st.text())
def test_normalise_is_a_fixed_point(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("充电宝冒烟了", "zh"),
        ("充電寶冒煙了", "zh"),
        ("The charger caught fire", "en"),
        ("my phone 坏了", "zh"),
        ("ＡＢＣ１２３", "en"),
        ("テスト", "en"),
        ("", "en"),
        ("\U00020000", "zh"),
        ("\u3400", "zh"),
        ("\uf900", "zh"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language
