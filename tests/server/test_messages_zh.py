"""Chinese messages by Accept-Language: zh for every error code the console shows (English stays the default)."""
import io

import pytest

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def login(client, username, password, headers=ZH):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password}, headers=headers)


def error(r, status):
    assert r.status_code == status, r.get_json()
    body = r.get_json()
    assert set(body) <= {"code", "status", "message", "errors"}
    return body


def test_wrong_password_in_chinese_and_english_by_default(client, world):
    assert error(login(client, "staff-a", "wrong"), 401)["message"] == "用户名或密码错误。"
    body = error(login(client, "staff-a", "wrong", headers={}), 401)
    assert body["message"] == "Wrong username or password."
    assert body["errors"] == {"authentication": "invalid_credentials"}  # the code for programs is unchanged


def test_disabled_account_and_throttle_in_chinese(client, clean_app, world, as_user):
    as_user("admin").patch(f"/api/v1/users/{world.users['gp-a1']}", json={"is_active": False})
    assert error(login(client, "gp-a1", "correct-horse-1"), 401)["message"] == "此账号已停用，请联系管理员。"
    for _ in range(clean_app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        login(client, "staff-b", "wrong")
    r = login(client, "staff-b", "wrong")
    assert error(r, 429)["message"] == "登录失败次数过多，请稍后再试。" and r.headers["Retry-After"]


@pytest.mark.parametrize("body, field, text", [
    ({"team_id": 1, "reason": "x y"}, "household_ids", "必填。"),
    ({"household_ids": ["a"], "team_id": 1, "reason": "x"}, "reason", "长度须在 2 到 200 之间。"),
    ({"household_ids": ["a"], "team_id": "甲", "reason": "x y"}, "team_id", "不是有效的整数。"),
    ({"household_ids": ["a"], "team_id": 1, "reason": "x y", "extra": 1}, "extra", "不认识的字段。"),
])
def test_form_errors_in_chinese(as_user, world, body, field, text):
    r = as_user("staff-a").post("/api/v1/assignments/", json=body, headers=ZH)
    got = error(r, 422)
    assert got["errors"]["json"][field] == [text]
    assert got["message"] == f"输入有误：{field}。"


def test_a_code_outside_its_list_in_chinese(as_user, world):
    r = as_user("staff-a").post("/api/v1/residents", headers=ZH, json={
        "household_id": world.households["A1-0"], "name": "测试", "sex": "7", "birth_date": "1970-01-01"})
    msg = error(r, 422)["errors"]["json"]["sex"][0]
    assert msg.startswith("须是以下之一：") and "0" in msg


def test_assignment_errors_in_chinese(as_user, world):
    staff = as_user("staff-a")
    hh = world.households

    def post(path, body):
        return staff.post(path, json=body, headers=ZH)
    r = post("/api/v1/assignments/", {"household_ids": [hh["A0-0"]], "team_id": world.teams["B1"], "reason": "x y"})
    assert error(r, 422) == {"code": 422, "status": "Unprocessable Entity", "message": "本中心没有这个团队",
                             "errors": {"team_id": ["本中心没有这个团队"]}}
    r = post("/api/v1/assignments/", {"household_ids": ["nope"], "team_id": None, "reason": "x y"})
    assert error(r, 422)["errors"] == {"household_ids": ["不存在：nope"]}
    r = as_user("admin").post("/api/v1/assignments/", headers=ZH, json={
        "household_ids": [hh["A0-0"], hh["B1-0"]], "team_id": None, "reason": "x y"})
    assert error(r, 422)["message"] == "一次只能分配同一中心的家庭"
    r = post("/api/v1/assignments/", {"household_ids": [], "team_id": None, "reason": "x y"})
    assert error(r, 422)["errors"]["json"]["household_ids"] == ["长度须在 1 到 10000 之间。"]
    r = post("/api/v1/assignments/by-committee", {"committee_id": 999999, "team_id": None, "reason": "x y"})
    assert error(r, 422)["message"] == "没有这个居委会/村"
    r = post("/api/v1/assignments/batches/nope/undo", {"reason": "撤销"})
    assert error(r, 404)["message"] == "没有这一批分配记录。"
    batch = post("/api/v1/assignments/", {"household_ids": [hh["A0-0"]], "team_id": world.teams["A1"],
                                          "reason": "先分"}).get_json()["batch_id"]
    post("/api/v1/assignments/", {"household_ids": [hh["A0-0"]], "team_id": world.teams["A2"], "reason": "后改"})
    r = post(f"/api/v1/assignments/batches/{batch}/undo", {"reason": "撤销"})
    assert error(r, 409)["message"] == "这一批中有 1 户之后又被调整过，不能整批撤销；请逐户调整。"
    r = post("/api/v1/assignments/proposal/accept", {"reason": "均衡", "moves": [
        {"household_id": hh["A0-0"], "from_team_id": None, "to_team_id": world.teams["A1"]}]})
    assert error(r, 409)["message"] == "生成建议后有家庭被调整过，请重新生成建议。"
    r = as_user("admin").get("/api/v1/assignments/load", headers=ZH)
    assert error(r, 422)["message"] == "请指定中心"
    center = as_user("admin").post("/api/v1/centers", json={"code": "Z", "name": "新中心", "county_code": "110101",
                                                            "township_code": "009", "township_name": "z"})
    r = as_user("admin").get(f"/api/v1/assignments/proposal?center_id={center.get_json()['id']}", headers=ZH)
    assert error(r, 409)["message"] == "本中心还没有团队。"


HEADER = "户编号,居委会,家庭住址,姓名,性别,出生日期,身份证号,与户主关系,高血压,糖尿病\n"


def post_file(client, world, data: bytes, name="list.csv", dry_run=True, center="A"):
    return client.post(f"/api/v1/imports/residents?center_id={world.centers[center]}&dry_run={str(dry_run).lower()}",
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data", headers=ZH)


def test_import_problems_in_chinese(as_user, world):
    import datetime as dt

    from gpcore import idcard

    good = idcard.make("310115", dt.date(1960, 5, 1), 11)
    on_file = as_user("admin").get(f"/api/v1/residents/{world.residents['A1-0-0']}").get_json()["id_number"]
    rows = [
        "H1,001,某路1号,,男,1960-05-01,,户主,否,否",  # name missing
        "H1,999,某路1号,张三,男,1960-05-01,,户主,否,否",  # committee
        "H1,001,某路1号,张三,男,1960-05-01,,表哥,否,否",  # relation outside its list
        "H1,001,某路1号,张三,男,1960/5/1x,,户主,否,否",  # date
        "H1,001,某路1号,张三,,,,户主,否,否",  # sex and birth date without an ID number
        "H1,001,某路1号,张三,男,1960-05-01,,户主,也许,否",  # condition
        f"H2,001,某路2号,李四,男,1960-05-01,{good},户主,否,否",
        f"H2,001,某路2号,李四,男,1960-05-01,{good},配偶,否,否",  # duplicate
        f"H3,001,某路3号,王五,女,1961-05-01,{good[:17]}{'1' if good[-1] != '1' else '2'},户主,否,否",  # check digit
        f"H4,001,某路4号,赵六,女,1962-01-01,{good},户主,否,否",  # sex and date against the ID (and dup)
        f"H5,001,某路5号,钱七,男,1950-03-14,{on_file},户主,否,否",  # already on file
        f"H6,001,某路6号,孙八,男,1960-05-01,12345,户主,否,否",  # shape
    ]
    r = post_file(as_user("staff-a"), world, (HEADER + "\n".join(rows) + "\n").encode())
    problems = {(p["row"], p["field"]): p["message"] for p in r.get_json()["problems"]}
    assert problems[(2, "name")] == "必填"
    assert problems[(3, "committee")] == "本中心没有这个居委会/村"
    assert problems[(4, "relation_to_head")] == "“表哥”不在代码表中"
    assert problems[(5, "birth_date")] == "不是日期（请写作 YYYY-MM-DD）"
    assert problems[(6, "sex")] == problems[(6, "birth_date")] == "没有身份证号时必填"
    assert problems[(7, "hypertension")] == "请填写“是/否”或确诊日期"
    assert problems[(9, "id_number")] == "身份证号重复（第 8 行也有）"
    assert problems[(10, "id_number")].startswith("身份证号校验码不对（应为 ")
    assert problems[(11, "sex")] == "性别“女”与身份证号不符（身份证为男）"
    assert problems[(11, "birth_date")] == "出生日期 1962-01-01 与身份证号不符（身份证为 1960-05-01）"
    assert problems[(12, "id_number")] == "系统中已有此身份证号的居民"
    assert problems[(13, "id_number")] == "身份证号须为 18 位：17 位数字加一位数字或 X。"
    untranslated = [m for m in problems.values() if m.isascii()]
    assert not untranslated, untranslated


def test_import_file_errors_in_chinese(as_user, world):
    staff = as_user("staff-a")
    r = post_file(staff, world, b"")
    assert [p["message"] for p in r.get_json()["problems"]] == ["文件中没有数据行"]
    r = post_file(staff, world, "姓名,性别\n张三,男\n".encode())
    assert r.get_json()["problems"][0]["message"].startswith("缺少列：")
    r = post_file(staff, world, b"not a workbook", name="list.xlsx")
    assert error(r, 422)["message"] == "无法读取这个 XLSX 文件（文件可能已损坏，或不是 Excel 文件）。"
    r = post_file(staff, world, (HEADER + "H1,999,某路1号,张三,男,1960-05-01,,户主,否,否\n").encode(), dry_run=False)
    body = error(r, 422)
    assert body["message"] == "发现 1 个问题，未导入任何数据。"
    assert body["errors"] == {"rows": ["第 2 行 committee：本中心没有这个居委会/村"]}
    r = as_user("admin").post("/api/v1/imports/residents", data={"file": (io.BytesIO(b"x"), "x.csv")},
                              content_type="multipart/form-data", headers=ZH)
    assert error(r, 422)["message"] == "请指定中心"
    r = as_user("admin").post("/api/v1/imports/residents?center_id=999999", data={"file": (io.BytesIO(b"x"), "x.csv")},
                              content_type="multipart/form-data", headers=ZH)
    assert error(r, 422)["message"] == "没有这个中心。"


def test_health_file_rules_in_chinese(as_user, world):
    """gpcore's health-file checks (codes, identity) in Chinese: the console's edit and a tablet's sync."""
    path = f"/api/v1/residents/{world.residents['A1-0-0']}"
    both = {"drug_allergies": ["none", "penicillin"]}
    body = error(as_user("gp-a1").patch(path, headers={**ZH, "If-Match": "*"}, json=both), 422)
    assert body["message"] == "居民健康档案填写有误。"
    assert body["errors"] == {"drug_allergies": ["选了“无”就不能再选其他项"]}
    english = error(as_user("gp-a1").patch(path, headers={"If-Match": "*"}, json=both), 422)
    assert english["errors"] == {"drug_allergies": ["'none' cannot be combined with other choices"]}
