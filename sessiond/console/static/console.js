// sessiond operator console: plain JavaScript, no build step, nothing fetched from outside.
"use strict";

const SESSIONS = "sessiond.v1.SessionService";
const main = document.getElementById("main");
const notice = document.getElementById("notice");
let whoami = null;
let leave = () => {};  // stops the current page's live parts (watch stream, timers)

function token() { return sessionStorage.getItem("sessiond-token") || ""; }
function headers() { return token() ? { Authorization: "Bearer " + token() } : {}; }

class Refused extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

async function rpc(method, body, service = SESSIONS) {
  const response = await fetch(`/api/${service}/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers() },
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json();
  if (!response.ok) throw new Refused(answer.code, answer.message);
  return answer;
}

function show(message, ok = false) {
  notice.textContent = message;
  notice.className = ok ? "ok" : "";
  notice.hidden = false;
}
function refusal(err) { show(err.code ? `${err.code}: ${err.message}` : String(err)); }

function render(id) {
  leave();
  leave = () => {};
  notice.hidden = true;
  main.replaceChildren(document.getElementById(id).content.cloneNode(true));
}

function text(el, value) { el.textContent = value === undefined || value === null ? "" : String(value); return el; }
function cell(row, value) { text(row.insertCell(), value); }
function when(stamp) { return stamp ? new Date(stamp).toLocaleTimeString() : ""; }
function secondsOf(duration) { return duration ? parseFloat(duration) : 0; }
// As the session says (Session.persistence.kind): DURABLE or EPHEMERAL.
function persistenceOf(session) { return (session.persistence && session.persistence.kind) || ""; }
function persistenceIcon(kind) {
  const span = document.createElement("span");
  span.className = "persist";
  span.title = kind === "DURABLE" ? "durable: projected into the graph" : "ephemeral: hot state only";
  span.textContent = kind === "DURABLE" ? "\u{1F5C4}" : "\u26A1";
  span.dataset.persistence = kind;
  return span;
}
// "durable (redis+neo4j), in the graph up to event #12, 2 facts pending"
function persistenceText(session) {
  const p = session.persistence || {};
  const parts = [`${persistenceOf(session).toLowerCase()} (${p.store || "?"})`];
  if (p.graph) {
    const pending = Number(p.graph.pending_facts);
    parts.push(`in the graph up to event #${p.graph.projected_event_id}`);
    parts.push(pending ? `${pending} fact(s) pending` : "caught up");
  }
  return parts.join(", ");
}

// --- live events (server-sent events over fetch, so the token goes in a header) ---------

function watch(sessionId, afterEventId, onItem, onEnd) {
  const controller = new AbortController();
  (async () => {
    const after = afterEventId === null ? "" : `?after_event_id=${afterEventId}`;
    const path = `/api/watch/${encodeURIComponent(sessionId)}${after}`;
    const response = await fetch(path, { headers: headers(), signal: controller.signal });
    if (!response.ok) {
      const answer = await response.json();
      throw new Refused(answer.code, answer.message);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (!data) continue;
        if (block.startsWith("event: error")) {
          const err = JSON.parse(data);
          throw new Refused(err.code, err.message);
        }
        onItem(JSON.parse(data));
      }
    }
  })().catch((err) => { if (err.name !== "AbortError") onEnd(err); });
  return () => controller.abort();
}

// --- pages --------------------------------------------------------------------------------

function signIn() {
  render("t-signin");
  document.getElementById("signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    sessionStorage.setItem("sessiond-token", document.getElementById("signin-token").value.trim());
    if (await identify()) route();
  });
}

async function sessionsPage() {
  render("t-sessions");
  const form = document.getElementById("filters");
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  for (const [name, value] of params) if (form.elements[name]) form.elements[name].value = value;
  const terms = [];
  for (const name of ["state", "channel_id", "game_id", "player_id", "persistence"]) {
    const value = params.get(name);
    if (value) terms.push(name === "state" || name === "persistence" ? `${name}=${value}` : `${name}="${value}"`);
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const query = new URLSearchParams();
    for (const el of form.elements) if (el.name && el.value) query.set(el.name, el.value);
    location.hash = "#/sessions?" + query.toString();
  });
  const body = document.querySelector("#sessions-table tbody");
  const more = document.getElementById("sessions-more");
  let pageToken = "";
  async function page() {
    try {
      const answer = await rpc("ListSessions", { filter: terms.join(" AND "), page_size: 25, page_token: pageToken });
      for (const s of answer.sessions) {
        const row = body.insertRow();
        row.className = "link";
        row.dataset.sessionId = s.session_id;
        row.insertCell().append(persistenceIcon(persistenceOf(s)));
        cell(row, s.title || s.session_id);
        cell(row, s.state);
        cell(row, s.player_count);
        cell(row, s.turn_number);
        const left = s.window && s.window.deadline ? Math.max(0, Math.round((new Date(s.window.deadline) - Date.now()) / 1000)) + " s" : "";
        cell(row, left);
        cell(row, when(s.last_activity_time));
        row.addEventListener("click", () => { location.hash = "#/session/" + encodeURIComponent(s.session_id); });
      }
      text(document.getElementById("sessions-total"), `${answer.total_size} session(s)`);
      pageToken = answer.next_page_token;
      more.hidden = !pageToken;
    } catch (err) { refusal(err); }
  }
  more.addEventListener("click", page);
  await page();
}

