// The board's page: post to an entity and watch the conversation, like the site's frontend.
// Everything a server sent is rendered with textContent, never as HTML.
// The page remembers the ids it posted and heals each one with add-to-cache until a poll sees
// it in the recent cache, because the cache can lose writes (the site's lost update).
"use strict";

(function () {
  const params = new URLSearchParams(location.search);
  const POLL_MS = Math.max(200, Number(params.get("poll")) || 1000);
  const LOOKBACK_MS = 60000;
  const HEAL_FIRST_MS = 1000;
  const HEAL_MAX_MS = 8000;
  const SITE_DOMAIN = "saywhatwant.app";
  const hash = new URLSearchParams(location.hash.slice(1));
  const adminToken = hash.get("token") || "";

  const $ = (id) => document.getElementById(id);
  const seen = new Map();   // id -> message, everything a poll returned or we posted
  const own = new Map();    // id -> {state: "sending"|"posted"|"visible", timestamp, nextHealAt, healDelay}
  // The newest timestamp seen that is not ahead of the server's clock: the poll cursor. A
  // message stamped in the future (a wrong client clock, a record from an older board) must
  // not move it, or every poll would ask only for messages newer than that future time.
  let cursor = 0;
  let healing = false;      // one heal at a time, so this page's heals do not race each other

  function newId(ms) {
    let rand = "";
    while (rand.length < 9) rand += Math.random().toString(36).slice(2);
    return ms + "-" + rand.slice(0, 9);
  }

  function setStatus(text, isError) {
    const el = $("status");
    el.textContent = text;
    el.classList.toggle("error", Boolean(isError));
  }

  function render() {
    const list = $("messages");
    const atBottom = list.parentElement.scrollTop + list.parentElement.clientHeight >=
      list.parentElement.scrollHeight - 20;
    const items = Array.from(seen.values()).sort((a, b) => a.timestamp - b.timestamp);
    const fragment = document.createDocumentFragment();
    for (const m of items) fragment.appendChild(renderOne(m));
    list.replaceChildren(fragment);
    if (atBottom) list.parentElement.scrollTop = list.parentElement.scrollHeight;
  }

  function renderOne(m) {
    const li = document.createElement("li");
    li.dataset.id = String(m.id);
    li.className = m["message-type"] === "AI" ? "ai" : "human";
    const who = document.createElement("span");
    who.className = "username";
    who.textContent = String(m.username || "anonymous");
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = String(m.text);
    li.append(who, text);
    const mine = own.get(m.id);
    if (mine) {
      li.classList.add("own");
      li.dataset.state = mine.state;
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = { sending: "sending…", posted: "posted, not visible yet", visible: "✓" }[mine.state];
      li.appendChild(meta);
    }
    return li;
  }

  async function poll() {
    const pendingTs = Array.from(own.values()).filter((o) => o.state === "posted").map((o) => o.timestamp);
    const from = Math.min(cursor, ...pendingTs);
    const after = cursor === 0 ? 0 : Math.max(0, from - LOOKBACK_MS);
    try {
      const r = await fetch("/api/comments?after=" + after + "&limit=1000", { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      // The Date header is the server's clock, to the second (hence the extra second).
      const serverNow = (Date.parse(r.headers.get("Date") || "") || Date.now()) + 1000;
      const body = await r.json();
      const list = Array.isArray(body) ? body : (body.messages || body.comments || []);
      const present = new Set();
      for (const m of list) {
        if (!m || typeof m.id !== "string") continue;
        present.add(m.id);
        seen.set(m.id, m);  // by id: a message seen twice (cache duplicates, overlap) shows once
        const ts = m.timestamp;
        if (typeof ts === "number" && ts > cursor && ts <= serverNow) cursor = ts;
      }
      for (const [id, o] of own) {
        if (o.state !== "visible" && present.has(id)) o.state = "visible";
      }
      setStatus("live · " + seen.size + " messages");
      render();
      healOne();
    } catch (err) {
      setStatus("poll failed: " + err.message + " (retrying)", true);
    }
  }

  async function healOne() {
    if (healing) return;
    const now = Date.now();
    const due = Array.from(own.entries()).find(([, o]) => o.state === "posted" && o.nextHealAt <= now);
    if (!due) return;
    const [id, o] = due;
    healing = true;
    try {
      const headers = { "Content-Type": "application/json" };
      if (adminToken) headers.Authorization = "Bearer " + adminToken;
      await fetch("/api/admin/add-to-cache", { method: "POST", headers, body: JSON.stringify({ messageId: id }) });
    } catch (err) {
      // The next poll tells whether it worked; on failure the backoff below retries it.
    } finally {
      o.healDelay = Math.min(o.healDelay * 2, HEAL_MAX_MS);
      o.nextHealAt = Date.now() + o.healDelay;
      healing = false;
    }
  }

  async function post(message) {
    let delay = 500;
    for (;;) {  // the id is fixed, so a retried POST overwrites the same record
      try {
        const r = await fetch("/api/comments", {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(message),
        });
        if (r.ok) return;
        // 4xx other than 429 will not change on a retry (400 invalid, 413 too large).
        if (r.status >= 400 && r.status < 500 && r.status !== 429) {
          throw new Error("rejected: " + (await r.text()));
        }
        const retry = Number(r.headers.get("Retry-After"));
        if (retry > 0) delay = Math.max(delay, retry * 1000);
      } catch (err) {
        if (String(err.message).startsWith("rejected")) throw err;
      }
      await new Promise((done) => setTimeout(done, delay));
      delay = Math.min(delay * 2, 10000);
    }
  }

  async function send(event) {
    event.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    const now = Date.now();
    const botParams = { entity: $("entity").value };
    const priority = $("priority").value;
    if (priority !== "") botParams.priority = Number(priority);
    const message = {
      id: newId(now), text, timestamp: now, username: $("username").value || "Human",
      color: "080195229", domain: SITE_DOMAIN, language: "en", "message-type": "human", misc: "",
      botParams,
    };
    own.set(message.id, { state: "sending", timestamp: now, nextHealAt: Infinity, healDelay: HEAL_FIRST_MS });
    seen.set(message.id, message);
    $("text").value = "";
    render();
    try {
      await post(message);
      const o = own.get(message.id);
      if (o.state === "sending") o.state = "posted";
      o.nextHealAt = Date.now() + POLL_MS + 200;  // give one poll the chance to see it first
    } catch (err) {
      own.delete(message.id);
      seen.delete(message.id);
      setStatus(err.message, true);
    }
    render();
  }

  async function loadEntities() {
    const select = $("entity");
    try {
      const r = await fetch("/api/board/entities");
      const entities = r.ok ? await r.json() : [];
      for (const e of entities) {
        const option = document.createElement("option");
        option.value = String(e.id);
        option.textContent = String(e.username) + " (" + String(e.id) + ")";
        select.appendChild(option);
      }
    } catch (err) {
      setStatus("could not load entities: " + err.message, true);
    }
    if (!select.options.length) {
      const option = document.createElement("option");
      option.value = "default";
      option.textContent = "default";
      select.appendChild(option);
    }
  }

  async function loop() {
    await poll();
    setTimeout(loop, POLL_MS);
  }

  window.board = { own, seen };  // read by tests and by curious people in the console
  $("composer").addEventListener("submit", send);
  loadEntities().then(loop);
})();
