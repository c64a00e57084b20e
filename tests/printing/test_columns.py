"""Column counting, padding and wrapping with double-width Chinese characters."""

from hypothesis import given, strategies as st

from printing.columns import (char_columns, clean_text, labelled, pad, spread, table_row, text_columns,
                              truncate, wrap)


def test_chinese_takes_two_columns_ascii_one():
    assert [char_columns(c) for c in "A中，1 ↑µ"] == [1, 2, 2, 1, 1, 2, 2]
    assert text_columns("血糖GLU 5.6") == 4 + 3 + 1 + 3


def test_control_characters_are_removed_so_names_cannot_carry_printer_commands():
    assert clean_text("张\x1b@三\x1dV\x00\t好") == "张@三V 好"


def test_pad_and_truncate_never_split_a_character():
    assert pad("张三", 5) == "张三 "
    assert pad("张三丰", 5) == "张三 "  # the third character does not fit in column 5-6
    assert pad("ab", 5, "right") == "   ab"
    assert pad("中", 6, "center") == "  中  "
    assert truncate("中文abc", 5) == "中文a"


def test_wrap_breaks_between_characters_and_keeps_ascii_words_whole():
    lines = wrap("空腹血糖16.9mmol/L，明显偏高。", 12)
    assert lines == ["空腹血糖", "16.9mmol/L，", "明显偏高。"]
    assert all(text_columns(x) <= 12 for x in lines)


def test_wrap_keeps_closing_punctuation_off_the_start_of_a_line():
    lines = wrap("一二三四五，六七", 10)
    assert lines == ["一二三四", "五，六七"]


def test_wrap_honours_newlines_and_splits_overlong_words():
    assert wrap("甲\n乙", 8) == ["甲", "乙"]
    assert wrap("A" * 25, 10) == ["A" * 10, "A" * 10, "A" * 5]


@given(st.text(alphabet=st.sampled_from(list("中文检验报告ABC xyz123，。（）\n↑")), max_size=80),
       st.integers(min_value=2, max_value=48))
def test_wrap_never_exceeds_width_and_loses_no_characters(text, cols):
    lines = wrap(text, cols)
    assert all(text_columns(x) <= cols for x in lines)
    assert "".join(lines).replace(" ", "") == clean_text(text).replace(" ", "").replace("\n", "")


def test_table_row_aligns_columns_with_mixed_chinese_and_ascii(split_at_column):
    widths = [14, 8, 4, 8, 10]
    rows = [
        ["空腹血糖(GLU)", "16.9", "↑↑", "mmol/L", "3.9-6.1"],
        ["WBC", "6.5", "", "10^9/L", "3.5-9.5"],
        ["高密度脂蛋白胆固醇(HDL-C)", "0.86", "↓", "mmol/L", "1.04-1.55"],
        ["尿蛋白", "阴性", "", "", "阴性"],
    ]
    for cells in rows:
        lines = table_row(cells, widths, ["left", "right", "left", "left", "left"])
        first = lines[0]
        name, rest = split_at_column(first, 15)
        result, rest = split_at_column(rest, 9)
        flag, rest = split_at_column(rest, 5)
        unit, ref = split_at_column(rest, 9)
        assert result.rstrip() == " " * (8 - text_columns(cells[1])) + cells[1]
        assert flag.strip() == cells[2]
        assert unit.strip() == cells[3]
        assert ref == cells[4]
        for line in lines:
            assert text_columns(line) <= sum(widths) + len(widths) - 1
    long_name = table_row(rows[2], widths)
    assert long_name[0].startswith("高密度脂蛋白胆") and long_name[1].startswith("固醇(HDL-C)")


def test_labelled_hangs_continuation_lines_under_the_value():
    lines = labelled("医嘱：", "少吃主食和甜食，每天快走30分钟。", 20)
    assert lines[0].startswith("医嘱：少吃")
    assert all(x.startswith("      ") for x in lines[1:])
    assert all(text_columns(x) <= 20 for x in lines)


def test_spread_puts_right_text_flush_right():
    line = spread("检验者：李明", "审核者：王晓红", 32)
    assert text_columns(line) == 32 and line.endswith("审核者：王晓红")