async function sessionPage(sessionId) {
  render("t-session");
  const $ = (id) => document.getElementById(id);
  let session = null;
  let chosen = new Set();
  let chosenTurn = 0;
  let frame = 0;
  let refreshing = null;
  let again = false;

  // One refresh at a time, and one more if events arrived meanwhile: a replay of many
  // events costs two reads, not one per event.
  function scheduleRefresh() {
    if (refreshing) { again = true; return; }
    refreshing = refresh().catch(refusal).finally(() => {
      refreshing = null;
      if (again) { again = false; scheduleRefresh(); }
    });
  }

  async function refresh() {
    session = await rpc("GetSession", { session_id: sessionId });
    text($("s-title"), session.title || "(untitled)");
    text($("s-id"), session.session_id);
    text($("s-status"), session.state);
    text($("s-turn"), session.turn_number);
    $("s-persistence").replaceChildren(persistenceIcon(persistenceOf(session)), " " + persistenceText(session));
    text($("s-version"), session.state_version);
    text($("s-state"), JSON.stringify(session.session_state, null, 2));
    const open = session.window && session.window.deadline;
    $("window-open").hidden = !open;
    $("window-none").hidden = !!open;
    text($("chosen-count"), open ? session.window.choice_count : 0);
    const players = await rpc("ListPlayers", { session_id: sessionId, page_size: 100 });
    const roster = $("roster").tBodies[0];
    roster.replaceChildren();
    for (const p of players.players) {
      const row = roster.insertRow();
      row.dataset.playerId = p.player_id;
      cell(row, p.display_name || p.player_id);
      cell(row, p.tier);
      cell(row, p.consecutive_skips);
    }
    showChosen();
  }

  function showChosen() { text($("chosen-who"), [...chosen].join(", ") || "nobody yet"); }

  function countdown() {
    cancelAnimationFrame(frame);
    const tick = () => {
      if (session && session.window && session.window.deadline) {
        const deadline = new Date(session.window.deadline).getTime();
        const opened = new Date(session.window.open_time).getTime();
        const left = Math.max(0, deadline - Date.now());
        $("countdown-bar").style.width = (100 * left / Math.max(1, deadline - opened)).toFixed(2) + "%";
        text($("countdown-left"), (left / 1000).toFixed(1) + " s");
      }
      frame = requestAnimationFrame(tick);
    };
    tick();
  }

  function resolved(turn) {
    $("last-turn").hidden = false;
    text($("lt-number"), turn.turn_number);
    text($("lt-winner"), turn.winner || "(no winner)");
    const how = [`closed by ${turn.close_reason}`];
    if (turn.tied) how.push(`tie broken by ${turn.tie_break}`);
    text($("lt-how"), how.join(", "));
    const total = Math.max(1, ...turn.tally.map((t) => t.votes));
    const bars = $("lt-tally");
    bars.replaceChildren();
    for (const t of turn.tally) {
      const row = document.createElement("div");
      row.className = "tally-row" + (t.option === turn.winner ? " winner" : "");
      row.dataset.option = t.option;
      row.dataset.votes = t.votes;
      const name = text(document.createElement("span"), t.option);
      name.className = "name";
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.width = (10 * t.votes / total) + "rem";
      row.append(name, fill, text(document.createElement("span"), t.votes));
      bars.append(row);
    }
    chosen = new Set();
    chosenTurn = Number(turn.turn_number) + 1;
    showChosen();
  }

  function logEvent(item) {
    const kind = Object.keys(item).find((k) => !["event_id", "session_id", "event_time"].includes(k));
    if (kind === "countdown_tick") return;
    const li = text(document.createElement("li"), `#${item.event_id} ${kind}`);
    $("events").prepend(li);
    while ($("events").children.length > 30) $("events").lastChild.remove();
  }

  let turnsToken = "";
  async function turnsPage() {
    try {
      const answer = await rpc("ListTurns", { session_id: sessionId, page_size: 10, page_token: turnsToken });
      const body = $("turns").tBodies[0];
      for (const t of answer.turns) {
        const row = body.insertRow();
        cell(row, t.turn_number);
        cell(row, t.winner);
        cell(row, t.tally.map((x) => `${x.option}: ${x.votes}`).join(", "));
        cell(row, t.close_reason);
        cell(row, when(t.resolve_time));
      }
      turnsToken = answer.next_page_token;
      $("turns-more").hidden = !turnsToken;
    } catch (err) { refusal(err); }
  }
  $("turns-more").addEventListener("click", turnsPage);

  async function act(method, body, confirmText) {
    if (confirmText && !confirm(confirmText)) return;
    try {
      await rpc(method, { session_id: sessionId, ...body });
      show(`${method}: done`, true);
    } catch (err) { refusal(err); }
  }
  $("act-pause").addEventListener("click", () => act("PauseSession"));
  $("act-resume").addEventListener("click", () => act("ResumeSession"));
  $("act-end").addEventListener("click", () => act("EndSession", {}, "End this session for good?"));
  $("act-reset").addEventListener("click", () => act("ResetSessionState", { session_state: {} }, "Replace the state with {}?"));

  try {
    await refresh();
  } catch (err) { refusal(err); return; }
  countdown();
  await turnsPage();
  // From the first event: the replay tells who has chosen in the open window. When the
  // oldest events are no longer retained (OUT_OF_RANGE), follow from now instead.
  const onItem = async (item) => {
    if (item.event_id > 0) logEvent(item);
    const choice = item.choice_received;
    if (choice) {
      if (Number(choice.turn_number) !== chosenTurn) { chosen = new Set(); chosenTurn = Number(choice.turn_number); }
      chosen.add(choice.player_id);
      showChosen();
    }
    if (item.turn_resolved) {
      resolved(item.turn_resolved);
      $("turns").tBodies[0].replaceChildren();
      turnsToken = "";
      await turnsPage();
    }
    if (item.event_id > 0) scheduleRefresh();
  };
  let stop = watch(sessionId, 0, onItem, (err) => {
    if (err.code === "OUT_OF_RANGE") stop = watch(sessionId, null, onItem, refusal);
    else refusal(err);
  });
  leave = () => { stop(); cancelAnimationFrame(frame); };
}

