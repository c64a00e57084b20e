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
        const bar = el("div", null, { class: `bar ${l.status}`, style: `width:${(100 * l.residents) / max}%` });
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

  return { loginPage, assignmentPage, householdsPage, api, describe };
})();
