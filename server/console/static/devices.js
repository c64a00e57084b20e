// The device page (/console/devices): the tablet registry per team, with retire and lost orders.
// Loaded after console.js (defer) and built only on Console.api and Console.describe, so the shared file
// is unchanged; every rule and scope check stays in the API (/api/v1/devices).
"use strict";
(() => {
  if (document.body.dataset.page !== "devices") return;
  const STATE = { active: "在用", retire: "待退役", lost: "已挂失", wiped: "已清除" };
  const size = 100;
  let page = 1;
  let total = 0;

  function el(tag, text, attrs = {}) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  function cell(parts, cls) {
    const td = el("td", null, cls ? { class: cls } : {});
    parts.forEach((p, i) => td.append(i === 0 ? el("span", p) : el("span", p, { class: "sub" })));
    return td;
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "—";
  }

  function notice(text, kind) {
    const box = document.getElementById("message");
    box.textContent = text;
    box.className = kind;
    box.hidden = !text;
  }

  // What is waiting on the tablet, in words center staff act on.
  function waitingWords(d) {
    if (d.pending_changes === null || d.pending_changes === undefined) return "设备尚未报告待上传的记录数";
    return `设备最近一次（${when(d.pending_reported_at)}）报告有 ${d.pending_changes} 条记录待上传`;
  }

  function ask(title, lines) {
    const dialog = document.getElementById("confirm-dialog");
    document.getElementById("confirm-field").hidden = true;
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-text").replaceChildren(...lines.map((l) => el("p", l)));
    notice("", "");
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      document.getElementById("confirm-cancel").focus();  // the safe answer is the default key
    });
  }

  const ORDERS = {
    retire: { button: "退役", title: "确认退役此设备？", done: "已标记为待退役",
      lines: (d) => [`${waitingWords(d)}。`, "退役后，设备下次联网时会先上传全部待上传记录，上传完成后自行清除数据并回报。"] },
    lost: { button: "挂失", title: "确认挂失此设备？", done: "已挂失",
      lines: (d) => [`${waitingWords(d)}。`,
        d.pending_changes ? `挂失后这 ${d.pending_changes} 条记录将不再被接收，设备下次联网时直接清除。` :
          "挂失后设备发送的任何内容都不再接收，设备下次联网时直接清除。",
        "如设备只是暂时找不到、之后可以联网，请改用“退役”。"] },
  };

  async function order(d, what) {
    const now = await Console.api("GET", `/devices/${encodeURIComponent(d.id)}`);  // the count as of now
    const o = ORDERS[what];
    const name = `${now.team_name} · ${now.model}（${now.id.slice(0, 8)}）`;
    if (!(await ask(o.title, [name, ...o.lines(now)]))) return;
    await Console.api("POST", `/devices/${encodeURIComponent(d.id)}/${what}`, {});
    await show();
    notice(`${name} ${o.done}。`, "info");
  }

  function actions(d) {
    const td = el("td", null, { class: "actions" });
    const allowed = { active: ["retire", "lost"], retire: ["lost"] }[d.state] || [];
    for (const what of allowed) {
      const b = el("button", ORDERS[what].button, { type: "button", class: what === "lost" ? "secondary" : "plain",
        "data-order": what });
      b.onclick = () => order(d, what).catch(() => {});
      td.append(b);
    }
    if (d.state !== "active") {
      const at = d.state === "wiped" ? `设备回报已清除：${when(d.wiped_at)}`
        : `${d.state_changed_by || ""} 下令于 ${when(d.state_changed_at)}`;
      td.append(el("span", at, { class: "sub" }));
    }
    return td;
  }

  function deviceRow(d) {
    const tr = el("tr", null, { "data-device": d.id, "data-state": d.state });
    tr.append(cell([d.model, d.id], "id"));
    const state = el("td");
    state.append(el("span", STATE[d.state] || d.state, { class: `badge state-${d.state}` }));
    if (d.pending_at_order !== null && d.state !== "active") state.append(el("span", `下令时待上传 ${d.pending_at_order} 条`, { class: "sub" }));
    tr.append(state);
    tr.append(cell([when(d.last_contact_at)]));
    tr.append(cell([when(d.last_sync_at)]));
    const waiting = d.pending_changes ?? "—";
    tr.append(cell([waiting, d.pending_reported_at ? `报告于 ${when(d.pending_reported_at)}` : "未报告"],
      `waiting${d.pending_changes ? " some" : ""}`));
    tr.append(cell([`应用 ${d.app_version}`, `数据 v${d.store_version}`]));
    tr.append(cell([d.last_user || "—", `登记：${d.enrolled_by} ${when(d.enrolled_at)}`]));
    tr.append(actions(d));
    return tr;
  }

  async function show() {
    const form = document.getElementById("device-filter");
    const q = new URLSearchParams({ page, page_size: size });
    if (form.team_id.value) q.set("team_id", form.team_id.value);
    if (form.state.value) q.set("state", form.state.value);
    const data = await Console.api("GET", `/devices?${q}`);
    total = data.total;
    const body = document.querySelector("#devices tbody");
    const rows = [];
    let team = null;
    for (const d of data.items) {  // the API lists by team name: one heading row per team
      if (d.team_id !== team) {
        team = d.team_id;
        const n = data.items.filter((x) => x.team_id === team).length;
        const head = el("tr", null, { class: "team" });
        head.append(el("th", `${d.team_name}（${n} 台）`, { colspan: 8 }));
        rows.push(head);
      }
      rows.push(deviceRow(d));
    }
    if (!rows.length) {
      const tr = el("tr");
      tr.append(el("td", "没有符合条件的设备。", { colspan: 8, class: "hint" }));
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    document.getElementById("page").textContent = `第 ${page} / ${Math.max(1, Math.ceil(total / size))} 页，共 ${total} 台`;
  }

  async function run() {
    const token = window.sessionStorage.getItem("token");
    if (!token) { window.location.href = "/console/login"; return; }
    const me = await Console.api("GET", "/auth/me");
    if (!["center_staff", "admin"].includes(me.role)) { window.location.replace("/console/gp"); return; }
    document.getElementById("who").textContent = `${me.full_name}（${me.username}）`;
    for (const link of document.querySelectorAll(".admin-only")) link.hidden = me.role !== "admin";
    document.getElementById("logout").onclick = async () => {
      try { await Console.api("POST", "/auth/logout", {}); } finally {
        window.sessionStorage.clear();
        window.location.href = "/console/login";
      }
    };
    const teams = await Console.api("GET", "/teams");
    const select = document.getElementById("team-filter");
    for (const t of teams) select.append(el("option", t.name, { value: t.id }));
    document.getElementById("device-filter").onsubmit = (ev) => { ev.preventDefault(); page = 1; show(); };
    document.getElementById("prev").onclick = () => { if (page > 1) { page -= 1; show(); } };
    document.getElementById("next").onclick = () => { if (page * size < total) { page += 1; show(); } };
    await show();
  }

  run().catch((err) => { if (!/signed out/.test(err.message)) console.error(err); });
})();
