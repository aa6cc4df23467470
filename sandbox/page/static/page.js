// The sandbox page: a Slack-like client over the fake workspace. State arrives by Server-Sent Events;
// every action is POSTed to the page's server, which sends the bot what Slack would send.
(() => {
"use strict";

const { el, renderBlocks, confirmDialog, collectInputs } = window.BlockKit;
const REACTIONS = ["pushpin", "eyes", "white_check_mark", "+1"];

const ui = {
  user: new URLSearchParams(location.search).get("user") || localStorage.getItem("sandbox-user") || "",
  channel: null,          // open conversation id
  thread: null,           // open thread root ts
  state: null,
  source: null,
  nodes: new Map(),       // message key -> {sig, node}: unchanged messages keep their DOM (and open selects)
  modal: null,            // {id, hash, node}
};

function fmtContext(state) {
  const users = {}, channels = {};
  for (const u of state.users) users[u.id] = u;
  users[state.bot_user] = { id: state.bot_user, name: "rollback-bot", real_name: "Rollback Bot" };
  for (const c of state.channels) channels[c.id] = c;
  return { users, channels, usergroups: state.usergroups, userList: state.users };
}

// -- talking to the page server -------------------------------------------------------------------
async function post(action, body) {
  const resp = await fetch(`/page/api/${action}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await resp.json();
  if (!data.ok) { toast(data.error || "something went wrong"); return null; }
  return data;
}

let toastTimer = null;
function toast(message) {
  const t = document.getElementById("toast");
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
}

function connect() {
  if (ui.source) ui.source.close();
  const conn = document.getElementById("conn");
  conn.textContent = "connecting…";
  ui.source = new EventSource(`/page/events?user=${encodeURIComponent(ui.user)}`);
  ui.source.addEventListener("state", (e) => {
    const state = JSON.parse(e.data);
    if (state.error) { toast(state.error); return; }
    conn.textContent = state.bot_ready ? "live" : "starting the bot…";
    conn.className = "conn " + (state.bot_ready ? "ok" : "wait");
    render(state);
  });
  ui.source.onerror = () => { conn.textContent = "reconnecting…"; conn.className = "conn wait"; };
}

// -- rendering -------------------------------------------------------------------------------------
function render(state) {
  ui.state = state;
  if (ui.user !== state.me) { ui.user = state.me; }
  if (!ui.channel || !state.channels.some((c) => c.id === ui.channel)) ui.channel = state.home_channel;
  renderSwitcher(state);
  renderSidebar(state);
  renderChannel(state);
  renderThread(state);
  renderModal(state);
  renderHosts(state);
  renderSlackFaults(state);
  renderWire(state);
}

function roleLabel(role) { return role === "member" ? "" : ` — ${role}`; }

function renderSwitcher(state) {
  const sel = document.getElementById("user-switch");
  const sig = JSON.stringify([state.users, state.me]);
  if (sel.dataset.sig === sig) return;
  sel.dataset.sig = sig;
  sel.replaceChildren(...state.users.map((u) => el("option", { value: u.id, selected: u.id === state.me, text: `${u.real_name} (@${u.name})${roleLabel(u.role)}` })));
}

function renderSidebar(state) {
  const item = (c) => el("li", {}, el("button", {
    type: "button", class: "conv" + (c.id === ui.channel ? " active" : ""), "aria-current": c.id === ui.channel ? "page" : null,
    onclick: () => { ui.channel = c.id; ui.thread = null; render(ui.state); },
    text: c.is_im ? c.label : `# ${c.name}`,
  }));
  document.getElementById("channel-list").replaceChildren(...state.channels.filter((c) => !c.is_im).map(item));
  document.getElementById("dm-list").replaceChildren(...state.channels.filter((c) => c.is_im).map(item));
  const chan = state.channels.find((c) => c.id === ui.channel);
  document.getElementById("channel-title").textContent = chan ? (chan.is_im ? chan.label : `# ${chan.name}`) : "";
  document.getElementById("composer-text").setAttribute("aria-label", chan ? `Message ${chan.is_im ? chan.label : "#" + chan.name}` : "Message");
}

