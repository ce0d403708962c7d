// The supervisors' wallboard: draws the live queue snapshot (server-sent events from /api/queues/stream)
// and today's figures (/api/wallboard/today), ticks the waits and times in state once a second, and
// sends the supervisor's actions. No page reload, no library: the page must run on a wall screen
// without anything from outside.
(() => {
  "use strict";

  const root = document.getElementById("wallboard");
  const data = JSON.parse(document.getElementById("wb-data").textContent);
  const T = data.t;
  const lang = document.documentElement.lang || "tr";
  const goal = Number(root.dataset.goal) / 100;
  const canAct = root.dataset.canAct === "1";
  const csrf = root.dataset.csrf;
  // When an operator is in several queues, the state shown is the busiest.
  const STATE_ORDER = ["on_call", "ringing", "wrap_up", "paused", "available", "unavailable"];
  const SVG = "http://www.w3.org/2000/svg";
  const TODAY_EVERY_MS = 30000;

  const percent = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 });
  const integer = new Intl.NumberFormat(lang);
  let users = data.operators;
  let live = {};
  let liveAt = Date.now();
  let liveSignature = "";
  let today = null;

  const $ = (selector, within = document) => within.querySelector(selector);
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (all, key) => (key in values ? values[key] : all));

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    node.append(...children);
    return node;
  }

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
  }

  function say(text, error = false) {
    const box = $("#wb-message");
    box.textContent = text;
    box.classList.toggle("error", error);
  }

  // ---- live snapshot ------------------------------------------------------------------------

  function setTicking(cell, seconds, running) {
    cell.dataset.seconds = String(seconds);
    cell.dataset.at = String(liveAt);
    cell.dataset.run = running ? "1" : "0";
    cell.textContent = duration(seconds);
  }

  function tick() {
    const now = Date.now();
    for (const cell of root.querySelectorAll(".ticking[data-run='1']")) {
      cell.textContent = duration(Number(cell.dataset.seconds) + (now - Number(cell.dataset.at)) / 1000);
    }
  }

  function countsText(byState) {
    const parts = STATE_ORDER.filter((s) => byState[s]).map((s) => `${byState[s]} ${T[s]}`);
    return parts.length ? parts.join(" · ") : T.none;
  }

  function operatorsLive() {
    // interface -> the operator across their queues
    const found = {};
    for (const [queue, state] of Object.entries(live)) {
      for (const [iface, member] of Object.entries(state.operators || {})) {
        const seen = found[iface];
        const rank = STATE_ORDER.indexOf(member.state);
        if (!seen) {
          found[iface] = { ...member, queues: [queue], rank };
          continue;
        }
        seen.queues.push(queue);
        if (rank < seen.rank) Object.assign(seen, member, { queues: seen.queues, rank });
      }
    }
    return found;
  }

  function renderQueues() {
    let waiting = 0;
    let longest = 0;
    const everyone = operatorsLive();
    for (const row of root.querySelectorAll("#wb-queues tbody tr[data-queue]")) {
      const state = live[row.dataset.queue] || { waiting: 0, longest_wait_s: 0, by_state: {} };
      waiting += state.waiting;
      longest = Math.max(longest, state.longest_wait_s);
      showWaiting(row, state.waiting, state.longest_wait_s);
      $(".counts", row).textContent = countsText(state.by_state || {});
    }
    const total = $("#wb-queues tfoot tr");
    showWaiting(total, waiting, longest);
    const byState = {};
    for (const member of Object.values(everyone)) byState[member.state] = (byState[member.state] || 0) + 1;
    $(".counts", total).textContent = countsText(byState);
  }

  function showWaiting(row, waiting, longest) {
    const cell = $(".waiting", row);
    cell.textContent = integer.format(waiting);
    cell.classList.toggle("waiting-some", waiting > 0);
    setTicking($(".longest", row), longest, waiting > 0);
  }

  function renderOperators() {
    const body = $("#wb-operators tbody");
    const everyone = operatorsLive();
    const rows = {};
    for (const user of users) {
      const member = user.interface ? everyone[user.interface] : undefined;
      rows[user.interface || `user:${user.username}`] = { user, member };
    }
    for (const [iface, member] of Object.entries(everyone)) {
      if (!rows[iface]) rows[iface] = { user: null, member };
    }
    const keys = Object.keys(rows).sort((a, b) => label(rows[a]).localeCompare(label(rows[b]), lang));
    const existing = new Map([...body.children].map((tr) => [tr.dataset.key, tr]));
    for (const [key, tr] of existing) if (!(key in rows)) tr.remove();
    let previous = null;
    for (const key of keys) {
      let tr = existing.get(key);
      if (!tr) tr = newOperatorRow(key, rows[key]);
      updateOperatorRow(tr, rows[key]);
      const expected = previous ? previous.nextElementSibling : body.firstElementChild;
      if (expected !== tr) body.insertBefore(tr, expected); // only when the order changed: focus stays put
      previous = tr;
    }
  }

  function label(row) {
    if (row.user) return row.user.full_name || row.user.username;
    return row.member.name;
  }

  function newOperatorRow(key, row) {
    const tr = el(
      "tr",
      { "data-key": key, "data-user": row.user ? row.user.username : "" },
      el("th", { scope: "row", class: "who", text: label(row) }),
      el("td", {}, el("span", { class: "state" })),
      el("td", { class: "num since ticking" }),
      el("td", { class: "queues" }),
    );
    if (canAct) tr.append(el("td", { class: "actions act-only" }, ...(row.user ? actionControls(row.user) : [])));
    return tr;
  }

  function actionControls(user) {
    const who = user.full_name || user.username;
    const reason = el("select", { "aria-label": `${T.pause_reason} (${who})`, class: "reason" });
    for (const r of data.pause_reasons) reason.append(el("option", { value: r.code, text: r.label }));
    const button = (action, text, handler) =>
      el("button", { type: "button", "data-action": action, "aria-label": `${text}: ${who}`, onclick: handler }, text);
    return [
      reason,
      button("pause", T.pause, () => command("pause", user.username, reason.value)),
      button("unpause", T.unpause, () => command("unpause", user.username)),
      button("logout", T.logout, () => command("logout", user.username)),
      button("move", T.move, () => openMove(user.username)),
    ];
  }

  function updateOperatorRow(tr, row) {
    const member = row.member;
    const state = member ? member.state : "logged_out";
    const badge = $(".state", tr);
    badge.className = `state st-${state}`;
    badge.textContent = T[state] + (state === "paused" && member.reason ? ` (${reasonLabel(member.reason)})` : "");
    const since = $(".since", tr);
    if (member) setTicking(since, member.in_state_s, true);
    else {
      since.dataset.run = "0";
      since.textContent = "–";
    }
    const queues = member ? member.queues : Object.keys(row.user ? row.user.skills : {});
    $(".queues", tr).textContent = queues.length ? queues.sort().join(", ") : T.none;
    const loggedIn = Boolean(member);
    for (const b of tr.querySelectorAll("button[data-action]")) {
      const action = b.dataset.action;
      b.disabled =
        (action === "pause" && (!loggedIn || state === "paused")) ||
        (action === "unpause" && state !== "paused") ||
        (action === "logout" && !loggedIn);
    }
  }

  function reasonLabel(code) {
    const found = data.pause_reasons.find((r) => r.code === code);
    return found ? found.label : code;
  }

  function onLive(snapshot) {
    live = snapshot || {};
    liveAt = Date.now();
    renderQueues();
    renderOperators();
    // A call joined, left or was answered: today's figures change once the recorder has the record.
    const signature = JSON.stringify(
      Object.entries(live).map(([q, s]) => [q, s.waiting, (s.by_state || {}).on_call || 0]),
    );
    if (signature !== liveSignature) {
      liveSignature = signature;
      setTimeout(loadToday, 1500);
      setTimeout(loadToday, 6000);
    }
  }

  function connect() {
    const conn = $("#wb-conn");
    const up = (yes) => {
      conn.classList.toggle("up", yes);
      conn.classList.toggle("down", !yes);
      conn.textContent = yes ? T.connected : T.disconnected;
    };
    const stream = new EventSource("/api/queues/stream");
    stream.addEventListener("live", (event) => {
      up(true);
      onLive(JSON.parse(event.data));
    });
    stream.onopen = () => up(true);
    stream.onerror = () => {
      up(false);
      if (stream.readyState === EventSource.CLOSED) setTimeout(connect, 5000); // refused: try again later
    };
  }

  async function loadOperators() {
    // Operator users added, moved or given a phone elsewhere show up without a reload.
    try {
      const answer = await fetch("/api/wallboard/operators", { headers: { Accept: "application/json" } });
      if (!answer.ok) return;
      users = (await answer.json()).operators;
    } catch {
      return;
    }
    renderOperators();
  }

  // ---- today's figures ----------------------------------------------------------------------

  async function loadToday() {
    try {
      const answer = await fetch("/api/wallboard/today", { headers: { Accept: "application/json" } });
      if (!answer.ok) return;
      today = await answer.json();
    } catch {
      return;
    }
    renderToday();
    renderChart();
    root.dataset.todayAt = String(Date.now());
  }

  function slCell(cell, value, targetS) {
    cell.replaceChildren();
    cell.classList.remove("sl-bad", "sl-ok");
    if (value === null || value === undefined) {
      cell.textContent = "–";
      return;
    }
    const bad = value < goal;
    cell.classList.add(bad ? "sl-bad" : "sl-ok");
    cell.append(
      el("span", { "aria-hidden": "true", text: bad ? "▼ " : "" }),
      percent.format(value),
      el("span", { class: "visually-hidden", text: ` (${bad ? T.below_goal : T.at_goal})` }),
    );
    if (targetS) cell.append(` / ${targetS} ${T.seconds}`);
  }

  function renderToday() {
    for (const row of root.querySelectorAll("#wb-queues tr[data-queue]")) {
      const name = row.dataset.queue;
      const figures = name ? today.queues[name] : today.all;
      if (!figures) continue;
      const total = figures.total;
      slCell($(".sl-target", row), total.sl_target, name ? figures.target_s : null);
      slCell($(".sl-20", row), total.sl_20s, null);
      $(".asa", row).textContent = total.asa_s === null ? "–" : `${integer.format(Math.round(total.asa_s))} ${T.seconds}`;
      $(".c-answered", row).textContent = integer.format(total.answered);
      $(".c-abandoned", row).textContent = integer.format(total.abandoned);
    }
  }

  function renderChart() {
    if (!today) return;
    const queue = $("#wb-chart-queue").value;
    const figures = queue ? today.queues[queue] : today.all;
    const svg = $("#wb-chart");
    for (const node of [...svg.childNodes]) if (!["title", "desc"].includes(node.nodeName)) node.remove();
    const series = figures ? figures.series : [];
    const slots = today.slots;
    const nowSlot = Math.floor((Date.now() - Date.parse(slots[0])) / 900000);
    const busy = series.map((s, i) => (s[0] ? i : -1)).filter((i) => i >= 0);
    const first = Math.min(28, busy.length ? busy[0] : 28); // from 07:00, or the first call if earlier
    const last = Math.max(first + 8, Math.min(slots.length - 1, nowSlot + 2), busy.length ? busy[busy.length - 1] : 0);
    const shown = series.slice(first, last + 1);
    const top = Math.max(1, ...shown.map((s) => s[0]));
    const [w, h, left, right, topPad] = [900, 200, 40, 52, 10];
    const step = (w - left - right) / shown.length;
    const y = (count) => topPad + h - (count / top) * h;
    const ySl = (share) => topPad + h - share * h;
    const add = (tag, attrs, text) => {
      const node = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      svg.append(node);
      return node;
    };
    add("line", { x1: left, y1: topPad + h, x2: w - right, y2: topPad + h, stroke: "#555" });
    add("text", { x: left - 4, y: topPad + 10, "text-anchor": "end" }, integer.format(top));
    add("text", { x: left - 4, y: topPad + h, "text-anchor": "end" }, "0");
    add("text", { x: w - right + 4, y: topPad + 10 }, percent.format(1));
    add("text", { x: w - right + 4, y: topPad + h }, percent.format(0));
    add("line", { x1: left, y1: ySl(goal), x2: w - right, y2: ySl(goal), stroke: "#a11", "stroke-dasharray": "6 4" });
    const points = [];
    shown.forEach((s, i) => {
      const start = slots[first + i].slice(11, 16);
      const x = left + i * step;
      const bar = add("rect", {
        x: (x + 1).toFixed(1),
        y: y(s[0]).toFixed(1),
        width: Math.max(1, step - 2).toFixed(1),
        height: (topPad + h - y(s[0])).toFixed(1),
        fill: "#1f5f99",
      });
      const sl = s[3] === null ? "–" : percent.format(s[3]);
      const t = document.createElementNS(SVG, "title");
      t.textContent = `${start}: ${integer.format(s[0])} · ${T.sl} ${sl}`;
      bar.append(t);
      if (s[3] !== null) points.push(`${(x + step / 2).toFixed(1)},${ySl(s[3]).toFixed(1)}`);
      if ((first + i) % (shown.length <= 48 ? 4 : 8) === 0) add("text", { x: x.toFixed(1), y: topPad + h + 16 }, start);
    });
    if (points.length > 1) add("polyline", { points: points.join(" "), fill: "none", stroke: "#0a6b2d", "stroke-width": 3 });
    for (const p of points) {
      const [cx, cy] = p.split(",");
      add("circle", { cx, cy, r: 3.5, fill: "#0a6b2d" });
    }
    const offered = shown.reduce((sum, s) => sum + s[0], 0);
    $("#wb-chart-d").textContent = offered
      ? fill(T.chart_desc, { slots: shown.length, offered: integer.format(offered), top: integer.format(top) })
      : T.no_calls;
    const body = $("#wb-chart-table tbody");
    body.replaceChildren();
    series.forEach((s, i) => {
      if (!s[0]) return;
      const cells = [s[0], s[1], s[2]].map((v) => el("td", { class: "num", text: integer.format(v) }));
      const sls = [s[3], s[4]].map((v) => el("td", { class: "num", text: v === null ? "–" : percent.format(v) }));
      body.append(el("tr", {}, el("th", { scope: "row", text: slots[i].slice(11, 16) }), ...cells, ...sls));
    });
  }

  // ---- actions ------------------------------------------------------------------------------

  async function post(url, body) {
    const answer = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    });
    let json = {};
    try {
      json = await answer.json();
    } catch {
      json = { message: answer.statusText };
    }
    return { ok: answer.ok, json };
  }

  async function command(action, username, reason = "") {
    const body = { user: username };
    if (reason) body.reason = reason;
    try {
      const { ok, json } = await post(`/api/console/${action}`, body);
      say(ok ? `${T[`done_${action}`] || T.done}: ${username}` : `${T.failed}: ${json.message || ""}`, !ok);
    } catch (error) {
      say(`${T.failed}: ${error}`, true);
    }
  }

  let moving = null;

  function openMove(username) {
    const user = users.find((u) => u.username === username);
    if (!user) return;
    moving = user;
    const dialog = $("#wb-move");
    $("#wb-move-who").textContent = fill(T.of_operator, { name: user.full_name || user.username });
    const from = $("#wb-move-from");
    from.replaceChildren(from.options[0] || el("option", { value: "" }));
    for (const q of Object.keys(user.skills).sort()) from.append(el("option", { value: q, text: q }));
    if (Object.keys(user.skills).length) from.selectedIndex = 1;
    dialog.showModal();
    from.focus();
  }

  async function submitMove(event) {
    event.preventDefault();
    const dialog = $("#wb-move");
    const user = moving;
    dialog.close();
    if (!user) return;
    const body = { to: $("#wb-move-to").value };
    if ($("#wb-move-from").value) body.from = $("#wb-move-from").value;
    try {
      const { ok, json } = await post(`/api/wallboard/operators/${encodeURIComponent(user.username)}/move`, body);
      if (!ok) {
        say(`${T.failed}: ${json.message || ""}`, true);
        return;
      }
      user.skills = json.skills;
      say(`${json.applied ? T.moved_now : T.moved_later}: ${user.username} → ${body.to}`);
      renderOperators();
      loadOperators();
    } catch (error) {
      say(`${T.failed}: ${error}`, true);
    }
  }

  function renderAnnouncements(items) {
    const body = $("#wb-announcements tbody");
    if (!body) return;
    body.replaceChildren();
    for (const a of items) {
      const end = el("button", { type: "button", onclick: () => endAnnouncement(a.id) }, T.end);
      end.setAttribute("aria-label", `${T.end}: ${a.text_tr.slice(0, 40)}`);
      const ends = new Date(a.ends_at).toLocaleString(lang, { dateStyle: "short", timeStyle: "short" });
      body.append(
        el(
          "tr",
          {},
          el("td", { text: a.text_tr }),
          el("td", { text: ends }),
          el("td", { text: a.areas.length ? a.areas.join(", ") : T.city_wide }),
          el("td", {}, end),
        ),
      );
    }
  }

  async function submitAnnouncement(event) {
    event.preventDefault();
    const text = $("#wb-ann-text");
    const districts = $("#wb-ann-districts")
      .value.split(",")
      .map((d) => d.trim())
      .filter(Boolean);
    const body = { text_tr: text.value, minutes: Number($("#wb-ann-minutes").value), districts };
    try {
      const { ok, json } = await post("/api/wallboard/announcements", body);
      if (!ok) {
        say(`${T.failed}: ${json.message || ""}`, true);
        return;
      }
      text.value = "";
      renderAnnouncements(json.announcements);
      say(T.announced);
    } catch (error) {
      say(`${T.failed}: ${error}`, true);
    }
  }

  async function endAnnouncement(id) {
    const { ok, json } = await post(`/api/wallboard/announcements/${id}/end`, {});
    if (!ok) {
      say(`${T.failed}: ${json.message || ""}`, true);
      return;
    }
    renderAnnouncements(json.announcements);
    say(T.ended);
  }

  // ---- wiring -------------------------------------------------------------------------------

  function toggleLarge() {
    const large = root.classList.toggle("large");
    $("#wb-large").setAttribute("aria-pressed", String(large));
    const url = new URL(window.location.href);
    if (large) url.searchParams.set("large", "1");
    else url.searchParams.delete("large");
    window.history.replaceState(null, "", url);
    renderChart();
  }

  $("#wb-large").addEventListener("click", toggleLarge);
  $("#wb-chart-queue").addEventListener("change", renderChart);
  if ($("#wb-move-form")) {
    $("#wb-move-form").addEventListener("submit", submitMove);
    $("#wb-move-cancel").addEventListener("click", () => $("#wb-move").close());
  }
  if ($("#wb-ann-form")) $("#wb-ann-form").addEventListener("submit", submitAnnouncement);
  renderAnnouncements(data.announcements);
  renderQueues();
  renderOperators();
  connect();
  loadToday();
  setInterval(tick, 1000);
  setInterval(loadToday, TODAY_EVERY_MS);
  setInterval(loadOperators, TODAY_EVERY_MS);
})();
