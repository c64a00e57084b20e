"""Chinese texts for the English messages the API writes by pattern: schema (marshmallow) field messages and
the import's row problems. Answered when the caller sends Accept-Language: zh; English stays the default.

A message with no entry here passes through in English rather than being guessed at.
"""
from __future__ import annotations

import re

# marshmallow's and webargs' default field messages, and this project's own schema messages.
SCHEMA = [
    (r"Missing data for required field\.", "必填。"),
    (r"Field may not be null\.", "不能为空。"),
    (r"Unknown field\.", "不认识的字段。"),
    (r"Not a valid integer\.", "不是有效的整数。"),
    (r"Not a valid number\.", "不是有效的数字。"),
    (r"Not a valid string\.", "不是有效的文字。"),
    (r"Not a valid boolean\.", "不是有效的是/否。"),
    (r"Not a valid date\.", "不是有效的日期（格式 YYYY-MM-DD）。"),
    (r"Not a valid datetime\.", "不是有效的时间。"),
    (r"Not a valid list\.", "不是有效的列表。"),
    (r"Not a valid mapping type\.", "须是一个对象（{…}）。"),
    (r"Invalid input type\.", "类型不对。"),
    (r"Shorter than minimum length (\d+)\.", r"至少 \1 个字。"),
    (r"Longer than maximum length (\d+)\.", r"最多 \1 个字。"),
    (r"Length must be between (\d+) and (\d+)\.", r"长度须在 \1 到 \2 之间。"),
    (r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\.", r"须在 \1 到 \2 之间。"),
    (r"Must be greater than or equal to (\S+)\.", r"不能小于 \1。"),
    (r"Must be less than or equal to (\S+)\.", r"不能大于 \1。"),
    (r"Must be one of: (.*)\.", r"须是以下之一：\1。"),
    (r"String does not match expected pattern\.", "格式不对。"),
    # A tablet's follow-up record (server/sync/push.py _VisitPush).
    (r"a visit needs the form", "随访记录缺少随访表。"),
    (r"an amendment needs the reason", "更正须写明原因。"),
    (r"a new record needs resident_id and condition", "新记录须有居民和慢病。"),
    (r"a lost entry needs date", "失访记录须填写日期。"),
    (r"a lost entry needs reason", "失访记录须写明原因。"),
    (r"a death entry needs date", "死亡记录须填写死亡日期。"),
    (r"a death entry needs cause", "死亡记录须写明死因。"),
    (r"a (?:lost|death) entry needs (?:resident_id|condition)", "记录缺少居民或慢病。"),
    (r"at most (\d+) characters", r"最多 \1 个字。"),
]

# Row problems of a resident import (server/imports), including the ID-card checks gpcore writes.
IMPORT = [
    (r"required", "必填"),
    (r"the file has no data rows", "文件中没有数据行"),
    (r"missing column\(s\): (.*)", r"缺少列：\1"),
    (r"unknown committee in this center", "本中心没有这个居委会/村"),
    (r"unknown value '(.*)'", r"“\1”不在代码表中"),
    (r"not a date \(use YYYY-MM-DD\)", "不是日期（请写作 YYYY-MM-DD）"),
    (r"duplicate ID number \(also on row (\d+)\)", r"身份证号重复（第 \1 行也有）"),
    (r"required when there is no ID number", "没有身份证号时必填"),
    (r"write 是/否 or the diagnosis date", "请填写“是/否”或确诊日期"),
    (r"already on file in the system", "系统中已有此身份证号的居民"),
    (r"ID number must be 18 characters: 17 digits and a digit or X\.", "身份证号须为 18 位：17 位数字加一位数字或 X。"),
    (r"ID number check character should be (.)\.", r"身份证号校验码不对（应为 \1）。"),
    (r"ID number holds no real birth date\.", "身份证号中的出生日期不存在。"),
    (r"ID number birth date is not a real past date\.", "身份证号中的出生日期不是过去的日期。"),
    (r"birth date is in the future", "出生日期晚于今天"),
    (r"birth date (\S+) does not match the ID number \((\S+)\)", r"出生日期 \1 与身份证号不符（身份证为 \2）"),
    (r"sex (\S+) does not match the ID number \((\S+)\)", r"性别“\1”与身份证号不符（身份证为\2）"),
    # The health file's code checks (gpcore.health_file.check_codes), met by a tablet's edit.
    (r"unknown code (.*); one of (.*)", r"\1 不在代码表中（可选：\2）"),
    (r"unknown code\(s\) (.*); choose from (.*)", r"\1 不在代码表中（可选：\2）"),
    (r"'none' cannot be combined with other choices", "选了“无”就不能再选其他项"),
    (r"name the minority when ethnicity is 99", "民族为 99（其他少数民族）时请写明民族名称"),
]
_SCHEMA = [(re.compile(p), zh) for p, zh in SCHEMA]
_IMPORT = [(re.compile(p), zh) for p, zh in IMPORT]


def _translate(table, text: str) -> str:
    for pattern, zh in table:
        m = pattern.fullmatch(text)
        if m:
            return m.expand(zh)
    return text


def schema_message(text: str) -> str:
    """One schema message in Chinese (unchanged if it has no entry)."""
    return _translate(_SCHEMA, text)


def schema_messages(messages):
    """webargs' nested {location: {field: [messages]}} with every message in Chinese."""
    if isinstance(messages, dict):
        return {k: schema_messages(v) for k, v in messages.items()}
    if isinstance(messages, list):
        return [schema_messages(m) for m in messages]
    return schema_message(messages) if isinstance(messages, str) else messages


def import_problem(text: str) -> str:
    """One import row problem in Chinese (unchanged if it has no entry)."""
    return _translate(_IMPORT, text)