async function servicePage() {
  render("t-service");
  async function refresh() {
    try {
      const s = await rpc("GetServiceStats", {});
      const states = document.querySelector("#svc-states tbody");
      states.replaceChildren();
      for (const row of s.sessions_by_state) {
        const tr = states.insertRow();
        tr.dataset.state = row.state;
        cell(tr, row.state);
        cell(tr, row.count);
      }
      const kinds = document.querySelector("#svc-persistence tbody");
      kinds.replaceChildren();
      for (const row of s.sessions_by_persistence) {
        const tr = kinds.insertRow();
        tr.dataset.persistence = row.persistence;
        tr.insertCell().append(persistenceIcon(row.persistence), " " + row.persistence);
        cell(tr, row.count);
      }
      const figures = document.querySelector("#svc-figures tbody");
      figures.replaceChildren();
      const lines = [
        ["players", s.player_count], ["open windows", s.open_windows], ["watchers", s.watchers],
        ["store", s.store], ["version", s.version], ["outbox pending", s.outbox_pending],
        ["outbox lag", s.outbox_lag || "0s"], ["outbox parked", s.outbox_parked],
        ["graph unreachable", s.graph_unreachable || "0s"],
      ];
      for (const [name, value] of lines) {
        const tr = figures.insertRow();
        tr.dataset.figure = name;
        cell(tr, name);
        cell(tr, value);
      }
    } catch (err) { refusal(err); }
  }
  await refresh();
  const timer = setInterval(refresh, 2000);
  leave = () => clearInterval(timer);
}

function createPage() {
  render("t-create");
  const form = document.getElementById("create-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = form.elements;
    const settings = {
      window_duration: `${f.window_seconds.value || 10}s`,
      early_close: f.early_close.checked,
      tie_break: f.tie_break.value,
    };
    if (f.persistence.value) settings.persistence = f.persistence.value;
    const options = f.options.value.split(",").map((o) => o.trim()).filter(Boolean);
    try {
      const s = await rpc("CreateSession", {
        session_id: f.session_id.value.trim(),
        session: { title: f.title.value, current_options: options, settings },
      });
      location.hash = "#/session/" + encodeURIComponent(s.session_id);
    } catch (err) { refusal(err); }
  });
}

// --- start --------------------------------------------------------------------------------

async function identify() {
  const response = await fetch("/api/whoami", { headers: headers() });
  const answer = await response.json();
  if (!response.ok) {
    whoami = null;
    signIn();
    if (token()) show(`${answer.code}: ${answer.message}`);
    return false;
  }
  whoami = answer;
  document.getElementById("nav").hidden = false;
  text(document.getElementById("who"), `${answer.store} store` + (answer.caller ? ` · signed in as ${answer.caller}` : ""));
  return true;
}

function route() {
  if (!whoami) return;
  const [path] = location.hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "session" && parts[1]) sessionPage(decodeURIComponent(parts[1]));
  else if (parts[0] === "service") servicePage();
  else if (parts[0] === "create") createPage();
  else sessionsPage();
}

window.addEventListener("hashchange", route);
identify().then((ok) => { if (ok) route(); });
