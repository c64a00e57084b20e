// The console talks only to /api/v1; the token lives in this tab's sessionStorage.
"use strict";
const Console = (() => {
  const store = window.sessionStorage;
  const STATUS = { under: "低于容量", within: "容量内", over: "超出容量", unassigned: "未分配" };

  function el(tag, text, attrs = {}) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  function say(text, kind = "error") {
    const box = document.getElementById("message");
    box.textContent = text;
    box.className = kind;
    box.hidden = !text;
  }

  function describe(body) {
    // The one error shape: {code, status, message, errors}; name the fields.
    const parts = [body.message || body.status];
    const walk = (obj, prefix) => {
      for (const [k, v] of Object.entries(obj || {})) {
        if (Array.isArray(v)) parts.push(`${prefix}${k}: ${v.join("；")}`);
        else if (v && typeof v === "object") walk(v, k === "json" || k === "query" ? "" : `${prefix}${k}.`);
        else parts.push(`${prefix}${k}: ${v}`);
      }
    };
    walk(body.errors, "");
    return parts.filter(Boolean).join(" — ");
  }

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${store.getItem("token") || ""}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (resp.status === 401) {
      store.clear();
      window.location.href = "/console/login";
      throw new Error("signed out");
    }
    const data = resp.status === 204 ? null : await resp.json();
    if (!resp.ok) {
      say(describe(data));
      throw new Error(describe(data));
    }
    return data;
  }

  async function requireStaff() {
    if (!store.getItem("token")) {
      window.location.href = "/console/login";
      throw new Error("no token");
    }
    const me = await api("GET", "/auth/me");
    document.getElementById("who").textContent = `${me.full_name}（${me.username}）`;
    document.getElementById("logout").onclick = async () => {
      try { await api("POST", "/auth/logout", {}); } finally { store.clear(); window.location.href = "/console/login"; }
    };
    if (!["center_staff", "admin"].includes(me.role)) {
      // Stop here: the staff-only calls below would answer 403 and hide this explanation.
      say("此管理台供社区卫生服务中心工作人员使用；请在平板上使用本团队的数据。", "warn");
      throw new Error("not center staff");
    }
    return me;
  }

  function fillSelect(select, items, label, { blank } = {}) {
    if (blank !== undefined) select.append(el("option", blank, { value: "" }));
    for (const item of items) select.append(el("option", label(item), { value: item.id }));
  }

  function loginPage() {
    document.getElementById("logout").hidden = true;
    document.getElementById("login-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const form = new FormData(ev.target);
      const resp = await fetch("/api/v1/auth/login", {
        method: "POST", headers: { "Content-Type": "application/json" },
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
        bar.style.width = `${(100 * l.residents) / max}%`; // a property, not a style attribute: allowed by the CSP
        const meter = el("td"); meter.append(bar);
        const row = el("tr", null, { "data-team": l.team_id === null ? "none" : l.team_id });
        row.append(el("td", l.name), el("td", l.households), el("td", l.residents), meter,
          el("td", l.chronic_patients), el("td", l.hypertension), el("td", l.diabetes), el("td", STATUS[l.status] || l.status));
        body.append(row);
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
        const row = el("tr");
        row.append(el("td", g.from === null ? "未分配" : teamName[g.from]), el("td", teamName[g.to]),
          el("td", g.households), el("td", g.residents));
        body.append(row);
      }
      document.getElementById("proposal").hidden = false;
      document.getElementById("accept").disabled = proposal.moves.length === 0;
      say(proposal.moves.length ? `建议移动 ${proposal.moves.length} 户。` : "各团队负荷已均衡，无需调整。", "info");
    };
    document.getElementById("accept").onclick = async () => {
      const reason = document.getElementById("proposal-reason").value;
      const result = await api("POST", "/assignments/proposal/accept", { moves: proposal.moves, reason });
      say(`已调整 ${result.changed} 户。`, "info");
      document.getElementById("proposal").hidden = true;
      await showLoads();
    };

    const form = document.getElementById("committee-form");
    fillSelect(form.committee_id, committees, (c) => `${c.code} ${c.name}（${c.team_id ? teamName[c.team_id] : "未分配"}）`);
    fillSelect(form.team_id, teams, (t) => t.name, { blank: "（不归任何团队）" });
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const result = await api("POST", "/assignments/by-committee", {
        committee_id: Number(form.committee_id.value), team_id: form.team_id.value ? Number(form.team_id.value) : null,
        reason: form.reason.value, only_unassigned: form.only_unassigned.checked,
      });
      say(`已分配 ${result.changed} 户。`, "info");
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
    fillSelect(assign.team_id, teams, (t) => t.name, { blank: "（不归任何团队）" });
    let page = 1;
    let total = 0;
    const size = 50;

    async function show() {
      const params = new URLSearchParams({ page, page_size: size });
      for (const key of ["committee_id", "team_id", "address"]) if (filter[key].value) params.set(key, filter[key].value);
      if (filter.unassigned.checked) params.set("unassigned", "true");
      const data = await api("GET", `/households?${params}`);
      total = data.total;
      const body = document.querySelector("#households tbody");
      body.replaceChildren();
      for (const h of data.items) {
        const box = el("input", null, { type: "checkbox", value: h.id });
        const first = el("td"); first.append(box);
        const row = el("tr");
        row.append(first, el("td", h.committee_name), el("td", h.address), el("td", h.head_name || "—"),
          el("td", h.member_count), el("td", h.team_id ? teamName[h.team_id] || h.team_id : "未分配"));
        body.append(row);
      }
      document.getElementById("page").textContent = `第 ${page} / ${Math.max(1, Math.ceil(total / size))} 页，共 ${total} 户`;
      document.getElementById("all").checked = false;
    }
    filter.onsubmit = (ev) => { ev.preventDefault(); page = 1; show(); };
    document.getElementById("prev").onclick = () => { if (page > 1) { page -= 1; show(); } };
    document.getElementById("next").onclick = () => { if (page * size < total) { page += 1; show(); } };
    document.getElementById("all").onchange = (ev) => {
      for (const box of document.querySelectorAll("#households tbody input")) box.checked = ev.target.checked;
    };
    assign.onsubmit = async (ev) => {
      ev.preventDefault();
      const ids = [...document.querySelectorAll("#households tbody input:checked")].map((b) => b.value);
      if (!ids.length) { say("请先勾选家庭。"); return; }
      const result = await api("POST", "/assignments/", {
        household_ids: ids, team_id: assign.team_id.value ? Number(assign.team_id.value) : null, reason: assign.reason.value,
      });
      say(`已分配 ${result.changed} 户。`, "info");
      await show();
    };
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

  function when(iso) {
    return iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "—";
  }

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

  return { loginPage, assignmentPage, householdsPage, labsPage, api, describe };
})();

// Each page names itself in <body data-page>: the Content-Security-Policy allows no inline script to start it.
{
  const start = { login: Console.loginPage, assignment: Console.assignmentPage,
                  households: Console.householdsPage, labs: Console.labsPage }[document.body.dataset.page];
  if (start) start();
}
