// The referral pages: a specialist's inbox and case page, the center's referrals page. Loaded after
// console.js and built from its helpers; every action goes through /api/v1 with If-Match (the case's ETag).
"use strict";
const Referrals = (() => {
  const C = Console;
  const { el, row, emptyRow, say, when } = C;
  const URGENCY = { emergency: "急诊", urgent: "加急", routine: "普通" };
  const STATE = { requested: "待接诊", info_requested: "待补充资料", accepted: "已接诊", declined: "已拒绝",
    answered: "已答复", returned: "已回转", closed: "已结案", cancelled: "已撤销" };
  const OPEN = ["requested", "info_requested", "accepted", "answered", "returned"];
  const KIND = { econsult: "线上会诊", transfer: "转诊至门诊" };
  const OUTCOME = { advice: "仅给出建议", clinic: "预约专科门诊", admit: "收住院" };
  const SESSION = { am: "上午", pm: "下午" };
  const ACTION = { accept: "接诊", decline: "拒绝", pass_to_pool: "转给科室", ask_info: "请求补充资料",
    give_info: "补充资料", answer: "答复", return_case: "写回转单", close: "结案", cancel: "撤销",
    // entries the server writes itself (gpcore ENTRY_LABELS)
    escalate: "超时升级", team_move: "转交团队" };
  const PATH = { accept: "accept", decline: "decline", pass_to_pool: "pass-to-pool", ask_info: "ask-info",
    answer: "answer", return_case: "return" };
  // Actions that carry one text, and what the box asks for.
  const TEXT_ACTIONS = { decline: ["reason", "拒绝原因（将告知团队）"], pass_to_pool: ["reason", "转给科室的原因"],
    ask_info: ["question", "需要团队补充的资料"] };
  const ROLE = { gp: "团队", specialist: "专科医生", center_staff: "中心", admin: "管理员", system: "自动" };

  function chinaToday() {
    // The doctor's calendar day (UTC+8), as the server counts deadlines.
    return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
  }

  function urgencyBadge(urgency) {
    return el("span", URGENCY[urgency] || urgency, { class: `badge urgency-${urgency}` });
  }

  // The flags of a case row: overdue, escalated (and where to).
  function flags(r) {
    const box = el("span", null, { class: "flags" });
    if (r.overdue) box.append(el("span", `已超时（期限 ${r.response_due}）`, { class: "badge overdue" }));
    if (r.escalated_at) box.append(el("span", `已上报科室和中心 ${when(r.escalated_at)}`, { class: "badge escalated" }));
    return box;
  }

  function caseLink(r) {
    return el("a", r.resident_name, { href: `/console/referrals/${encodeURIComponent(r.id)}` });
  }

  function rowClass(r) {
    return { class: r.overdue ? "overdue" : "", "data-referral": r.id };
  }

  // A request whose answer we need whole: the body, the ETag, the status; 401 signs out.
  async function call(method, path, body, etag) {
    const h = C.headers(body === undefined ? {} : { "Content-Type": "application/json" });
    if (etag) h["If-Match"] = etag;
    const resp = await fetch(`/api/v1${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    if (resp.status === 401) C.signedOut();
    return { status: resp.status, ok: resp.ok, etag: resp.headers.get("ETag"), data: await resp.json() };
  }

  // --- the loop's metrics as tiles (center page; a specialist's pool on the inbox) ----------------------
  function hours(h) {
    if (h === null || h === undefined) return "—";
    if (h < 1) return `${Math.round(h * 60)} 分钟`;
    return h < 48 ? `${h.toFixed(1)} 小时` : `${(h / 24).toFixed(1)} 天`;
  }

  function share(s) {
    return s.of ? `${C.percent(s.rate)}（${s.n}/${s.of}）` : "—";
  }

  function tiles(container, t) {
    const shown = [["转诊数", t.cases], ["未结案", t.open], ["超时未响应", t.overdue], ["已上报", t.escalated],
      ["首次响应中位数", hours(t.median_hours_to_first_response)], ["按时响应率", share(t.answered_in_time)],
      ["无需到院率", share(t.settled_without_visit)], ["两周闭环率", share(t.closed_loop)], ["下转数", t.down_referrals]];
    container.replaceChildren(...shown.map(([k, v]) => {
      const tile = el("div", null, { class: "tile", "data-metric": k });
      tile.append(el("div", v, { class: "value" }), el("div", k, { class: "hint" }));
      return tile;
    }));
  }

  // --- a specialist's inbox --------------------------------------------------------------------------
  async function inboxPage() {
    const me = await C.requireSignedIn();
    if (C.STAFF.includes(me.role)) { window.location.replace("/console/referrals/center"); return; }
    if (me.role !== "specialist") { window.location.replace("/console/gp"); return; }
    document.getElementById("staff-nav").hidden = true;
    document.getElementById("specialist-nav").hidden = false;
    document.getElementById("inbox-who").textContent = me.department ? `${me.department}` : "";
    document.getElementById("pool-name").textContent = me.department ? `（${me.department}，认领后由您负责）` : "";
    const filter = document.getElementById("inbox-filter");

    async function show() {
      const states = filter.show.value === "open" ? OPEN.map((s) => `&state=${s}`).join("") : "";
      const page = await C.api("GET", `/referrals?page_size=500${states}`);
      const mine = page.items.filter((r) => r.specialist_id === me.id || r.owner_id === me.id);
      const pool = page.items.filter((r) => r.specialist_id === null && r.owner_id === null);
      const mineBody = document.querySelector("#mine tbody");
      mineBody.replaceChildren(...mine.map((r) => row([urgencyBadge(r.urgency), caseLink(r), STATE[r.state],
        r.sent_on, r.response_due, flags(r)], rowClass(r))));
      if (!mine.length) emptyRow(mineBody, 6, "没有指定给您的病例。");
      const poolBody = document.querySelector("#pool tbody");
      poolBody.replaceChildren(...pool.map((r) => {
        const claim = el("button", "认领", { type: "button", "data-claim": r.id });
        claim.onclick = () => claimCase(r);
        return row([urgencyBadge(r.urgency), caseLink(r), STATE[r.state], r.sent_on, r.response_due, flags(r), claim],
          rowClass(r));
      }));
      if (!pool.length) emptyRow(poolBody, 7, "科室暂无待认领的病例。");
    }

    async function claimCase(r) {
      if (!await C.confirmBox(`认领 ${r.resident_name} 的转诊`, ["认领后此病例由您负责答复，科室其他医生不再看到。"])) return;
      const got = await call("GET", `/referrals/${r.id}`);
      if (got.status === 404) { say("该病例已被科室其他医生认领。"); await show(); return; }
      const done = await call("POST", `/referrals/${r.id}/accept`, {}, got.etag);
      if (!done.ok) { say(plain(done)); await show(); return; }
      window.location.href = `/console/referrals/${encodeURIComponent(r.id)}`;
    }
    filter.show.onchange = show;
    await show();
    // Their pool's and their own cases of the last 90 days (the API's default period for metrics).
    tiles(document.getElementById("my-tiles"), (await C.api("GET", "/referrals/metrics?by=specialty")).total);
  }

  // A refusal in words a doctor acts on (the API's message is Chinese already; say what happens next).
  function plain(result) {
    // 409 and 412 carry the state and the ETag as fields for programs; the message says it in words.
    if (result.status === 409) return `${result.data.message} 页面已显示此病例的最新状态。`;
    if (result.status === 412) {
      const state = STATE[((result.data.errors || {}).state || [])[0]] || "";
      return `此病例在您打开后已被更新${state ? `（当前状态：${state}）` : ""}，页面已显示最新内容，请确认后再操作。`;
    }
    const text = C.describe(result.data);
    if (result.status === 404) return "该病例已不在您的范围内（可能已被他人认领）。";
    return text;
  }

  // --- charts: values over visit dates, one line per series --------------------------------------------
  function lineChart(container, points, series, title, unit) {
    const shown = points.filter((p) => series.some((s) => p[s.key] !== null && p[s.key] !== undefined));
    if (!shown.length) { container.replaceChildren(el("p", "近一年没有记录。", { class: "hint" })); return; }
    const width = 440;
    const height = 220;
    const left = 40;
    const right = 30;  // room for the last date label
    const top = 28;
    const bottom = 40;
    const values = shown.flatMap((p) => series.map((s) => p[s.key])).filter((v) => v !== null && v !== undefined)
      .concat(series.flatMap((s) => (s.band ? s.band : [])));
    // Round ticks (a step of 1, 2 or 5 times a power of ten); dates placed by time, not by visit number.
    const raw = (Math.max(...values) - Math.min(...values)) / 5 || 1;
    const power = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
    const lo = Math.floor((Math.min(...values) - step / 4) / step) * step;
    const hi = Math.ceil((Math.max(...values) + step / 4) / step) * step;
    const day = (p) => Date.parse(p.visit_date);
    const first = day(shown[0]);
    const span = day(shown[shown.length - 1]) - first;
    const x = (i) => left + (span ? (day(shown[i]) - first) / span : 0.5) * (width - left - right);
    const y = (v) => top + (hi - v) * (height - top - bottom) / (hi - lo);
    const chart = C.svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "lines" });
    chart.append(C.svg("title", {}, title));
    for (let v = lo; v <= hi + step / 2; v += step) {
      chart.append(C.svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), class: "grid" }),
        C.svg("text", { x: left - 4, y: y(v) + 4, class: "tick" }, `${Math.round(v * 10) / 10}`));
    }
    series.forEach((s, si) => {
      const color = C.COLORS[(si * 5) % C.COLORS.length];
      if (s.band) {  // the target line the specialist reads the values against
        chart.append(C.svg("line", { x1: left, x2: width - right, y1: y(s.band[0]), y2: y(s.band[0]), class: "target",
          stroke: color }));
      }
      const pts = shown.map((p, i) => [i, p[s.key]]).filter(([, v]) => v !== null && v !== undefined);
      chart.append(C.svg("polyline", { points: pts.map(([i, v]) => `${x(i)},${y(v)}`).join(" "), fill: "none",
        stroke: color, "stroke-width": 2, class: `series-${s.key}` }));
      for (const [i, v] of pts) {
        const dot = C.svg("circle", { cx: x(i), cy: y(v), r: 3.5, fill: color, "data-value": v });
        dot.append(C.svg("title", {}, `${shown[i].visit_date} ${s.label}：${v}${unit}`));
        chart.append(dot);
      }
      chart.append(C.svg("rect", { x: left + si * 90, y: 6, width: 12, height: 12, fill: color }),
        C.svg("text", { x: left + si * 90 + 16, y: 16, class: "legend" }, s.label));
    });
    let lastLabel = -Infinity;
    shown.forEach((p, i) => {
      if (x(i) - lastLabel >= 64) {  // a label is about 56 px wide: visits close in time share one
        chart.append(C.svg("text", { x: x(i), y: height - bottom + 22, class: "label" }, p.visit_date.slice(2)));
        lastLabel = x(i);
      }
    });
    container.replaceChildren(chart);
  }

  function facts(tbody, pairs) {
    tbody.replaceChildren(...pairs.filter(([, v]) => v !== undefined && v !== null && v !== "" &&
      !(Array.isArray(v) && !v.length)).map(([k, v]) => {
      const tr = el("tr");
      tr.append(el("th", k), el("td", Array.isArray(v) ? v.join("；") : v));
      return tr;
    }));
  }

  // --- one case ------------------------------------------------------------------------------------
  async function casePage() {
    const me = await C.requireSignedIn();
    const id = decodeURIComponent(window.location.pathname.split("/").pop());
    if (me.role === "specialist") {
      document.getElementById("staff-nav").hidden = true;
      document.getElementById("specialist-nav").hidden = false;
    } else {
      document.getElementById("back").href = "/console/referrals/center";
    }
    let current = null;
    let etag = null;

    async function load() {
      const got = await call("GET", `/referrals/${id}`);
      if (!got.ok) { say(plain(got)); return false; }
      current = got.data;
      etag = got.etag;
      drawCase();
      return true;
    }

    function drawCase() {
      const c = current;
      document.getElementById("c-name").textContent = c.form.patient_name;
      document.getElementById("c-line").textContent =
        `${c.form.to_institution} ${c.department} · ${KIND[c.kind] || c.kind}`;
      const badges = document.getElementById("c-badges");
      const overdue = c.state === "requested" && c.response_due < chinaToday();
      badges.replaceChildren(urgencyBadge(c.urgency), el("span", STATE[c.state], { class: "badge state", id: "c-state" }),
        flags({ ...c, overdue }));
      facts(document.querySelector("#c-facts tbody"), [["转出日期", c.sent_on], ["应答期限", c.response_due],
        ["答复日期", c.answered_on], ["团队随访期限", c.follow_up_due]]);
      const f = c.form;
      facts(document.querySelector("#upward tbody"), [["初步印象", f.initial_impression],
        ["主要现病史（转出原因）", f.present_illness], ["主要既往史", f.past_history], ["治疗经过", f.treatment],
        ["转诊医生", f.referring_doctor && `${f.referring_doctor}（${f.doctor_phone || ""}）`],
        ["转出机构", f.institution], ["接诊医生", f.receiving_doctor]]);
      const answered = c.answer || c.return_form;
      document.getElementById("answer-card").hidden = !answered;
      if (answered) {
        const a = c.answer || {};
        const r = c.return_form || {};
        facts(document.querySelector("#answer tbody"), [["答复结果", OUTCOME[a.outcome]],
          ["门诊", a.clinic_date && `${a.clinic_date} ${SESSION[a.clinic_session] || ""}`], ["入院日期", a.admit_date],
          ["专科意见", a.advice], ["随访方案", a.plan], ["回转诊断", r.diagnosis], ["住院病案号", r.inpatient_record_number],
          ["主要检查结果", r.main_results], ["治疗经过", r.treatment], ["下一步治疗方案及康复建议", r.plan],
          ["回转医生", r.doctor && `${r.doctor}（${r.doctor_phone}）${r.institution} ${r.return_date}`]]);
      }
      drawActions();
      drawThread();
    }

    function drawThread() {
      const list = document.getElementById("thread");
      list.replaceChildren(...current.messages.map((m) => {
        const li = el("li", null, { "data-kind": m.kind });
        const what = m.kind === "message" ? "留言" : m.kind === "create" ? "转出" : ACTION[m.kind] || m.kind;
        li.append(el("div", `${when(m.at)} · ${m.author_name}（${ROLE[m.author_role] || m.author_role}）· ${what}`,
          { class: "hint" }));
        if (m.text) li.append(el("div", m.text, { class: "text" }));
        return li;
      }));
      document.getElementById("f-message").hidden = ["declined", "closed", "cancelled"].includes(current.state)
        || !["gp", "specialist"].includes(me.role);
    }

    const forms = { reason: document.getElementById("f-reason"), answer: document.getElementById("f-answer"),
      return_case: document.getElementById("f-return") };
    let textAction = null;

    function closeForms() {
      for (const f of Object.values(forms)) f.hidden = true;
    }

    function drawActions() {
      const mineToTake = current.allowed_actions.filter((a) => a in PATH);
      const box = document.getElementById("action-buttons");
      box.replaceChildren(...mineToTake.map((a) => {
        const b = el("button", ACTION[a], { type: "button", "data-action": a, class: a === "decline" ? "secondary" : "" });
        b.onclick = () => openAction(a);
        return b;
      }));
      document.getElementById("no-actions").hidden = mineToTake.length > 0;
      document.getElementById("actions-card").hidden = me.role !== "specialist";
      closeForms();
    }

    async function openAction(action) {
      closeForms();
      say("");
      if (action === "accept") {
        if (await C.confirmBox(`接诊 ${current.form.patient_name}`, ["接诊后由您负责答复此病例。"])) await act("accept", {});
        return;
      }
      if (action in TEXT_ACTIONS) {
        textAction = action;
        document.getElementById("f-reason-label").textContent = TEXT_ACTIONS[action][1];
        document.getElementById("f-reason-ok").textContent = ACTION[action];
        forms.reason.reset();
        forms.reason.hidden = false;
        forms.reason.text.focus();
        return;
      }
      const form = forms[action];
      if (action === "return_case") await fillReturn(form);
      form.hidden = false;
      form.querySelector("textarea, input").focus();
    }

    async function fillReturn(form) {
      if (form.doctor.value) return;
      form.doctor.value = me.full_name;
      form.institution.value = current.form.to_institution || "";
      form.return_date.value = chinaToday();
      form.main_results.value = "";
      const entries = await C.api("GET", `/directory/specialists?hospital_id=${current.hospital_id}`);
      const mine = entries.find((e) => e.user_id === me.id);
      form.doctor_phone.value = (mine && mine.phone_for_teams) || me.phone || "";
      if (current.answer) form.plan.value = current.answer.plan || "";
    }

    async function act(action, body) {
      const done = await call("POST", `/referrals/${id}/${PATH[action]}`, body, etag);
      if (!done.ok) {
        const text = plain(done);
        if (done.status === 409 || done.status === 412) await load();
        say(text);
        return false;
      }
      current = done.data;
      etag = done.etag;
      drawCase();
      say(`已${ACTION[action]}。`, "info");
      return true;
    }

    for (const f of Object.values(forms)) {
      for (const b of f.querySelectorAll("button.cancel")) b.onclick = () => { f.hidden = true; };
    }
    forms.reason.onsubmit = async (ev) => {
      ev.preventDefault();
      await act(textAction, { [TEXT_ACTIONS[textAction][0]]: forms.reason.text.value });
    };
    const answer = forms.answer;
    answer.onchange = () => {
      const outcome = answer.outcome.value;
      document.getElementById("clinic-fields").hidden = outcome !== "clinic";
      document.getElementById("admit-fields").hidden = outcome !== "admit";
    };
    answer.onsubmit = async (ev) => {
      ev.preventDefault();
      const outcome = answer.outcome.value;
      const body = { outcome, advice: answer.advice.value, plan: answer.plan.value };
      if (outcome === "clinic") Object.assign(body, { clinic_date: answer.clinic_date.value || null,
        clinic_session: answer.clinic_session.value || null });
      if (outcome === "admit") body.admit_date = answer.admit_date.value || null;
      await act("answer", body);
    };
    forms.return_case.onsubmit = async (ev) => {
      ev.preventDefault();
      const form = {};
      for (const [k, v] of new FormData(forms.return_case)) if (String(v).trim()) form[k] = String(v);
      await act("return_case", { form });
    };
    document.getElementById("f-message").onsubmit = async (ev) => {
      ev.preventDefault();
      const text = ev.target.text.value;
      const sent = await call("POST", `/referrals/${id}/messages`, { text });
      if (!sent.ok) { say(plain(sent)); return; }
      ev.target.reset();
      await load();
      say("留言已发送。", "info");
    };

    if (!await load()) return;
    const [summary, trend] = await Promise.all([C.api("GET", `/referrals/${id}/resident-summary`),
      C.api("GET", `/referrals/${id}/trends`)]);
    const sex = { 1: "男", 2: "女", 0: "未知", 9: "未说明" };
    facts(document.querySelector("#summary tbody"), [["姓名", `${summary.patient_name}（${sex[summary.patient_sex] || summary.patient_sex}，${summary.patient_age} 岁）`],
      ["档案编号", summary.record_number], ["慢性病", summary.conditions], ["药物过敏史", summary.allergies],
      ["用药情况", summary.medications], ["近期随访", summary.recent_followups]]);
    lineChart(document.getElementById("bp-chart"), trend.points,
      [{ key: "sbp", label: "收缩压", band: [140] }, { key: "dbp", label: "舒张压", band: [90] }], "血压趋势", "mmHg");
    lineChart(document.getElementById("fpg-chart"), trend.points, [{ key: "fpg_mmol", label: "空腹血糖", band: [7.0] }],
      "空腹血糖趋势", "mmol/L");
    drawLabs(summary.lab_reports);
    const first = document.querySelector("#action-buttons button");
    if (first) first.focus();
  }

  function drawLabs(reports) {
    const box = document.getElementById("labs");
    if (!reports.length) { box.replaceChildren(el("p", "转诊未附化验报告。", { class: "hint" })); return; }
    box.replaceChildren(...reports.map((rep) => {
      const part = el("div", null, { class: "lab" });
      const head = el("h3", `${rep.panel_name} · ${when(rep.reported_at)} `);
      if (rep.critical) head.append(el("span", "危急值", { class: "badge critical" }));
      else if (rep.abnormal) head.append(el("span", "异常", { class: "badge overdue" }));
      const table = el("table", null, { class: "results" });
      const thead = el("thead");
      thead.append(row(["项目", "结果", "单位", "参考范围", "提示"]));
      const body = el("tbody");
      for (const r of rep.results) {
        // HL7 abnormal flags; N (normal) is no flag.
        const flag = (r.flags || []).filter((x) => x && x !== "N")
          .map((x) => ({ H: "↑ 偏高", L: "↓ 偏低", HH: "↑↑ 危急偏高", LL: "↓↓ 危急偏低", A: "异常", AA: "严重异常" }[x] || x))
          .join(" ");
        body.append(row([r.name, r.value, r.unit, r.range, flag], { class: r.critical ? "critical" : (flag ? "flagged" : "") }));
      }
      table.append(thead, body);
      part.append(head, table);
      return part;
    }));
  }

  // --- the center's referrals page -------------------------------------------------------------------
  async function centerPage() {
    await C.requireStaff();
    const form = document.getElementById("metrics-form");
    const today = chinaToday();
    form.date_to.value = today;
    form.date_from.value = new Date(Date.parse(today) - 89 * 86400000).toISOString().slice(0, 10);
    const [teams, hospitals] = await Promise.all([C.api("GET", "/teams"), C.api("GET", "/hospitals")]);
    const teamName = Object.fromEntries(teams.map((t) => [t.id, t.name]));
    const hospitalName = Object.fromEntries(hospitals.map((h) => [h.id, h.name]));
    const GROUP = { team: "团队", center: "中心", specialty: "专科", hospital: "医院" };
    const size = 50;
    let page = 1;
    let total = 0;

    function query() {
      const p = new URLSearchParams({ by: form.by.value });
      if (form.date_from.value) p.set("date_from", form.date_from.value);
      if (form.date_to.value) p.set("date_to", form.date_to.value);
      return p;
    }

    async function showMetrics() {
      const rep = await C.api("GET", `/referrals/metrics?${query()}`);
      const d = rep.response_days;
      document.getElementById("deadline-rule").textContent =
        `应答期限：普通 ${d.routine} 个工作日，加急 ${d.urgent} 个工作日，急诊${d.emergency ? ` ${d.emergency} 个工作日` : "当日"}`;
      tiles(document.getElementById("tiles"), rep.total);
      document.getElementById("group-head").textContent = GROUP[rep.by];
      const body = document.querySelector("#metric-rows tbody");
      body.replaceChildren(...rep.rows.map((r) => row([r.name, r.cases, r.open, r.overdue, r.escalated,
        hours(r.median_hours_to_first_response), share(r.answered_in_time), share(r.settled_without_visit),
        share(r.closed_loop), r.down_referrals])));
      if (!rep.rows.length) emptyRow(body, 10, "此期间没有转诊。");
      C.barChart(document.getElementById("rate-chart"),
        rep.rows.map((r) => ({ label: r.name, values: [r.answered_in_time.rate, r.settled_without_visit.rate,
          r.closed_loop.rate] })), ["按时响应率", "无需到院率", "两周闭环率"], `各${GROUP[rep.by]}闭环指标`);
    }

    function caseRow(r, withState) {
      const cells = [urgencyBadge(r.urgency), caseLink(r), teamName[r.team_id] || `团队 ${r.team_id}`,
        `${hospitalName[r.hospital_id] || ""} ${r.department}`];
      if (withState) cells.push(STATE[r.state]);
      return row([...cells, r.sent_on, r.response_due, flags(r)], rowClass(r));
    }

    async function showCases() {
      const late = await C.api("GET", "/referrals?overdue=true&page_size=200");
      const lateBody = document.querySelector("#overdue tbody");
      lateBody.replaceChildren(...late.items.map((r) => caseRow(r, false)));
      if (!late.items.length) emptyRow(lateBody, 7, "没有超时未响应的转诊。");
      const open = await C.api("GET", `/referrals?${OPEN.map((s) => `state=${s}`).join("&")}&page=${page}&page_size=${size}`);
      total = open.total;
      const body = document.querySelector("#open tbody");
      body.replaceChildren(...open.items.map((r) => caseRow(r, true)));
      if (!open.items.length) emptyRow(body, 8, "没有在办的转诊。");
      document.getElementById("open-page").textContent = C.pager(total, page, size, "例");
    }

    form.onsubmit = (ev) => { ev.preventDefault(); showMetrics(); };
    document.getElementById("metrics-export").onclick = () =>
      C.download(`/referrals/metrics/export?${query()}`, "referral-metrics.xlsx");
    document.getElementById("open-prev").onclick = () => { if (page > 1) { page -= 1; showCases(); } };
    document.getElementById("open-next").onclick = () => { if (page * size < total) { page += 1; showCases(); } };
    await Promise.all([showMetrics(), showCases()]);
  }

  const PAGES = { "referral-inbox": inboxPage, "referral-case": casePage, "referral-center": centerPage };

  function start() {
    C.runPage(PAGES, /signed out|not center staff/);
  }

  return { start };
})();
Referrals.start();