function isTopLevel(m) { return !m.thread_ts || m.thread_ts === m.ts || m.subtype === "thread_broadcast"; }

function renderChannel(state) {
  const msgs = state.messages.filter((m) => m.channel === ui.channel && (m.ephemeral ? !m.thread_ts : isTopLevel(m)));
  const hiddenFor = {};
  for (const m of state.messages) {
    if (m.ephemeral && m.channel === ui.channel && m.thread_ts) hiddenFor[m.thread_ts] = (hiddenFor[m.thread_ts] || 0) + 1;
  }
  fillList(document.getElementById("channel-messages"), msgs, "c", { inThread: false, hiddenFor });
}

function renderThread(state) {
  const pane = document.getElementById("thread-pane");
  const root = ui.thread && state.messages.find((m) => m.channel === ui.channel && m.ts === ui.thread && !m.ephemeral);
  if (!root) { pane.hidden = true; ui.thread = null; return; }
  pane.hidden = false;
  const msgs = state.messages.filter((m) => m.channel === ui.channel && (m.ts === root.ts && !m.ephemeral || m.thread_ts === root.ts && m.ts !== root.ts));
  fillList(document.getElementById("thread-messages"), msgs, "t", { inThread: true, hiddenFor: {} });
}

function fillList(container, msgs, prefix, opts) {
  const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 40;
  const me = ui.state.me;
  const wanted = msgs.map((m) => {
    const key = `${prefix}:${m.channel}:${m.ts}:${m.ephemeral ? "e" : "m"}`;
    const sig = JSON.stringify([m, me, opts.hiddenFor[m.ts] || 0, ui.state.users.length]);
    const cached = ui.nodes.get(key);
    if (cached && cached.sig === sig) return cached.node;
    const node = messageEl(m, opts);
    ui.nodes.set(key, { sig, node });
    return node;
  });
  const same = wanted.length === container.children.length && wanted.every((n, i) => container.children[i] === n);
  if (!same) container.replaceChildren(...wanted);
  if (atBottom || !same && prefix === "t") container.scrollTop = container.scrollHeight;
}

function author(m) {
  if (m.bot) return { name: "Rollback Bot", initial: "R", bot: true };
  const u = ui.state.users.find((x) => x.id === m.user);
  return { name: u ? u.real_name : m.user, initial: (u ? u.real_name : "?").slice(0, 1), bot: false };
}

