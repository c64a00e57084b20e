// The console talks only to /api/v1; the token lives in this tab's sessionStorage.
// No inline script anywhere: each template names its page in <body data-page>, and start() runs it.
"use strict";
const Console = (() => {
  const store = window.sessionStorage;
  const STATUS = { under: "低于容量", within: "容量内", over: "超出容量", unassigned: "未分配" };
  const SEX = { 0: "未知", 1: "男", 2: "女", 9: "未说明" };
  const RELATION = { "02": "户主", 10: "配偶", 20: "子", 30: "女", 40: "孙子女", 50: "父母", 60: "祖父母",
    70: "兄弟姐妹", 80: "其他亲属", 99: "非亲属" };
  const CONDITION = { hypertension: "高血压", t2dm: "2型糖尿病" };
  const RESIDENT_STATUS = { active: "在册", moved_out: "迁出", deceased: "死亡" };
  const CLASSIFICATION = { 1: "控制满意", 2: "控制不满意", 3: "不良反应", 4: "并发症" };

  function el(tag, text, attrs = {}) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  function row(cells, attrs = {}) {
    const tr = el("tr", null, attrs);
    for (const c of cells) {
      if (c instanceof Node) { const td = el("td"); td.append(c); tr.append(td); } else tr.append(el("td", c ?? "—"));
    }
    return tr;
  }

  function emptyRow(body, cols, text) {
    body.append(row([]));
    body.lastChild.append(el("td", text, { colspan: cols, class: "hint" }));
  }

  function say(text, kind = "error") {
    const box = document.getElementById("message");
    box.textContent = text;
    box.className = kind;
    box.hidden = !text;
  }

  // Field names a clerk reads, for the errors the API names by field.
  const FIELDS = { team_id: "团队", committee_id: "居委会/村", household_ids: "家庭", reason: "原因", file: "文件",
    batch_id: "分配批次", username: "用户名", password: "密码", year: "年份", quarter: "季度", q: "查找内容",
    rows: "行", moves: "移动", center_id: "中心", authentication: "登录", authorization: "权限",
    // the import's columns (server/imports COLUMNS), for its row-by-row report
    household_key: "户编号", committee: "居委会/村", address: "家庭住址", name: "姓名", sex: "性别",
    birth_date: "出生日期", id_number: "身份证号", phone: "联系电话", relation_to_head: "与户主关系",
    residence_type: "常住类型", ethnicity: "民族", contact_name: "联系人姓名", contact_phone: "联系人电话",
    employer: "工作单位", hypertension: "高血压", t2dm: "糖尿病", header: "表头" };

  function describe(body) {
    // The one error shape: {code, status, message, errors}; name the fields.
    const parts = [body.message || body.status];
    const walk = (obj, prefix) => {
      for (const [k, v] of Object.entries(obj || {})) {
        const name = FIELDS[k] || k;
        if (k === "authentication" || k === "authorization") continue;  // codes for programs; the message says it
        if (Array.isArray(v)) parts.push(`${prefix}${name}：${v.join("；")}`);
        else if (v && typeof v === "object") walk(v, k === "json" || k === "query" || k === "files" ? "" : `${prefix}${name}.`);
        else parts.push(`${prefix}${name}：${v}`);
      }
    };
    walk(body.errors, "");
    return parts.filter(Boolean).join(" — ");
  }

  function headers(extra = {}) {
    return { Authorization: `Bearer ${store.getItem("token") || ""}`, "Accept-Language": "zh", ...extra };
  }

  function signedOut() {
    store.clear();
    window.location.href = "/console/login";
    throw new Error("signed out");
  }

  async function api(method, path, body) {
    const h = headers(body === undefined ? {} : { "Content-Type": "application/json" });
    const resp = await fetch(`/api/v1${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    if (resp.status === 401) signedOut();
    const data = resp.status === 204 ? null : await resp.json();
    if (!resp.ok) {
      say(describe(data));
      throw new Error(describe(data));
    }
    return data;
  }

  // Ask before anything is sent; resolves true only on 确认. Esc or 取消 answers false.
  function confirmBox(title, lines, field) {
    const dialog = document.getElementById("confirm-dialog");
    const input = document.getElementById("confirm-input");
    document.getElementById("confirm-field").hidden = !field;
    document.getElementById("confirm-label").textContent = field || "";
    input.value = "";
    document.getElementById("confirm-title").textContent = title;
    const box = document.getElementById("confirm-text");
    box.replaceChildren(...lines.map((l) => el("p", l)));
    say("");  // an earlier complaint no longer applies to what is asked now
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      (field ? input : document.getElementById("confirm-cancel")).focus();  // the safe answer is the default key
    });
  }

  // Reasons the server writes itself (not typed by a person), in the clerk's words.
  const SYSTEM_REASONS = { "new household": "建档时归入居委会所属团队" };

  function userLabel(userName, id) {
    return userName[id] || `用户 #${id}`;  // an account outside this center (admin) is not in its user list
  }

  function teamLabel(teamName, id) {
    return id === null || id === undefined ? "未分配" : teamName[id] || `团队 ${id}`;
  }

  // What a dry run says will move, as sentences a clerk confirms.
  function moveLines(result, teamName) {
    return [`共 ${result.changed} 户、${result.residents} 名居民将被移动：`,
      ...result.moves.map((m) => `从「${teamLabel(teamName, m.from_team_id)}」到「${teamLabel(teamName, m.to_team_id)}」：`
        + `${m.households} 户，${m.residents} 名居民`)];
  }

  // The team a form chose: "" is no choice yet, "none" is the explicit choice of no team.
  function chosenTeam(select) {
    if (select.value === "") return undefined;
    return select.value === "none" ? null : Number(select.value);
  }

  function checkReason(input) {
    const reason = input.value.trim();
    if (reason.length < 2) { say("请填写原因（至少 2 个字）。"); input.focus(); return null; }
    return reason;
  }

  async function requireSignedIn() {
    if (!store.getItem("token")) signedOut();
    const me = await api("GET", "/auth/me");
    document.getElementById("who").textContent = `${me.full_name}（${me.username}）`;
    document.getElementById("logout").onclick = async () => {
      try { await api("POST", "/auth/logout", {}); } finally { store.clear(); window.location.href = "/console/login"; }
    };
    return me;
  }

  const STAFF = ["center_staff", "admin"];

  async function requireStaff() {
    const me = await requireSignedIn();
    for (const link of document.querySelectorAll(".admin-only")) link.hidden = me.role !== "admin";
    if (me.role === "specialist") {
      window.location.replace("/console/referrals");  // a specialist's work here is their referral inbox
      throw new Error("not center staff");
    }
    if (!STAFF.includes(me.role)) {
      // A GP (or anyone else) gets a finished page that says where their work is, not a half-drawn one.
      window.location.replace("/console/gp");
      throw new Error("not center staff");
    }
    return me;
  }

  function fillSelect(select, items, label, { blank } = {}) {
    if (blank !== undefined) select.append(el("option", blank, { value: "" }));
    for (const item of items) select.append(el("option", label(item), { value: item.id }));
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "—";
  }

  function pager(total, page, size, unit) {
    return `第 ${page} / ${Math.max(1, Math.ceil(total / size))} 页，共 ${total} ${unit}`;
  }

  function loginPage() {
    document.getElementById("logout").hidden = true;
    document.getElementById("staff-nav").hidden = true;
    document.getElementById("login-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const form = new FormData(ev.target);
      const resp = await fetch("/api/v1/auth/login", {
        method: "POST", headers: { "Content-Type": "application/json", "Accept-Language": "zh" },
        body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
      });
      const data = await resp.json();
      if (!resp.ok) {
        const wait = resp.headers.get("Retry-After");
        say(describe(data) + (wait ? `（${wait} 秒后再试）` : ""));
        return;
      }
      store.setItem("token", data.access_token);
      window.location.href = "/console/";
    };
  }

  async function gpPage() {
    const me = await requireSignedIn();
    document.getElementById("staff-nav").hidden = true;
    document.getElementById("gp-name").textContent = me.full_name;
  }

  async function assignmentPage() {
    const me = await requireStaff();
    const [teams, committees, centers] = await Promise.all(
      [api("GET", "/teams"), api("GET", "/committees"), api("GET", "/centers")]);
    const teamName = Object.fromEntries(teams.map((t) => [t.id, t.name]));
    const center = centers.find((c) => c.id === (me.center_id || (teams[0] && teams[0].center_id)));
    document.getElementById("center-name").textContent = center ? center.name : "";
    const centerQuery = me.center_id ? "" : `?center_id=${teams[0] ? teams[0].center_id : ""}`;

    async function showLoads() {
      const loads = await api("GET", `/assignments/load${centerQuery}`);
      const body = document.querySelector("#loads tbody");
      body.replaceChildren();
      const max = Math.max(...loads.map((l) => Math.max(l.residents, l.capacity_max)), 1);
      for (const l of loads) {
        document.getElementById("cap").textContent = `${l.capacity_min || loads[0].capacity_min}–${loads[0].capacity_max}`;
        const bar = el("div", null, { class: `bar ${l.status}` });
        bar.style.width = `${(100 * l.residents) / max}%`;  // CSSOM, not a style attribute: allowed by the CSP
        body.append(row([l.name, l.households, l.residents, bar, l.chronic_patients, l.hypertension, l.diabetes,
          STATUS[l.status] || l.status], { "data-team": l.team_id === null ? "none" : l.team_id }));
      }
    }

    let proposal = null;
    document.getElementById("propose").onclick = async () => {
      proposal = await api("GET", `/assignments/proposal${centerQuery}`);
      const groups = {};
      for (const m of proposal.moves) {
        const key = `${m.from_team_id}->${m.to_team_id}`;
        groups[key] = groups[key] || { from: m.from_team_id, to: m.to_team_id, households: 0, residents: 0 };
        groups[key].households += 1;
        groups[key].residents += m.residents;
      }
      const body = document.querySelector("#proposal-moves tbody");
      body.replaceChildren();
      for (const g of Object.values(groups)) {
        body.append(row([teamLabel(teamName, g.from), teamLabel(teamName, g.to), g.households, g.residents]));
      }
      document.getElementById("proposal").hidden = false;
      document.getElementById("accept").disabled = proposal.moves.length === 0;
      say(proposal.moves.length ? `建议移动 ${proposal.moves.length} 户。` : "各团队负荷已均衡，无需调整。", "info");
    };
    document.getElementById("accept").onclick = async () => {
      const reason = checkReason(document.getElementById("proposal-reason"));
      if (!reason) return;
      const result = await api("POST", "/assignments/proposal/accept", { moves: proposal.moves, reason });
      say(`已调整 ${result.changed} 户。`, "info");
      document.getElementById("proposal").hidden = true;
      await showLoads();
    };

    const form = document.getElementById("committee-form");
    fillSelect(form.committee_id, committees, (c) => `${c.code} ${c.name}（${c.team_id ? teamName[c.team_id] : "未分配"}）`);
    fillSelect(form.team_id, teams, (t) => t.name);
    form.team_id.append(el("option", "（取消分配：不归任何团队）", { value: "none" }));
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      if (!form.committee_id.value) { say("请选择居委会/村。"); form.committee_id.focus(); return; }
      const team = chosenTeam(form.team_id);
      if (team === undefined) { say("请选择团队（或明确选择“取消分配”）。"); form.team_id.focus(); return; }
      const reason = checkReason(form.reason);
      if (!reason) return;
      const body = { committee_id: Number(form.committee_id.value), team_id: team, reason,
        only_unassigned: form.only_unassigned.checked };
      const preview = await api("POST", "/assignments/by-committee?dry_run=true", body);
      const committee = form.committee_id.selectedOptions[0].textContent;
      const lines = preview.changed ? moveLines(preview, teamName) : ["没有家庭需要移动。"];
      const title = team === null ? `取消「${committee}」的团队分配` : `把「${committee}」分配给「${teamName[team]}」`;
      if (!await confirmBox(title, [...lines, `原因：${reason}`])) { say("已取消，未作任何改动。", "info"); return; }
      const result = await api("POST", "/assignments/by-committee", body);
      say(`已分配 ${result.changed} 户（${result.residents} 名居民）。可在“分配记录”中撤销。`, "info");
      form.reset();
      await showLoads();
    };
    await showLoads();
  }

  async function householdsPage() {
    await requireStaff();
    const [teams, committees] = await Promise.all([api("GET", "/teams"), api("GET", "/committees")]);
    const teamName = Object.fromEntries(teams.map((t) => [t.id, t.name]));
    const filter = document.getElementById("filter");
    fillSelect(filter.committee_id, committees, (c) => `${c.code} ${c.name}`);
    fillSelect(filter.team_id, teams, (t) => t.name);
    const assign = document.getElementById("assign");
    fillSelect(assign.team_id, teams, (t) => t.name);
    assign.team_id.append(el("option", "（取消分配：不归任何团队）", { value: "none" }));
    const sizeSelect = document.getElementById("page-size");
    let page = 1;
    let total = 0;
    let size = Number(sizeSelect.value);
    const shown = new Map();  // id -> row on this page, for the confirmation

    function countSelected() {
      const n = document.querySelectorAll("#households tbody input:checked").length;
      document.getElementById("selected-count").textContent = n ? `已选 ${n} 户` : "";
    }

    async function show() {
      const params = new URLSearchParams({ page, page_size: size });
      for (const key of ["committee_id", "team_id", "address"]) if (filter[key].value) params.set(key, filter[key].value);
      if (filter.unassigned.checked) params.set("unassigned", "true");
      const data = await api("GET", `/households?${params}`);
      total = data.total;
      const body = document.querySelector("#households tbody");
      body.replaceChildren();
      shown.clear();
      for (const h of data.items) {
        shown.set(h.id, h);
        const box = el("input", null, { type: "checkbox", value: h.id, "aria-label": h.address });
        box.onchange = countSelected;
        const link = el("a", h.address, { href: `/console/households/${encodeURIComponent(h.id)}` });
        body.append(row([box, h.committee_name, link, h.head_name || "—", h.member_count,
          teamLabel(teamName, h.team_id)], { "data-id": h.id }));
      }
      if (!data.items.length) emptyRow(body, 6, "没有符合条件的家庭。");
      const text = pager(total, page, size, "户");
      document.getElementById("page").textContent = text;
      document.querySelector(".pager .page").textContent = text;
      document.getElementById("all").checked = false;
      countSelected();
    }
    const prev = () => { if (page > 1) { page -= 1; show(); } };
    const next = () => { if (page * size < total) { page += 1; show(); } };
    filter.onsubmit = (ev) => { ev.preventDefault(); page = 1; show(); };
    sizeSelect.onchange = () => { size = Number(sizeSelect.value); page = 1; show(); };
    for (const b of document.querySelectorAll("#prev, .pager .prev")) b.onclick = prev;
    for (const b of document.querySelectorAll("#next, .pager .next")) b.onclick = next;
    document.addEventListener("keydown", (ev) => {  // Alt+←/→ turn pages from anywhere on the page
      if (ev.altKey && ev.key === "ArrowLeft") { ev.preventDefault(); prev(); }
      if (ev.altKey && ev.key === "ArrowRight") { ev.preventDefault(); next(); }
    });
    document.getElementById("all").onchange = (ev) => {
      for (const box of document.querySelectorAll("#households tbody input")) box.checked = ev.target.checked;
      countSelected();
    };
    assign.onsubmit = async (ev) => {
      ev.preventDefault();
      const ids = [...document.querySelectorAll("#households tbody input:checked")].map((b) => b.value);
      if (!ids.length) { say("请先勾选家庭。"); return; }
      const team = chosenTeam(assign.team_id);
      if (team === undefined) { say("请选择团队（或明确选择“取消分配”）。"); assign.team_id.focus(); return; }
      const reason = checkReason(assign.reason);
      if (!reason) return;
      const body = { household_ids: ids, team_id: team, reason };
      const preview = await api("POST", "/assignments/?dry_run=true", body);
      if (!preview.changed) { say("选中的家庭已在该团队，无需移动。", "warn"); return; }
      const title = team === null ? `取消 ${ids.length} 户的团队分配` : `把选中的 ${ids.length} 户分配给「${teamName[team]}」`;
      if (!await confirmBox(title, [...moveLines(preview, teamName), `原因：${reason}`])) {
        say("已取消，未作任何改动。", "info");
        return;
      }
      const result = await api("POST", "/assignments/", body);
      say(`已分配 ${result.changed} 户（${result.residents} 名居民）。可在“分配记录”中撤销。`, "info");
      assign.reason.value = "";
      await show();
    };
    await show();
  }

  async function householdPage() {
    await requireStaff();
    const id = decodeURIComponent(window.location.pathname.split("/").pop());
    const [teams, h, users] = await Promise.all([api("GET", "/teams"), api("GET", `/households/${encodeURIComponent(id)}`),
      api("GET", "/users/?page_size=200").catch(() => ({ items: [] }))]);
    const teamName = Object.fromEntries(teams.map((t) => [t.id, t.name]));
    const userName = Object.fromEntries(users.items.map((u) => [u.id, u.full_name || u.username]));
    document.getElementById("h-address").textContent = h.address;
    document.title = `${h.address} · 家庭详情`;
    const head = h.members.find((m) => m.id === h.head_id);
    const facts = [["居委会/村", h.committee_name], ["团队", teamLabel(teamName, h.team_id)], ["户主", head ? head.name : "—"],
      ["电话", h.phone || "—"], ["人数", h.members.length], ["家庭主要问题", h.health_problems || "—"]];
    document.querySelector("#h-facts tbody").replaceChildren(...facts.map(([k, v]) => {
      const tr = el("tr"); tr.append(el("th", k), el("td", v)); return tr;
    }));
    const members = document.querySelector("#members tbody");
    for (const m of h.members) {
      members.append(row([m.name, RELATION[m.relation_to_head] || m.relation_to_head || "—", SEX[m.sex] || m.sex,
        m.birth_date, m.record_number, RESIDENT_STATUS[m.status] || m.status,
        m.conditions.map((c) => CONDITION[c] || c).join("、") || "—"], { "data-id": m.id }));
    }
    if (!h.members.length) emptyRow(members, 7, "此家庭没有登记成员。");
    const nameOf = Object.fromEntries(h.members.map((m) => [m.id, m.name]));
    const perMember = await Promise.all(h.members.map((m) => Promise.all([
      api("GET", `/residents/${m.id}/followups?page_size=5`), api("GET", `/residents/${m.id}/lab-reports?page_size=5`)])));
    const visits = perMember.flatMap(([f]) => f.items).sort((a, b) => b.visit_date.localeCompare(a.visit_date));
    const vbody = document.querySelector("#visits tbody");
    for (const v of visits) {
      vbody.append(row([v.visit_date, nameOf[v.resident_id], CONDITION[v.condition] || v.condition,
        v.sbp ? `${v.sbp}/${v.dbp} mmHg` : "—", v.fpg_mmol ? `${v.fpg_mmol} mmol/L` : "—",
        (CLASSIFICATION[v.classification] || "—") + (v.emergency ? "（急症）" : ""), v.next_visit_date || "—",
        printLink("followup", v.id)], { "data-id": v.id }));
    }
    if (!visits.length) emptyRow(vbody, 8, "没有随访记录。");
    const reports = perMember.flatMap(([, r]) => r.items).sort((a, b) => (b.reported_at || "").localeCompare(a.reported_at || ""));
    const rbody = document.querySelector("#reports tbody");
    for (const r of reports) {
      const flag = r.critical ? el("span", "危急值", { class: "badge critical" }) : (r.abnormal ? "有异常" : "正常");
      rbody.append(row([when(r.reported_at), nameOf[r.resident_id] || r.resident_name, r.panel_name, r.specimen_type,
        r.hospital_name, flag, printLink("lab-report", r.id)], { "data-id": r.id }));
    }
    if (!reports.length) emptyRow(rbody, 7, "没有化验报告。");
    const hist = await api("GET", `/assignments/history?household_id=${encodeURIComponent(id)}`);
    const hbody = document.querySelector("#h-history tbody");
    for (const c of hist.items) {
      hbody.append(row([when(c.changed_at), teamLabel(teamName, c.from_team_id), teamLabel(teamName, c.to_team_id),
        SYSTEM_REASONS[c.reason] || c.reason, userLabel(userName, c.changed_by)]));
    }
    if (!hist.items.length) emptyRow(hbody, 5, "没有分配记录。");
  }

  async function residentsPage() {
    await requireStaff();
    const teams = await api("GET", "/teams");
    const teamName = Object.fromEntries(teams.map((t) => [t.id, t.name]));
    const form = document.getElementById("search");
    const size = 20;
    let page = 1;
    let total = 0;
    async function show() {
      const q = form.q.value.trim();
      if (!q) { say("请输入姓名、拼音首字母、身份证号或手机号。"); form.q.focus(); return; }
      const data = await api("GET", `/residents?${new URLSearchParams({ q, page, page_size: size })}`);
      total = data.total;
      const body = document.querySelector("#found tbody");
      body.replaceChildren();
      for (const r of data.items) {
        const link = el("a", r.name, { href: `/console/households/${encodeURIComponent(r.household_id)}` });
        body.append(row([link, SEX[r.sex] || r.sex, r.birth_date, r.id_number_masked || "—", r.phone || "—",
          r.record_number, r.address, teamLabel(teamName, r.team_id), RESIDENT_STATUS[r.status] || r.status],
        { "data-id": r.id }));
      }
      if (!data.items.length) emptyRow(body, 9, `没有找到“${q}”。`);
      document.getElementById("found").hidden = false;
      document.getElementById("found-pager").hidden = total <= size;
      document.getElementById("page").textContent = pager(total, page, size, "人");
      say("");
    }
    form.onsubmit = (ev) => { ev.preventDefault(); page = 1; show(); };
    document.getElementById("prev").onclick = () => { if (page > 1) { page -= 1; show(); } };
    document.getElementById("next").onclick = () => { if (page * size < total) { page += 1; show(); } };
    // A search sent before this script took over (or a bookmarked one) arrives as ?q=: run it.
    const asked = new URLSearchParams(window.location.search).get("q");
    if (asked) { form.q.value = asked; await show(); }
  }

  async function historyPage() {
    await requireStaff();
    const [teams, users, committees] = await Promise.all([api("GET", "/teams"), api("GET", "/users/?page_size=200"),
      api("GET", "/committees")]);
    const teamName = Object.fromEntries(teams.map((t) => [t.id, t.name]));
    const userName = Object.fromEntries(users.items.map((u) => [u.id, u.full_name || u.username]));
    const committeeName = Object.fromEntries(committees.map((c) => [c.id, c.name]));
    const size = 20;
    let page = 1;
    let total = 0;
    async function show() {
      const data = await api("GET", `/assignments/batches?page=${page}&page_size=${size}`);
      total = data.total;
      const body = document.querySelector("#batches tbody");
      body.replaceChildren();
      for (const b of data.items) {
        const moves = [...b.committees.map((c) => `${committeeName[c.committee_id] || "居委会"}（居委会本身）：`
          + `${teamLabel(teamName, c.from_team_id)} → ${teamLabel(teamName, c.to_team_id)}`),
        ...b.moves.map((m) => `${teamLabel(teamName, m.from_team_id)} → ${teamLabel(teamName, m.to_team_id)}：${m.households} 户`)].join("；");
        const undo = el("button", "撤销", { type: "button", class: "plain" });
        undo.onclick = () => undoBatch(b, moves);
        body.append(row([when(b.changed_at), userLabel(userName, b.changed_by), SYSTEM_REASONS[b.reason] || b.reason,
          moves, b.households, undo],
          { "data-batch": b.batch_id }));
      }
      if (!data.items.length) emptyRow(body, 6, "还没有分配记录。");
      document.getElementById("page").textContent = pager(total, page, size, "批");
    }
    async function undoBatch(b, moves) {
      const back = [...b.committees.map((c) => `「${committeeName[c.committee_id] || "居委会"}」交回「${teamLabel(teamName, c.from_team_id)}」`),
        ...b.moves.map((m) => `「${teamLabel(teamName, m.to_team_id)}」的 ${m.households} 户移回「${teamLabel(teamName, m.from_team_id)}」`)];
      const ok = await confirmBox(`撤销 ${when(b.changed_at)} 的分配（${b.households} 户）`,
        [`原分配：${moves}（原因：${b.reason}）`, `撤销后：${back.join("；")}。`]);
      if (!ok) { say("已取消，未作任何改动。", "info"); return; }
      const result = await api("POST", `/assignments/batches/${encodeURIComponent(b.batch_id)}/undo`,
        { reason: `撤销：${b.reason}`.slice(0, 200) });
      page = 1;
      await show();  // the list first, so the message is read beside the batch it speaks of
      say(`已撤销：${result.changed} 户（${result.residents} 名居民）移回原团队。`, "info");
    }
    document.getElementById("prev").onclick = () => { if (page > 1) { page -= 1; show(); } };
    document.getElementById("next").onclick = () => { if (page * size < total) { page += 1; show(); } };
    await show();
  }

  // The import answers problems row by row; a real run sends the same file again.
  function upload(path, file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `/api/v1${path}`);
      for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) onProgress(ev.loaded / ev.total); };
      xhr.upload.onload = () => onProgress(null);  // sent: the server is working, no measurable share
      xhr.onload = () => {
        if (xhr.status === 401) signedOut();
        let data;
        try { data = JSON.parse(xhr.responseText); } catch { data = { message: `服务器返回 ${xhr.status}` }; }
        resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, data });
      };
      xhr.onerror = () => reject(new Error("网络错误：未能上传文件。"));
      const form = new FormData();
      form.append("file", file);
      xhr.send(form);
    });
  }

  async function importPage() {
    await requireStaff();
    const form = document.getElementById("upload");
    const run = document.getElementById("run");
    const box = document.getElementById("progress-box");
    const bar = document.getElementById("progress");
    const barText = document.getElementById("progress-text");
    let checked = null;  // the file the last clean dry run was of

    function progress(share, what) {
      box.hidden = false;
      if (share === null) { bar.removeAttribute("value"); barText.textContent = `${what}：服务器处理中…`; }
      else { bar.value = Math.round(share * 100); barText.textContent = `${what}：已上传 ${Math.round(share * 100)}%`; }
    }

    function report(r, dry) {
      document.getElementById("report").hidden = false;
      const problems = r.problems || [];
      document.getElementById("report-title").textContent = dry
        ? (problems.length ? `检查发现 ${problems.length} 个问题（未写入任何数据）` : "检查通过（未写入任何数据）")
        : "导入完成";
      document.getElementById("report-summary").textContent =
        `共 ${r.rows} 行：${r.households} 户、${r.residents} 名居民、${r.conditions} 条慢病登记` +
        (r.encoding ? `；文件编码 ${r.encoding.toUpperCase()}` : "") + (dry && !problems.length ? "。可以导入。" : "。");
      const body = document.querySelector("#problems tbody");
      body.replaceChildren(...problems.map((p) => row([p.row || "—", FIELDS[p.field] || p.field, p.message, p.value || ""])));
      document.getElementById("problems").hidden = !problems.length;
    }

    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const file = form.file.files[0];
      run.disabled = true;
      checked = null;
      if (!file) { say("请先选择文件。"); return; }
      say("");
      const r = await upload("/imports/residents?dry_run=true", file, (s) => progress(s, "检查"));
      box.hidden = true;
      if (!r.ok) { document.getElementById("report").hidden = true; say(describe(r.data)); return; }
      report(r.data, true);
      if (!r.data.problems.length && r.data.rows) { checked = file; run.disabled = false; run.focus(); }
    };
    form.file.onchange = () => { run.disabled = true; checked = null; };
    run.onclick = async () => {
      if (!checked) return;
      const ok = await confirmBox("导入居民", [`将导入 ${checked.name}：`,
        document.getElementById("report-summary").textContent, "导入要么全部成功，要么一条也不写入。"]);
      if (!ok) { say("已取消，未作任何改动。", "info"); return; }
      run.disabled = true;
      const r = await upload("/imports/residents?dry_run=false", checked, (s) => progress(s, "导入"));
      box.hidden = true;
      if (!r.ok) { say(describe(r.data)); return; }
      report(r.data, false);
      say(`已导入 ${r.data.households} 户、${r.data.residents} 名居民。`, "info");
      checked = null;
    };
  }

  // --- charts: small inline SVG drawn here (no library, nothing from a CDN) -----------------------------
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f5f8b", "#4a90c2", "#f0ad4e", "#5cb85c", "#8e6bb8", "#d9534f", "#777"];

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function percent(rate) {
    return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`;
  }

  // Grouped bars: groups along x, one bar per series, values 0..1 as percentages.
  function barChart(container, groups, series, title) {
    const width = 900;
    const height = 260;
    const left = 44;
    const bottom = 40;
    const top = 42;
    const plotH = height - bottom - top;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "bars" });
    chart.append(svg("title", {}, title));
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      const y = top + plotH * (1 - tick);
      chart.append(svg("line", { x1: left, x2: width - 10, y1: y, y2: y, class: "grid" }),
        svg("text", { x: left - 6, y: y + 4, class: "tick" }, `${tick * 100}%`));
    }
    const groupW = (width - left - 10) / Math.max(groups.length, 1);
    const barW = Math.min(36, (groupW - 16) / Math.max(series.length, 1));
    groups.forEach((g, gi) => {
      const x0 = left + gi * groupW + (groupW - barW * series.length) / 2;
      series.forEach((s, si) => {
        const v = g.values[si];
        const h = v === null || v === undefined ? 0 : plotH * v;
        const rect = svg("rect", { x: x0 + si * barW, y: top + plotH - h, width: barW - 2, height: h,
          fill: COLORS[si % COLORS.length] });
        rect.append(svg("title", {}, `${g.label} ${s}：${percent(v)}`));
        chart.append(rect);
        chart.append(svg("text", { x: x0 + si * barW + barW / 2 - 1, y: top + plotH - h - 4, class: "value" },
          v === null || v === undefined ? "—" : `${Math.round(v * 100)}`));
      });
      chart.append(svg("text", { x: left + gi * groupW + groupW / 2, y: height - bottom + 18, class: "label" }, g.label));
    });
    let lx = left;
    series.forEach((s, si) => {
      chart.append(svg("rect", { x: lx, y: 6, width: 12, height: 12, fill: COLORS[si % COLORS.length] }),
        svg("text", { x: lx + 16, y: 16, class: "legend" }, s));
      lx += 28 + s.length * 15;
    });
    container.replaceChildren(chart);
  }

  // Fetch an API file with the token and hand it to the browser under the name the server gives.
  async function download(path, fallback) {
    const resp = await fetch(`/api/v1${path}`, { headers: headers() });
    if (resp.status === 401) signedOut();
    if (!resp.ok) { say(describe(await resp.json())); return; }
    const name = (resp.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    const link = el("a", null, { href: URL.createObjectURL(await resp.blob()), download: name ? name[1] : fallback });
    document.body.append(link);
    link.click();
    link.remove();
  }

  async function indicatorsPage() {
    const me = await requireSignedIn();
    if (!STAFF.includes(me.role)) document.getElementById("staff-nav").hidden = true;
    const form = document.getElementById("period");
    const now = new Date();
    form.year.value = now.getFullYear();
    form.quarter.value = String(Math.floor(now.getMonth() / 3) + 1);
    const LEVEL = { team: "团队", center: "中心", district: "全区" };

    function query(extra = {}) {
      const p = new URLSearchParams({ year: form.year.value, condition: form.condition.value, ...extra });
      if (form.quarter.value && !("quarter" in extra)) p.set("quarter", form.quarter.value);
      for (const [k, v] of [...p.entries()]) if (v === "") p.delete(k);
      return p;
    }

    async function show() {
      const rep = await api("GET", `/followups/indicators?${query()}`);
      const control = form.condition.value === "t2dm" ? "glucose_control_rate" : "bp_control_rate";
      document.getElementById("period-text").textContent =
        `统计期：${rep.period_start} 至 ${rep.period_end}（${rep.quarter ? `第 ${rep.quarter} 季度` : "全年"}）`;
      const body = document.querySelector("#indicator-rows tbody");
      body.replaceChildren(...rep.rows.map((r) => row([LEVEL[r.level] || r.level, r.name, r.under_management,
        r.managed_to_spec, percent(r.spec_rate), percent(r[control]), r.visits, percent(r.completeness_rate),
        r.emergency_patients], { "data-level": r.level })));
      if (!rep.rows.length) emptyRow(body, 9, "本期没有数据。");
      barChart(document.getElementById("team-chart"),
        rep.rows.map((r) => ({ label: r.name, values: [r.spec_rate, r[control], r.completeness_rate] })),
        ["规范管理率", "控制满意率", "随访完整率"], "各团队本期指标");
      const quarters = await Promise.all([1, 2, 3, 4].map((q) => api("GET", `/followups/indicators?${query({ quarter: q })}`)));
      const teams = quarters[0].rows.filter((r) => r.level === "team");
      barChart(document.getElementById("quarter-chart"),
        [1, 2, 3, 4].map((q, i) => ({ label: `第${q}季度`,
          values: teams.map((t) => (quarters[i].rows.find((r) => r.level === "team" && r.team_id === t.team_id) || {}).spec_rate) })),
        teams.map((t) => t.name), `${form.year.value} 年各季度规范管理率`);
    }
    form.onsubmit = (ev) => { ev.preventDefault(); show(); };
    document.getElementById("export").onclick = () =>
      download(`/followups/indicators/export?${query({ format: "xlsx" })}`, "indicators.xlsx");
    await show();
  }

  // Why a message waits for a person (match_reason): [short, in full]; the API's own text is English.
  const REASONS = {
    name_birth_sex_candidate: ["有建议居民，待确认", "有一位居民的姓名、出生日期和性别与之相同，但没有身份证号可以确认：请确认建议的居民，或另选一位。"],
    no_candidate: ["查无此人", "没有居民登记此身份证号，也没有居民的姓名、出生日期和性别与之相同。"],
    ambiguous: ["多位居民相符", "有多位居民的姓名、出生日期和性别与之相同。"],
    id_name_mismatch: ["身份证号与姓名不符", "此身份证号登记在另一位姓名或出生日期不同的居民名下。"],
    id_conflict: ["身份证号与档案不符", "唯一姓名、出生日期和性别相同的居民，档案中登记的是另一个身份证号。"],
    incomplete_identity: ["身份信息不全", "没有可用的身份证号，且缺少姓名、出生日期或性别。"],
    order_conflict: ["检验单号冲突", "此检验单号已归入另一位患者或尚未确定的患者名下。"],
  };
  const SENT_SEX = { M: "男", F: "女", O: "其他", U: "未知" };
  const FILE_SEX = { 1: "男", 2: "女", 0: "未知", 9: "未说明" };
  const SAME_ON = { id_number: "身份证号相同", hospital_patient_id: "医院患者号相同", name_birth_sex: "姓名、出生日期、性别相同" };
  const ID_TYPES = { MR: "病历号", PI: "患者号", PN: "人员号" };

  async function labsPage() {
    await requireStaff();
    const teams = await api("GET", "/teams");
    const teamName = Object.fromEntries(teams.map((t) => [t.id, t.name]));
    const detail = document.getElementById("detail");
    const size = 50;
    let page = 1;
    let total = 0;
    let current = null;

    async function show() {
      let data = await api("GET", `/labs/unmatched?order=newest&page=${page}&page_size=${size}`);
      if (!data.items.length && page > 1) {  // the last page emptied by the message just resolved
        page = Math.max(1, Math.ceil(data.total / size));
        data = await api("GET", `/labs/unmatched?order=newest&page=${page}&page_size=${size}`);
      }
      total = data.total;
      const body = document.querySelector("#queue tbody");
      body.replaceChildren();
      for (const m of data.items) {
        const [short] = REASONS[m.match_reason] || [m.match_reason_text];
        const open = el("button", "处理", { type: "button" });
        const last = el("td"); last.append(open);
        const flag = el("td");
        if (m.critical) flag.append(el("span", "危急值", { class: "badge critical" }));
        const row = el("tr", null, { "data-id": m.id, class: "clickable" });
        row.append(el("td", when(m.received_at)), el("td", m.patient_name || m.patient_name_alphabetic || "—"),
          el("td", SENT_SEX[m.patient_sex] || m.patient_sex), el("td", m.patient_birth_date || "—"),
          el("td", m.patient_id_number || "—"), el("td", short, { title: m.match_reason_text }), flag, last);
        row.onclick = () => openMessage(m.id);
        body.append(row);
      }
      if (!data.items.length) {
        const row = el("tr");
        row.append(el("td", "队列为空：没有待匹配的化验消息。", { colspan: 8, class: "hint" }));
        body.append(row);
      }
      document.getElementById("page").textContent = `第 ${page} / ${Math.max(1, Math.ceil(total / size))} 页，共 ${total} 条`;
    }

    function fact(label, value) {
      const row = el("tr");
      row.append(el("th", label), el("td", value || "—"));
      return row;
    }

    function showReports(reports) {
      const box = document.getElementById("d-reports");
      box.replaceChildren();
      for (const rep of reports) {
        const head = el("h3", `${rep.panel_name || "检验报告"} ${rep.specimen_type ? `（${rep.specimen_type}）` : ""}`);
        if (rep.critical) head.append(" ", el("span", "危急值", { class: "badge critical" }));
        const meta = el("p", `报告时间 ${when(rep.reported_at)}　检验单号 ${rep.filler_no || "—"}`, { class: "hint" });
        const table = el("table", null, { class: "results" });
        const thead = el("thead"); const hr = el("tr");
        for (const h of ["项目", "结果", "单位", "标志", "备注"]) hr.append(el("th", h));
        thead.append(hr);
        const tbody = el("tbody");
        for (const r of rep.results) {
          const critical = r.critical;
          const flags = el("td", (r.flags || []).join(" "));
          if (critical) flags.append(" ", el("span", "危急", { class: "badge critical" }));
          const row = el("tr", null, critical ? { class: "critical" } : {});
          row.append(el("td", r.name || r.code), el("td", r.value_text), el("td", r.unit), flags,
            el("td", (r.comments || []).join("；")));
          tbody.append(row);
        }
        table.append(thead, tbody);
        box.append(head, meta, table);
        if ((rep.comments || []).length) box.append(el("p", `报告备注：${rep.comments.join("；")}`, { class: "hint" }));
      }
    }

    async function openMessage(id) {
      const m = await api("GET", `/labs/unmatched/${id}`);
      current = m;
      document.getElementById("d-source").textContent = `${m.hospital_name}　收到于 ${when(m.received_at)}`;
      document.querySelector("#d-patient tbody").replaceChildren(
        fact("医院发送的姓名", [m.patient_name, m.patient_name_alphabetic].filter(Boolean).join(" / ")),
        fact("性别", SENT_SEX[m.patient_sex] || m.patient_sex), fact("出生日期", m.patient_birth_date),
        fact("身份证号", m.patient_id_number),
        fact("其他标识", (m.patient_identifiers || []).filter((i) => i.value !== m.patient_id_number)
          .map((i) => `${ID_TYPES[i.type_code] || i.type_code} ${i.value}${i.authority ? `（${i.authority}）` : ""}`)
          .join("；")));
      document.getElementById("d-reason").textContent = (REASONS[m.match_reason] || [null, m.match_reason_text])[1];
      const note = document.getElementById("d-note");
      note.textContent = m.match_note ? `系统说明：${m.match_note}` : "";
      note.hidden = !m.match_note;
      showReports(m.reports);
      const warnings = document.getElementById("d-warnings");
      warnings.querySelector("ul").replaceChildren(...(m.warnings || []).map((w) => el("li", w)));
      warnings.hidden = !(m.warnings || []).length;
      const s = m.suggested_resident;
      document.getElementById("suggestion").hidden = !s;
      if (s) {
        document.getElementById("suggested").textContent =
          `建议匹配：${s.name} ${FILE_SEX[s.sex] || s.sex} ${s.birth_date} ${s.record_number}`;
      }
      const same = document.getElementById("same-list");
      same.replaceChildren();
      for (const o of m.same_patient || []) {
        const label = el("label");
        label.append(el("input", null, { type: "checkbox", value: o.id }),
          ` ${when(o.received_at)} ${o.patient_name || o.patient_name_alphabetic} ${SENT_SEX[o.patient_sex] || ""} `
          + `${o.patient_birth_date || ""}（${(o.same_on || []).map((k) => SAME_ON[k] || k).join("、")}）`);
        same.append(label);
      }
      document.getElementById("same").hidden = !(m.same_patient || []).length;
      document.getElementById("residents").hidden = true;
      document.querySelector("#search input[name=q]").value = m.patient_name || "";
      document.querySelector("#dismiss input[name=reason]").value = "";
      for (const r of document.querySelectorAll("#queue tbody tr")) r.classList.toggle("chosen", r.dataset.id === id);
      detail.hidden = false;
      say("");
      detail.scrollIntoView();
    }

    async function done(text) {
      detail.hidden = true;
      current = null;
      await show();
      say(text, "info");
    }

    async function match(residentId, name) {
      const also = [...document.querySelectorAll("#same-list input:checked")].map((b) => b.value);
      await api("POST", `/labs/unmatched/${current.id}/match`, { resident_id: residentId, also });
      await done(`已匹配到 ${name}${also.length ? `，另有 ${also.length} 条同一患者的消息一并归档` : ""}。`);
    }

    document.getElementById("confirm").onclick = () => match(current.suggested_resident.id, current.suggested_resident.name);
    document.getElementById("search").onsubmit = async (ev) => {
      ev.preventDefault();
      const q = ev.target.q.value.trim();
      const data = await api("GET", `/residents?${new URLSearchParams({ q, page_size: 20 })}`);
      const body = document.querySelector("#residents tbody");
      body.replaceChildren();
      for (const r of data.items) {
        const pick = el("button", "匹配", { type: "button" });
        pick.onclick = () => match(r.id, r.name);
        const last = el("td"); last.append(pick);
        const row = el("tr", null, { "data-id": r.id });
        row.append(el("td", r.name), el("td", FILE_SEX[r.sex] || r.sex), el("td", r.birth_date),
          el("td", r.id_number_masked || "—"), el("td", r.record_number), el("td", r.address),
          el("td", r.team_id ? teamName[r.team_id] || r.team_id : "未分配"), last);
        body.append(row);
      }
      document.getElementById("residents").hidden = false;
      say(data.total ? (data.total > data.items.length ? `共 ${data.total} 人，只列出前 ${data.items.length} 人，请输入更多信息。` : "") : "没有找到符合的居民。",
        "warn");
    };
    document.getElementById("dismiss").onsubmit = async (ev) => {
      ev.preventDefault();
      await api("POST", `/labs/unmatched/${current.id}/dismiss`, { reason: ev.target.reason.value });
      await done("已移出队列（消息仍保留，可查）。");
    };
    document.getElementById("prev").onclick = () => { if (page > 1) { page -= 1; show(); } };
    document.getElementById("next").onclick = () => { if (page * size < total) { page += 1; show(); } };
    await show();
  }

  const ACTIONS = { read: "查看", search: "检索", update: "修改", status: "改状态", move: "迁移", export: "导出",
    match: "匹配", seen: "已阅", resend: "重发", sync_pull: "平板同步" };
  const ENTITIES = { household: "家庭", resident: "居民", followup: "随访", lab_report: "化验报告",
    lab_reports: "化验报告列表", lab_message: "待匹配化验", lab_rejection: "拒收化验", lab_feed: "化验接口",
    indicators: "管理指标", worklist: "随访任务", team: "团队", condition: "慢病登记", user: "用户" };
  const ROLES = { admin: "管理员", center_staff: "中心工作人员", gp: "家庭医生团队", specialist: "专科医生" };

  async function auditPage() {
    const me = await requireStaff();
    if (me.role !== "admin") { say("访问日志仅管理员可查看。", "warn"); return; }
    const form = document.getElementById("audit-filter");
    for (const [code, text] of Object.entries(ACTIONS)) form.action.append(el("option", text, { value: code }));
    const size = 100;
    let page = 1;
    let total = 0;
    async function show() {
      const p = new URLSearchParams({ page, page_size: size });
      for (const key of ["action", "user_id", "resident_id"]) if (form[key].value.trim()) p.set(key, form[key].value.trim());
      const data = await api("GET", `/audit/?${p}`);
      total = data.total;
      const body = document.querySelector("#events tbody");
      body.replaceChildren(...data.items.map((e) => row([when(e.at), `${e.username}（#${e.user_id}）`, ROLES[e.role] || e.role,
        ACTIONS[e.action] || e.action, `${ENTITIES[e.entity] || e.entity}${e.entity_id ? ` ${e.entity_id.slice(0, 8)}` : ""}`,
        e.resident_id ? e.resident_id.slice(0, 8) : "—", e.address, e.detail ? JSON.stringify(e.detail).slice(0, 80) : "—"],
      { "data-id": e.id })));
      if (!data.items.length) emptyRow(body, 8, "没有符合条件的记录。");
      document.getElementById("page").textContent = pager(total, page, size, "条");
    }
    form.onsubmit = (ev) => { ev.preventDefault(); page = 1; show(); };
    document.getElementById("prev").onclick = () => { if (page > 1) { page -= 1; show(); } };
    document.getElementById("next").onclick = () => { if (page * size < total) { page += 1; show(); } };
    await show();
  }

  async function rejectionsPage() {
    await requireStaff();
    const size = 50;
    let page = 1;
    let total = 0;
    async function open(id) {
      const r = await api("GET", `/labs/rejections/${encodeURIComponent(id)}`);
      document.getElementById("r-title").textContent = `${r.hospital_name}　${when(r.received_at)}　${r.control_id || ""}`;
      document.getElementById("r-reason").textContent = r.reason;
      document.getElementById("r-encoding").textContent = r.encoding || "未知";
      document.getElementById("r-raw").textContent = r.raw_text.replace(/\r/g, "\n");
      document.getElementById("r-ack").textContent = (r.ack_text || "（无）").replace(/\r/g, "\n");
      document.getElementById("rejection").hidden = false;
      document.getElementById("rejection").scrollIntoView();
    }
    async function show() {
      const data = await api("GET", `/labs/rejections?page=${page}&page_size=${size}`);
      total = data.total;
      const body = document.querySelector("#rejections tbody");
      body.replaceChildren(...data.items.map((r) => {
        const view = el("button", "查看原文", { type: "button", class: "plain" });
        view.onclick = () => open(r.id);
        return row([when(r.received_at), r.hospital_name, r.format === "fhir" ? "FHIR" : "HL7 v2", r.control_id || "—",
          `${r.ack_code}${r.storage_failed ? "（请重发）" : ""}`, r.reason, view], { "data-id": r.id });
      }));
      if (!data.items.length) emptyRow(body, 7, "没有拒收的消息。");
      document.getElementById("page").textContent = pager(total, page, size, "条");
    }
    document.getElementById("prev").onclick = () => { if (page > 1) { page -= 1; show(); } };
    document.getElementById("next").onclick = () => { if (page * size < total) { page += 1; show(); } };
    await show();
  }

  // Records with a printed receipt: the console address's kind -> the API's receipt and how to name the record.
  // The referral slip (issue 13) joins here as `referral` once GET /referrals/{id}/slip exists.
  const PRINTABLE = {
    "lab-report": { receipt: (id) => `/lab-reports/${id}/receipt`, name: "lab-report", record: (id) => `/lab-reports/${id}`,
      subject: (r) => `${r.patient ? r.patient.name : ""} · ${r.panel_name} · 报告时间 ${when(r.reported_at)}` },
    followup: { receipt: (id) => `/followups/${id}/slip`, name: "follow-up-slip", record: (id) => `/followups/${id}`,
      subject: (f) => `${CONDITION[f.condition] || f.condition}随访 · ${f.visit_date}` },
  };

  function printLink(kind, id) {
    return el("a", "打印预览", { href: `/console/print/${kind}/${encodeURIComponent(id)}` });
  }

  // A receipt's bytes or PNG: the API answers binary, or JSON in the one error shape.
  async function apiBytes(path) {
    const resp = await fetch(`/api/v1${path}`, { headers: headers() });
    if (resp.status === 401) signedOut();
    if (!resp.ok) {
      const data = await resp.json().catch(() => ({ message: `${resp.status}` }));
      say(describe(data));
      throw new Error(describe(data));
    }
    return resp.blob();
  }

  function dataUrl(blob) {  // the CSP allows data: images, not blob: ones
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
  }

  async function printPage() {
    await requireStaff();
    const [, , kindPart, idPart] = window.location.pathname.split("/").slice(1);
    const kind = PRINTABLE[kindPart];
    const id = encodeURIComponent(decodeURIComponent(idPart));
    const back = document.getElementById("back");
    back.onclick = (ev) => { ev.preventDefault(); window.history.back(); };
    const record = await api("GET", kind.record(id));
    document.getElementById("p-subject").textContent = kind.subject(record);
    const form = document.getElementById("p-settings");
    const settings = () => ({ width: form.width.value, mode: form.mode.value });
    const query = (format) => new URLSearchParams({ ...settings(), format }).toString();
    const img = document.getElementById("p-preview");

    async function show() {
      const { width, mode } = settings();
      const described = `${width} 毫米，${mode === "raster" ? "图像方式" : "打印机中文字库"}`;
      img.setAttribute("aria-busy", "true");
      try {
        img.src = await dataUrl(await apiBytes(`${kind.receipt(id)}?${query("png")}`));
      } finally { img.removeAttribute("aria-busy"); }
      img.alt = `${document.getElementById("p-title").textContent}预览（${described}）`;
      img.dataset.width = width;
      img.dataset.mode = mode;
      document.getElementById("p-caption").textContent = `${described}的打印效果`;
      document.getElementById("p-figure").hidden = false;
      say("");
    }
    form.onchange = () => show();
    document.getElementById("p-download").onclick = async () => {
      const { width, mode } = settings();
      const bytes = await apiBytes(`${kind.receipt(id)}?${query("escpos")}`);
      const link = el("a", null, { href: URL.createObjectURL(bytes), download: `${kind.name}-${width}mm-${mode}.bin` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      say(`已下载 ${width} 毫米打印数据（${bytes.size} 字节）。`, "info");
    };
    await show();
  }

  const TEAM_ROLES = { family_doctor: "家庭医生", nurse: "社区护士", public_health_doctor: "公卫医生" };

  async function usersPage() {
    const me = await requireStaff();
    if (me.role !== "admin") { say("用户管理仅管理员可用。", "warn"); return; }
    const [teams, centers] = await Promise.all([api("GET", "/teams"), api("GET", "/centers")]);
    const teamName = Object.fromEntries(teams.map((t) => [t.id, t.name]));
    const centerName = Object.fromEntries(centers.map((c) => [c.id, c.name]));
    const form = document.getElementById("new-user");
    fillSelect(form.team_id, teams, (t) => `${centerName[t.center_id] || ""} ${t.name}`);
    fillSelect(form.center_id, centers, (c) => c.name);
    const size = 50;
    let page = 1;
    let total = 0;

    function roleFields() {
      for (const l of form.querySelectorAll(".for-gp")) l.hidden = form.role.value !== "gp";
      for (const l of form.querySelectorAll(".for-staff")) l.hidden = form.role.value !== "center_staff";
    }
    form.role.onchange = roleFields;
    roleFields();

    async function change(u, body, done) {
      await api("PATCH", `/users/${u.id}`, body);
      await show();
      say(done, "info");
    }

    async function show() {
      const data = await api("GET", `/users/?page=${page}&page_size=${size}`);
      total = data.total;
      const body = document.querySelector("#users tbody");
      body.replaceChildren(...data.items.map((u) => {
        const actions = el("span", null, { class: "actions" });
        const toggle = el("button", u.is_active ? "停用" : "启用", { type: "button", class: "plain" });
        toggle.onclick = async () => {
          if (u.is_active && !await confirmBox(`停用 ${u.full_name}（${u.username}）`,
            ["停用后此账号不能再登录，已登录的平板和浏览器也会被退出。可以随时重新启用。"])) return;
          await change(u, { is_active: !u.is_active }, `${u.username} 已${u.is_active ? "停用" : "启用"}。`);
        };
        const reset = el("button", "重设密码", { type: "button", class: "plain" });
        reset.onclick = async () => {
          if (!await confirmBox(`重设 ${u.full_name}（${u.username}）的密码`, ["请把新密码当面或电话告知本人。"],
            "新密码（至少 10 位）")) return;
          const password = document.getElementById("confirm-input").value;
          if (password.length < 10) { say("新密码至少 10 位。"); return; }
          await change(u, { password }, `${u.username} 的密码已重设。`);
        };
        actions.append(toggle, " ", reset);
        if (u.role === "gp") {
          const move = el("button", "调整团队", { type: "button", class: "plain" });
          move.onclick = () => openMove(u);
          actions.append(" ", move);
        }
        const where = u.team_id ? teamName[u.team_id] || `团队 ${u.team_id}` : (u.center_id ? centerName[u.center_id] : "—");
        return row([u.username, u.full_name, ROLES[u.role] || u.role, where,
          u.team_role ? `${TEAM_ROLES[u.team_role] || u.team_role}${u.is_team_leader ? "（团队长）" : ""}` : "—",
          u.is_active ? "正常" : "已停用", actions], { "data-user": u.username });
      }));
      document.getElementById("page").textContent = pager(total, page, size, "人");
    }
    const moveCard = document.getElementById("move-card");
    const moveForm = document.getElementById("move-user");
    let moving = null;

    function openMove(u) {
      moving = u;
      document.getElementById("move-who").textContent = `${u.full_name}（${u.username}），现属${teamName[u.team_id] || "—"}`;
      moveForm.reset();
      moveForm.team_id.replaceChildren(el("option", "请选择…", { value: "" }));
      fillSelect(moveForm.team_id, teams.filter((t) => t.id !== u.team_id), (t) => `${centerName[t.center_id] || ""} ${t.name}`);
      moveForm.team_role.value = u.team_role || "family_doctor";
      moveCard.hidden = false;
      moveForm.team_id.focus();
    }
    document.getElementById("move-cancel").onclick = () => { moveCard.hidden = true; moving = null; };
    moveForm.onsubmit = async (ev) => {
      ev.preventDefault();
      const u = moving;
      if (!moveForm.team_id.value) { say("请选择要调往的团队。"); moveForm.team_id.focus(); return; }
      const reason = checkReason(moveForm.reason);
      if (!reason) return;
      const to = Number(moveForm.team_id.value);
      const lead = moveForm.is_team_leader.checked;
      const lines = [`${u.full_name}（${u.username}）将从「${teamName[u.team_id] || "—"}」调到「${teamName[to]}」，`
        + `职务：${TEAM_ROLES[moveForm.team_role.value]}${lead ? "，担任团队长" : ""}。`,
        "调整后此账号只能查看新团队的家庭和居民。"];
      if (u.is_team_leader) lines.push(`${u.full_name} 不再担任「${teamName[u.team_id]}」的团队长。`);
      if (!await confirmBox("调整团队", lines)) return;
      const done = await api("PUT", `/users/${u.id}/team`, { team_id: to, team_role: moveForm.team_role.value,
        is_team_leader: lead, reason });
      moveCard.hidden = true;
      moving = null;
      await show();
      const named = done.residents_still_named
        ? `原团队仍有 ${done.residents_still_named} 名居民的责任医生是 ${u.full_name}，请原团队另行指定。` : "";
      say(`${u.username} 已调到${teamName[to]}。${named}`, named ? "warn" : "info");
    };
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      if (!form.role.value) { say("请选择角色。"); form.role.focus(); return; }
      const body = { username: form.username.value.trim(), full_name: form.full_name.value.trim(),
        password: form.password.value, role: form.role.value };
      if (body.role === "gp") {
        if (!form.team_id.value) { say("请选择团队。"); form.team_id.focus(); return; }
        Object.assign(body, { team_id: Number(form.team_id.value), team_role: form.team_role.value,
          is_team_leader: form.is_team_leader.checked });
      }
      if (body.role === "center_staff") {
        if (!form.center_id.value) { say("请选择中心。"); form.center_id.focus(); return; }
        body.center_id = Number(form.center_id.value);
      }
      const made = await api("POST", "/users/", body);
      form.reset();
      roleFields();
      await show();
      say(`已新建账号 ${made.username}。`, "info");
    };
    document.getElementById("prev").onclick = () => { if (page > 1) { page -= 1; show(); } };
    document.getElementById("next").onclick = () => { if (page * size < total) { page += 1; show(); } };
    await show();
  }

  const PAGES = { users: usersPage, audit: auditPage, rejections: rejectionsPage, login: loginPage, gp: gpPage, assignment: assignmentPage, households: householdsPage,
    household: householdPage, residents: residentsPage, history: historyPage, import: importPage,
    indicators: indicatorsPage, labs: labsPage, print: printPage };

  // Runs the page of <body data-page> from `pages` (this file's or referrals.js's); an error matching `expected`
  // (the reader was sent to sign in) is not logged.
  function runPage(pages, expected) {
    const page = pages[document.body.dataset.page];
    if (!page) return;
    // aria-busy: the page is still fetching and drawing; assistive tools (and the browser tests) wait for it
    // to go rather than for a guessed quiet spell.
    document.body.setAttribute("aria-busy", "true");
    // Through a promise: a page function that is not async (loginPage) returns nothing to chain on.
    Promise.resolve().then(page).catch((err) => { if (!expected.test(err.message)) console.error(err); })
      .finally(() => document.body.removeAttribute("aria-busy"));
  }

  function start() {
    runPage(PAGES, /signed out|no token|not center staff/);
  }

  // For the pages in other files (referrals.js): the same helpers, one copy of each.
  return { start, runPage, api, describe, el, row, emptyRow, say, headers, signedOut, confirmBox, requireSignedIn,
    requireStaff, when, pager, svg, percent, barChart, download, COLORS, STAFF };
})();
Console.start();
