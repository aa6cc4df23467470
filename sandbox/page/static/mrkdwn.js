// Slack mrkdwn to HTML: mentions, links, date tokens, *bold* _italic_ ~strike~ `code` ```pre```, > quotes, :emoji:.
(() => {
"use strict";

const EMOJI = {
  warning: "⚠️", x: "❌", no_entry: "⛔", information_source: "ℹ️", white_check_mark: "✅",
  rotating_light: "🚨", hourglass_flowing_sand: "⏳", hourglass: "⌛", white_square: "⬜",
  white_circle: "⚪", red_circle: "🔴", large_green_circle: "🟢", point_right: "👉", lock: "🔒",
  interrobang: "⁉️", grey_question: "❔", fast_forward: "⏩", electric_plug: "🔌",
  closed_lock_with_key: "🔐", boom: "💥", arrows_counterclockwise: "🔄", pushpin: "📌", eyes: "👀",
  "+1": "👍", thumbsup: "👍", "-1": "👎", heavy_check_mark: "✔️", pager: "📟", bell: "🔔",
  memo: "📝", page_facing_up: "📄", large_yellow_circle: "🟡", large_orange_circle: "🟠",
  black_circle: "⚫", fire: "🔥", tada: "🎉", rocket: "🚀", construction: "🚧", clipboard: "📋",
  telephone_receiver: "📞", busts_in_silhouette: "👥", bust_in_silhouette: "👤", mega: "📣",
  loudspeaker: "📢", heavy_minus_sign: "➖", arrow_right: "➡️", stopwatch: "⏱️", alarm_clock: "⏰",
  floppy_disk: "💾", package: "📦", wrench: "🔧", hammer_and_wrench: "🛠️", mag: "🔍", link: "🔗",
  skull: "💀", test_tube: "🧪", repeat: "🔁", pause_button: "⏸️", stop_sign: "🛑", sos: "🆘",
  ballot_box_with_check: "☑️", spiral_note_pad: "🗒️", calendar: "📆", dart: "🎯", shield: "🛡️",
  zzz: "💤", sunrise: "🌅", no_bell: "🔕",
};

function escapeHtml(s) {
  // Slack text arrives with &amp; &lt; &gt; already escaped; keep those, escape the rest.
  return String(s)
    .replace(/&(?!(amp|lt|gt|quot|#\d+);)/g, "&amp;")
    .replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function emojify(html) {
  return html.replace(/:([a-z0-9_+\-']+):/g, (m, name) => (EMOJI[name] ? `<span class="emoji" title=":${name}:">${EMOJI[name]}</span>` : m));
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const pad = (n) => String(n).padStart(2, "0");
function ordinal(n) {
  const s = ["th", "st", "nd", "rd"], v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}
function sameDay(a, b) { return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate(); }
function pretty(d, fallback) {
  const today = new Date();
  const yesterday = new Date(today.getTime() - 86400000), tomorrow = new Date(today.getTime() + 86400000);
  if (sameDay(d, today)) return "today";
  if (sameDay(d, yesterday)) return "yesterday";
  if (sameDay(d, tomorrow)) return "tomorrow";
  return fallback;
}
function ago(d) {
  const secs = Math.round((Date.now() - d.getTime()) / 1000), abs = Math.abs(secs);
  const [n, unit] = abs < 60 ? [abs, "second"] : abs < 3600 ? [Math.round(abs / 60), "minute"] : abs < 86400 ? [Math.round(abs / 3600), "hour"] : [Math.round(abs / 86400), "day"];
  const phrase = `${n} ${unit}${n === 1 ? "" : "s"}`;
  return secs >= 0 ? `${phrase} ago` : `in ${phrase}`;
}

// <!date^1392734382^{date_short_pretty} at {time}|fallback>, in the viewer's time zone as Slack does.
function formatDateToken(epoch, format) {
  const d = new Date(Number(epoch) * 1000);
  if (Number.isNaN(d.getTime())) return null;
  const dateNum = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const date = `${MONTHS[d.getMonth()]} ${ordinal(d.getDate())}, ${d.getFullYear()}`;
  const dateShort = `${MONTHS[d.getMonth()].slice(0, 3)} ${d.getDate()}, ${d.getFullYear()}`;
  const dateLong = `${d.toLocaleDateString("en-US", { weekday: "long" })}, ${date}`;
  const tokens = {
    date_num: dateNum, date, date_short: dateShort, date_long: dateLong,
    date_pretty: pretty(d, date), date_short_pretty: pretty(d, dateShort), date_long_pretty: pretty(d, dateLong),
    time: `${pad(d.getHours())}:${pad(d.getMinutes())}`,
    time_secs: `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`,
    ago: ago(d),
  };
  return format.replace(/\{(\w+)\}/g, (m, k) => (k in tokens ? tokens[k] : m));
}

function renderToken(inner, ctx) {
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const user = ctx.users[id];
    return `<span class="mention" data-user="${escapeHtml(id)}">@${escapeHtml(user ? user.name : label || id)}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const chan = ctx.channels[id];
    return `<span class="mention">#${escapeHtml(label || (chan ? chan.name : id))}</span>`;
  }
  if (target.startsWith("!subteam^")) {
    const id = target.slice("!subteam^".length);
    const handle = label || (ctx.usergroups[id] ? "@" + ctx.usergroups[id] : id);
    return `<span class="mention group">${escapeHtml(handle.startsWith("@") ? handle : "@" + handle)}</span>`;
  }
  if (target.startsWith("!date^")) {
    const parts = target.split("^");
    const text = formatDateToken(parts[1], parts[2] || "{date_num}");
    const shown = escapeHtml(text === null ? label || "" : text);
    const link = parts[3] && /^https?:\/\//.test(parts[3]) ? parts[3] : null;
    const title = escapeHtml(label || "");
    return link ? `<a class="date" href="${escapeHtml(link)}" title="${title}" target="_blank" rel="noopener">${shown}</a>`
      : `<time class="date" title="${title}">${shown}</time>`;
  }
  if (target.startsWith("!")) {
    const word = target.slice(1).split("^")[0];
    return `<span class="mention group">@${escapeHtml(label || word)}</span>`;
  }
  if (/^(https?:|mailto:)/.test(target)) {
    return `<a href="${escapeHtml(target)}" target="_blank" rel="noopener">${escapeHtml(label || target)}</a>`;
  }
  return escapeHtml(`<${inner}>`);
}

function splitOnce(s, sep) {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
}

function inlineFormat(html) {
  return html
    .replace(/(^|[\s(>])\*(?!\s)([^*\n]+?)\*(?=$|[\s).,:;!?<])/g, "$1<strong>$2</strong>")
    .replace(/(^|[\s(>])_(?!\s)([^_\n]+?)_(?=$|[\s).,:;!?<])/g, "$1<em>$2</em>")
    .replace(/(^|[\s(>])~(?!\s)([^~\n]+?)~(?=$|[\s).,:;!?<])/g, "$1<del>$2</del>");
}

// mrkdwn -> HTML. ctx: {users: {id: user}, channels: {id: channel}, usergroups: {id: handle}}.
function mrkdwn(text, ctx) {
  const slots = [];
  const keep = (html) => `\u0000${slots.push(html) - 1}\u0000`;
  let s = String(text || "");
  s = s.replace(/```([\s\S]*?)```/g, (m, code) => keep(`<pre>${escapeHtml(code.replace(/^\n/, ""))}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (m, code) => keep(`<code>${escapeHtml(code)}</code>`));
  s = s.replace(/<([^<>\n]+)>/g, (m, inner) => keep(renderToken(inner, ctx)));
  const lines = escapeHtml(s).split("\n");
  let html = "", quote = [];
  const flush = () => { if (quote.length) { html += `<blockquote>${quote.join("<br>")}</blockquote>`; quote = []; } };
  lines.forEach((line, i) => {
    const formatted = emojify(inlineFormat(line.replace(/^&gt; ?/, "")));
    if (line.startsWith("&gt;")) { quote.push(formatted); return; }
    flush();
    html += formatted + (i < lines.length - 1 ? "<br>" : "");
  });
  flush();
  return html.replace(/\u0000(\d+)\u0000/g, (m, i) => slots[Number(i)]);
}

function plainText(obj) {
  if (!obj) return "";
  const html = escapeHtml(obj.text || "");
  return obj.emoji === false ? html : emojify(html);
}

function textObject(obj, ctx) {
  if (!obj) return "";
  return obj.type === "mrkdwn" ? mrkdwn(obj.text, ctx) : plainText(obj);
}

window.Mrkdwn = { mrkdwn, plainText, textObject, escapeHtml, emojify, formatDateToken, EMOJI };
})();