function clock(ts) {
  const d = new Date(Number(ts.split(".")[0]) * 1000);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function messageEl(m, opts) {
  const state = ui.state;
  const who = author(m);
  const fmt = fmtContext(state);
  const ctx = {
    fmt,
    frozen: false,
    onAction: (block, element, extra) => post("act", {
      user: ui.user, channel: m.channel, ts: m.ts, action_id: element.action_id, block_id: block.block_id,
      value: extra.value ?? null, option: extra.option ?? null,
    }),
  };
  const body = m.blocks && m.blocks.length ? renderBlocks(m.blocks, ctx) : el("div", { class: "text", html: Mrkdwn.mrkdwn(m.text, fmt) });
  const meta = el("div", { class: "meta" },
    el("strong", { class: "author", text: who.name }),
    who.bot ? el("span", { class: "app-tag", text: "APP" }) : null,
    el("time", { class: "clock", datetime: new Date(Number(m.ts.split(".")[0]) * 1000).toISOString(), text: clock(m.ts) }),
    m.edited ? el("span", { class: "edited", text: "(edited)" }) : null,
    m.pinned ? el("span", { class: "pinned", text: "📌 Pinned" }) : null);
  const files = (m.files || []).map((f) => el("a", { class: "file", href: f.url, download: f.name, text: `📄 ${f.title || f.name}` }, el("small", { text: ` ${f.name} · ${f.size} bytes` })));
  const footer = [];
  if (m.ephemeral) {
    footer.push(el("div", { class: "eph-note" }, el("span", { text: "👁 Only visible to you" }),
      el("button", { type: "button", class: "link-btn", text: "Dismiss", onclick: () => post("dismiss", { user: ui.user, ts: m.ts }) })));
  } else {
    footer.push(reactionsEl(m));
    if (!opts.inThread && (m.reply_count || isTopLevel(m) && m.channel.startsWith("C"))) {
      const hidden = opts.hiddenFor[m.ts] || 0;
      footer.push(el("div", { class: "thread-link" },
        el("button", { type: "button", class: "link-btn", onclick: () => openThread(m), text: m.reply_count ? `${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}` : "Reply in thread" }),
        hidden ? el("span", { class: "eph-hint", text: ` · ${hidden} only visible to you` }) : null));
    }
  }
  return el("article", { class: "msg" + (m.ephemeral ? " ephemeral" : ""), "aria-label": `${who.name} at ${clock(m.ts)}`, dataset: { ts: m.ts } },
    el("div", { class: "avatar" + (who.bot ? " bot" : ""), "aria-hidden": "true", text: who.initial }),
    el("div", { class: "msg-body" }, meta, body, files, footer));
}

function reactionsEl(m) {
  const chips = (m.reactions || []).map((r) => {
    const mine = r.users.includes(ui.user);
    const names = r.users.map((id) => (ui.state.users.find((u) => u.id === id) || { name: id === ui.state.bot_user ? "rollback-bot" : id }).name).join(", ");
    return el("button", { type: "button", class: "reaction" + (mine ? " mine" : ""), "aria-pressed": mine ? "true" : "false", title: `${names} reacted with :${r.name}:`,
      "aria-label": `:${r.name}: ${r.count}`, onclick: () => post("react", { user: ui.user, channel: m.channel, ts: m.ts, name: r.name }) },
    el("span", { html: Mrkdwn.emojify(`:${r.name}:`) }), ` ${r.count}`);
  });
  const picker = el("span", { class: "picker", hidden: true }, REACTIONS.map((name) => el("button", {
    type: "button", class: "reaction", "aria-label": `React with :${name}:`, html: Mrkdwn.emojify(`:${name}:`),
    onclick: () => { picker.hidden = true; post("react", { user: ui.user, channel: m.channel, ts: m.ts, name }); },
  })));
  const add = el("button", { type: "button", class: "reaction add", "aria-label": "Add reaction", text: "☺+", onclick: () => { picker.hidden = !picker.hidden; } });
  return el("div", { class: "reactions" }, chips, add, picker);
}

function openThread(m) {
  ui.thread = m.ts;
  renderThread(ui.state);
  document.getElementById("thread-text").focus();
}

function renderModal(state) {
  const view = state.views[0];
  if (!view) { if (ui.modal) { ui.modal.node.remove(); ui.modal = null; } return; }
  if (ui.modal && ui.modal.id === view.id && ui.modal.hash === view.hash) return;
  if (ui.modal) ui.modal.node.remove();
  const v = view.view;
  const fmt = fmtContext(state);
  const form = el("form", { class: "modal-body" }, renderBlocks(v.blocks, { fmt, inView: true, onAction: () => {} }));
  const close = () => post("close_view", { user: ui.user, view_id: view.id });
  const titleId = "modal-title-" + view.id;
  const dialog = el("div", { class: "dialog modal", role: "dialog", "aria-modal": "true", "aria-labelledby": titleId },
    el("div", { class: "modal-head" }, el("h2", { id: titleId, html: Mrkdwn.plainText(v.title) }),
      el("button", { type: "button", class: "icon-btn", "aria-label": "Close", text: "✕", onclick: close })),
    form,
    el("div", { class: "dialog-buttons" },
      el("button", { type: "button", class: "btn", onclick: close, html: Mrkdwn.plainText(v.close || { text: "Cancel" }) }),
      v.submit ? el("button", { type: "submit", class: "btn primary", html: Mrkdwn.plainText(v.submit) }) : null));
  const submitBtn = dialog.querySelector("button[type=submit]");
  const submit = async (e) => {
    e.preventDefault();
    for (const err of form.querySelectorAll(".b-error")) { err.hidden = true; err.textContent = ""; }
    if (submitBtn) submitBtn.disabled = true;
    const answer = await post("submit", { user: ui.user, view_id: view.id, values: collectInputs(form) });
    if (submitBtn) submitBtn.disabled = false;
    if (answer && answer.errors) {
      for (const [blockId, message] of Object.entries(answer.errors)) {
        const err = form.querySelector(`[data-block-id="${CSS.escape(blockId)}"] .b-error`);
        if (err) { err.textContent = message; err.hidden = false; } else toast(message);
      }
    }
  };
  form.addEventListener("submit", submit);
  if (submitBtn) submitBtn.addEventListener("click", submit);
  const node = el("div", { class: "backdrop" }, dialog);
  document.getElementById("overlay-root").append(node);
  ui.modal = { id: view.id, hash: view.hash, node };
  const first = form.querySelector("input, textarea, select");
  if (first) first.focus();
}

function renderHosts(state) {
  const root = document.getElementById("hosts");
  const sig = JSON.stringify(state.hosts);
  if (root.dataset.sig === sig) return;
  root.dataset.sig = sig;
  if (!state.hosts.length) { root.replaceChildren(el("p", { class: "muted", text: "starting the sandbox hosts…" })); return; }
  root.replaceChildren(...state.hosts.map((h) => el("section", { class: "host", "aria-label": `${h.environment} host` },
    el("h3", {}, h.environment, el("span", { class: `pill ${h.app}`, text: `app ${h.app}` })),
    el("dl", { class: "facts" },
      el("dt", { text: "DB" }), el("dd", { class: "era", text: h.era }),
      el("dt", { text: "rows" }), el("dd", { text: Object.entries(h.counts).map(([k, v]) => `${k} ${v}`).join(" · ") || "—" }),
      el("dt", { text: "sha256" }), el("dd", { class: "mono", text: h.db_sha256.slice(0, 12) }),
      h.side_files.length ? [el("dt", { text: "next to it" }), el("dd", { class: "mono warn", text: h.side_files.join(", ") })] : null,
      h.db_error ? [el("dt", { text: "error" }), el("dd", { class: "warn", text: h.db_error })] : null,
      el("dt", { text: "app" }), el("dd", { class: "small", text: h.app_detail })),
    el("div", { class: "fault-buttons", role: "group", "aria-label": `Faults for ${h.environment}` }, h.faults.map((f) => el("button", {
      type: "button", class: "fault" + (f.on ? " on" : ""), "aria-pressed": f.toggle ? String(f.on) : null,
      onclick: () => hostFault(h.environment, f),
      text: f.label,
    }))),
    h.last_fault ? el("p", { class: "note mono", text: h.last_fault }) : null)));
}

async function hostFault(environment, fault) {
  const on = fault.toggle ? !fault.on : true;
  if (!fault.toggle) {
    const ok = await confirmDialog({ title: { text: `${fault.label}?` }, text: { type: "mrkdwn", text: `This really changes the *${environment}* sandbox host.` }, confirm: { text: fault.label }, style: "danger" }, { fmt: fmtContext(ui.state) });
    if (!ok) return;
  }
  const answer = await post("host_fault", { environment, kind: fault.kind, on });
  if (answer) toast(answer.note);
}

function renderSlackFaults(state) {
  const root = document.getElementById("slack-faults");
  const sig = JSON.stringify(state.slack_faults);
  if (root.dataset.sig === sig) return;
  root.dataset.sig = sig;
  root.replaceChildren(...state.slack_faults.map((f) => el("button", {
    type: "button", class: "fault" + (f.on ? " on" : ""), "aria-pressed": String(f.on),
    text: f.label + (f.on && f.left !== null ? ` (${f.left} left)` : ""),
    onclick: async () => { const a = await post("slack_fault", { kind: f.kind, on: !f.on }); if (a) toast(a.note); },
  })));
}

function renderWire(state) {
  const root = document.getElementById("wire");
  const sig = JSON.stringify(state.wire);
  if (root.dataset.sig === sig) return;
  root.dataset.sig = sig;
  const name = (id) => (state.users.find((u) => u.id === id) || { name: id }).name;
  root.replaceChildren(...state.wire.slice().reverse().map((w) => el("li", { class: w.status && w.status >= 400 ? "bad" : "" },
    el("span", { class: "mono", text: clock(String(w.at)) }), " ",
    el("strong", { text: w.kind }), ` ${name(w.user)}: ${w.what} `,
    w.status !== null ? el("span", { class: "mono", text: `→ ${w.status} in ${w.ms} ms` }) : null)));
}

// A Slack permalink (https://<workspace>.slack.com/archives/C…/p…) opens that message here, as Slack
// does: the sandbox workspace has no other place to show it, and the page works offline.
const PERMALINK = /^https:\/\/[a-z0-9-]+\.slack\.com\/archives\/([A-Z0-9]+)\/p(\d+)(\d{6})(?:\?(.*))?$/;

const FILE_PERMALINK = /^https:\/\/[a-z0-9-]+\.slack\.com\/files\/[A-Z0-9]+\/(F[A-Z0-9]+)(?:\/|$)/;

function openPermalink(href) {
  const file = FILE_PERMALINK.exec(href);
  if (file) return downloadFile(file[1]);
  const m = PERMALINK.exec(href);
  if (!m || !ui.state || !ui.state.channels.some((c) => c.id === m[1])) return false;
  const ts = `${m[2]}.${m[3]}`;
  const threadTs = new URLSearchParams(m[4] || "").get("thread_ts");
  ui.channel = m[1];
  ui.thread = threadTs && threadTs !== ts ? threadTs : null;
  render(ui.state);
  const pane = ui.thread ? "thread-messages" : "channel-messages";
  const target = document.querySelector(`#${pane} article[data-ts="${CSS.escape(ts)}"]`);
  if (target) {
    target.scrollIntoView({ block: "center" });
    target.classList.add("flash");
    setTimeout(() => target.classList.remove("flash"), 2000);
  }
  return true;
}

// A file's permalink downloads it, as the file link on its message does.
function downloadFile(id) {
  const shared = ui.state && ui.state.messages.flatMap((m) => m.files || []).find((f) => f.id === id);
  if (!shared) return false;
  const link = el("a", { href: shared.url, download: shared.name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  return true;
}

// -- wiring ---------------------------------------------------------------------------------------
function composer(formId, textId, threadOf) {
  const form = document.getElementById(formId), text = document.getElementById(textId);
  const send = async () => {
    const value = text.value.trim();
    if (!value) return;
    const answer = await post("say", { user: ui.user, channel: ui.channel, text: value, thread_ts: threadOf() });
    if (answer) text.value = "";
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); send(); });
  text.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); } });
}

document.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("click", (e) => {
    const link = e.target.closest && e.target.closest("a[href]");
    if (link && openPermalink(link.href)) e.preventDefault();
  });
  composer("composer", "composer-text", () => null);
  composer("thread-composer", "thread-text", () => ui.thread);
  document.getElementById("thread-close").addEventListener("click", () => { ui.thread = null; renderThread(ui.state); });
  document.getElementById("user-switch").addEventListener("change", (e) => {
    ui.user = e.target.value;
    localStorage.setItem("sandbox-user", ui.user);
    ui.nodes.clear();
    if (ui.modal) { ui.modal.node.remove(); ui.modal = null; }
    connect();
  });
  connect();
});
})();
