"""Name forms for matching (gpcore.names): what folds away, and what never does (the characters)."""
import pytest

from gpcore import names


@pytest.mark.parametrize("a, b, same", [
    ("张三", "张三", True),
    ("张 三", "张三", True),  # a space
    ("张\u3000三", " 张三 ", True),  # an ideographic space, padding
    ("阿依古丽·买买提", "阿依古丽·买买提", True),  # the middle dot of ID cards (U+00B7)
    ("阿依古丽·买买提", "阿依古丽•买买提", True),  # a bullet for the dot
    ("阿依古丽·买买提", "阿依古丽・买买提", True),  # the katakana middle dot
    ("阿依古丽·买买提", "阿依古丽.买买提", True),  # a full stop
    ("阿依古丽·买买提", "阿依古丽．买买提", True),  # a full-width full stop
    ("阿依古丽·买买提", "阿依古丽买买提", True),  # left out by a system that cannot type it
    ("阿依古丽·买买提", "阿依古丽·买提", False),  # other characters
    ("ZHANG SAN", "zhang san", True),  # case
    ("ＺＨＡＮＧ　ＳＡＮ", "ZHANG SAN", True),  # full-width letters and space
    ("ZHANG^SAN", "张三", True),  # pinyin against characters, when one side has none
    ("Zhang San", "章三", True),  # ... which is weak: 章三 reads zhangsan too
    ("章三", "张三", False),  # both in characters: characters decide, never pinyin
    ("张三", "李四", False),
    ("ÕÅÈý", "ÕÅÈý", True),  # mis-decoded text is the same as itself
    ("ÕÅÈý", "张三", False),  # ... and no name in characters
    ("????", "张三", False),
    ("", "张三", None),  # no name: nothing to compare
    ("  ", "张三", None),
    (None, None, None),
])
def test_same_name(a, b, same):
    assert names.same_name(a, b) is same
    assert names.same_name(b, a) is same


@pytest.mark.parametrize("name, alphabetic, forms", [
    ("张 三", "", ("张三", "张三", "zhangsan")),
    ("张三", "ZHANG^SAN", ("张三", "张三", "zhangsan")),
    ("", "ZHANG^SAN", ("zhangsan", "", "zhangsan")),
    ("Zhang San", "", ("zhangsan", "", "zhangsan")),
    ("买买提·艾力", "", ("买买提艾力", "买买提艾力", "maimaitiaili")),
    ("王Amy", "", ("王amy", "王amy", "wangamy")),
])
def test_name_forms(name, alphabetic, forms):
    got = names.name_forms(name, alphabetic)
    assert (got.text, got.characters, got.letters) == forms


def test_an_alphabetic_spelling_is_compared_only_without_characters():
    # The characters sent decide even when the sender's pinyin (here of another name) would agree.
    assert names.same_name(names.name_forms("张三", "LI^SI"), names.name_forms("张三")) is True
    assert names.same_name(names.name_forms("", "LI^SI"), names.name_forms("张三")) is False


@pytest.mark.parametrize("a, b, same", [
    ("张 三", "张三", True), ("阿依古丽·买买提", "阿依古丽买买提", True),
    ("ZHANG SAN", "张三", False), ("ZHANG SAN", "ZHANG SAN", False), ("章三", "张三", False), ("", "", False),
])
def test_same_characters(a, b, same):
    assert names.same_characters(a, b) is same


def test_search_forms_are_what_the_file_stores():
    assert names.search_forms(" 张三 ") == {"name": "张三", "name_pinyin": "zhangsan", "name_initials": "zs"}
    assert names.search_forms("王Amy") == {"name": "王Amy", "name_pinyin": "wangamy", "name_initials": "wamy"}


@pytest.mark.parametrize("text, chinese", [
    ("这位专科医生不接受线上会诊，请转诊至门诊或发给科室。", True),
    ("“心内科”今天不接诊", True),  # begins with punctuation
    ("3天内答复", True),
    ("HbA1c须小于7%", True),  # an abbreviation in a Chinese sentence
    ("add the department '心内科' to the directory first", False),  # English quoting a name
    ("the form has invalid fields", False),
    ("", False),
    (None, False),
])
def test_a_message_is_chinese_when_its_characters_outweigh_its_latin_letters(text, chinese):
    assert names.written_in_chinese(text) is chinese
