// Block Kit to DOM, from the blocks the bot really posted. Interactions go through ctx callbacks:
//   ctx.onAction(block, element, {value, option})  a click or a choice (confirm dialogs already shown)
//   ctx.inView                                    rendering a modal: inputs are collected, not sent
(() => {
"use strict";

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "html") node.innerHTML = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

function textOf(obj) { return obj ? String(obj.text || "") : ""; }

function allOptions(element) {
  const out = [...(element.options || [])];
  for (const g of element.option_groups || []) out.push(...(g.options || []));
  return out;
}

// A confirm dialog as Slack draws it; resolves true on confirm.
function confirmDialog(confirm, ctx) {
  return new Promise((resolve) => {
    const root = document.getElementById("overlay-root");
    const close = (answer) => { backdrop.remove(); resolve(answer); };
    const confirmStyle = confirm.style === "danger" ? "danger" : "primary";
    const titleId = "confirm-title-" + Math.random().toString(36).slice(2);
    const dialog = el("div", { class: "dialog", role: "alertdialog", "aria-modal": "true", "aria-labelledby": titleId },
      el("h2", { id: titleId, html: Mrkdwn.plainText(confirm.title || { text: "Are you sure?" }) }),
      el("div", { class: "dialog-text", html: Mrkdwn.textObject(confirm.text, ctx.fmt) }),
      el("div", { class: "dialog-buttons" },
        el("button", { type: "button", class: "btn", onclick: () => close(false), html: Mrkdwn.plainText(confirm.deny || { text: "Cancel" }) }),
        el("button", { type: "button", class: `btn ${confirmStyle}`, onclick: () => close(true), html: Mrkdwn.plainText(confirm.confirm || { text: "Yes" }) })));
    const backdrop = el("div", { class: "backdrop", onkeydown: (e) => { if (e.key === "Escape") close(false); } }, dialog);
    root.append(backdrop);
    dialog.querySelector(".dialog-buttons .btn:last-child").focus();
  });
}

async function fire(block, element, extra, ctx) {
  if (element.confirm && !(await confirmDialog(element.confirm, ctx))) return false;
  ctx.onAction(block, element, extra);
  return true;
}

function buttonEl(block, element, ctx) {
  const style = element.style === "primary" ? "primary" : element.style === "danger" ? "danger" : "";
  const props = {
    type: "button", class: `btn ${style}`, html: Mrkdwn.plainText(element.text),
    dataset: { actionId: element.action_id || "" },
  };
  if (element.url) return el("a", { ...props, href: element.url, target: "_blank", rel: "noopener" });
  if (ctx.inView || ctx.frozen) return el("button", { ...props, disabled: true });
  props.onclick = (e) => fire(block, element, { value: element.value }, ctx).then((sent) => { if (sent) e.target.closest("button").classList.add("pressed"); });
  return el("button", props);
}

function optionEls(element, selected) {
  const opt = (o) => el("option", { value: o.value, selected: Boolean(selected) && o.value === selected, text: textOf(o.text) });
  if (element.option_groups) {
    return element.option_groups.map((g) => el("optgroup", { label: textOf(g.label) }, (g.options || []).map(opt)));
  }
  return (element.options || []).map(opt);
}

function selectEl(block, element, ctx, kind) {
  const placeholder = kind === "overflow" ? "⋯" : textOf(element.placeholder) || "Select an item";
  const initial = element.initial_option ? element.initial_option.value : "";
  const select = el("select", {
    // In a modal the input block's <label> names it; in a message the placeholder does, as people read it.
    class: `select ${kind}`, "aria-label": ctx.inView ? null : kind === "overflow" ? "More actions" : placeholder,
    dataset: { actionId: element.action_id || "", type: element.type }, disabled: ctx.frozen,
  }, el("option", { value: "", disabled: true, selected: !initial, text: placeholder }), optionEls(element, initial));
  if (!ctx.inView) {
    select.addEventListener("change", async () => {
      const chosen = select.value;
      const sent = await fire(block, element, { option: chosen }, ctx);
      if (!sent) select.value = initial;
    });
  }
  return select;
}

function usersSelectEl(element, ctx) {
  const initial = element.initial_user || "";
  return el("select", { class: "select", "aria-label": textOf(element.placeholder) || "Select a person", dataset: { actionId: element.action_id || "", type: element.type } },
    el("option", { value: "", text: textOf(element.placeholder) || "Select a person", selected: !initial }),
    ctx.fmt.userList.map((u) => el("option", { value: u.id, selected: u.id === initial, text: `${u.real_name} (@${u.name})` })));
}

function inputEl(block, element, ctx) {
  const data = { actionId: element.action_id || "", type: element.type };
  switch (element.type) {
    case "plain_text_input": {
      const props = { class: "input", dataset: data, placeholder: textOf(element.placeholder) || null, maxlength: element.max_length || null };
      if (element.multiline) return el("textarea", { ...props, rows: 4, text: element.initial_value || "" });
      return el("input", { ...props, type: "text", value: element.initial_value || "" });
    }
    case "static_select": case "external_select": case "overflow":
      return selectEl(block, element, ctx, element.type === "overflow" ? "overflow" : "static");
    case "multi_static_select": {
      const picked = new Set((element.initial_options || []).map((o) => o.value));
      return el("select", { class: "select", multiple: true, dataset: data }, allOptions(element).map((o) => el("option", { value: o.value, selected: picked.has(o.value), text: textOf(o.text) })));
    }
    case "radio_buttons": case "checkboxes": {
      const multi = element.type === "checkboxes";
      const picked = new Set(multi ? (element.initial_options || []).map((o) => o.value) : element.initial_option ? [element.initial_option.value] : []);
      const name = "g" + Math.random().toString(36).slice(2);
      return el("div", { class: "choices", role: multi ? "group" : "radiogroup", dataset: data },
        allOptions(element).map((o) => el("label", { class: "choice" },
          el("input", { type: multi ? "checkbox" : "radio", name, value: o.value, checked: picked.has(o.value),
            onchange: ctx.inView ? null : () => fire(block, element, { option: o.value }, ctx) }),
          el("span", { html: Mrkdwn.textObject(o.text, ctx.fmt) }),
          o.description ? el("small", { html: Mrkdwn.textObject(o.description, ctx.fmt) }) : null)));
    }
    case "datepicker":
      return el("input", { type: "date", class: "input", dataset: data, value: element.initial_date || "" });
    case "timepicker":
      return el("input", { type: "time", class: "input", dataset: data, value: element.initial_time || "" });
    case "users_select":
      return usersSelectEl(element, ctx);
    case "button":
      return buttonEl(block, element, ctx);
    case "image":
      return imageEl(element);
    default:
      return el("span", { class: "unsupported", text: `[${element.type}]` });
  }
}

function imageEl(element) {
  // Offline by design: only images served by the sandbox itself are loaded.
  const src = String(element.image_url || "");
  if (src.startsWith("/") || src.startsWith("data:")) return el("img", { src, alt: element.alt_text || "", class: "img" });
  return el("span", { class: "img-alt", text: `🖼 ${element.alt_text || "image"}` });
}

function contextEl(element, ctx) {
  if (element.type === "image") return imageEl(element);
  return el("span", { html: Mrkdwn.textObject(element, ctx.fmt) });
}

function richTextEl(block, ctx) {
  const flat = (els) => (els || []).map((e) => {
    if (e.type === "text") return Mrkdwn.escapeHtml(e.text);
    if (e.type === "link") return `<a href="${Mrkdwn.escapeHtml(e.url)}" target="_blank" rel="noopener">${Mrkdwn.escapeHtml(e.text || e.url)}</a>`;
    if (e.type === "user") return Mrkdwn.mrkdwn(`<@${e.user_id}>`, ctx.fmt);
    if (e.type === "emoji") return Mrkdwn.emojify(`:${e.name}:`);
    if (e.elements) return flat(e.elements);
    return "";
  }).join("");
  return el("div", { class: "rich-text", html: flat(block.elements).replace(/\n/g, "<br>") });
}

function blockEl(block, ctx) {
  const data = { blockId: block.block_id || "", blockType: block.type };
  switch (block.type) {
    case "header":
      return el("div", { class: "b-header", role: "heading", "aria-level": "3", dataset: data, html: Mrkdwn.plainText(block.text) });
    case "section": {
      const main = el("div", { class: "b-section-main" },
        block.text ? el("div", { class: "b-text", html: Mrkdwn.textObject(block.text, ctx.fmt) }) : null,
        block.fields ? el("div", { class: "b-fields" }, block.fields.map((f) => el("div", { class: "b-field", html: Mrkdwn.textObject(f, ctx.fmt) }))) : null);
      const accessory = block.accessory ? el("div", { class: "b-accessory" }, inputEl(block, block.accessory, ctx)) : null;
      return el("div", { class: "b-section", dataset: data }, main, accessory);
    }
    case "divider":
      return el("hr", { class: "b-divider", dataset: data });
    case "context":
      return el("div", { class: "b-context", dataset: data }, (block.elements || []).map((e) => contextEl(e, ctx)));
    case "actions":
      return el("div", { class: "b-actions", role: "group", dataset: data }, (block.elements || []).map((e) => inputEl(block, e, ctx)));
    case "image":
      return el("div", { class: "b-image", dataset: data }, imageEl(block));
    case "input": {
      const id = "in-" + Math.random().toString(36).slice(2);
      const control = inputEl(block, block.element || {}, ctx);
      control.id = id;
      // A <label for> names form controls only: a group of checkboxes or radios is named by reference.
      if (control.classList.contains("choices")) control.setAttribute("aria-labelledby", id + "-label");
      return el("div", { class: "b-input", dataset: data },
        el("label", { for: id, id: id + "-label", class: "b-input-label" }, Mrkdwn.plainText(block.label), block.optional ? el("span", { class: "optional", text: " (optional)" }) : null),
        control,
        block.hint ? el("div", { class: "b-hint", html: Mrkdwn.plainText(block.hint) }) : null,
        el("div", { class: "b-error", role: "alert", hidden: true }));
    }
    case "rich_text":
      return richTextEl(block, ctx);
    case "file":
      return el("div", { class: "b-context", dataset: data, text: `📎 remote file ${block.external_id || ""}` });
    default:
      return el("div", { class: "unsupported", dataset: data, text: `[unsupported block: ${block.type}]` });
  }
}

// The words a person would use for a group of buttons: the first line of the text just above it.
function groupName(prev) {
  const raw = prev && prev.type === "section" && prev.text ? prev.text.text : prev && prev.type === "header" ? prev.text.text : "";
  return String(raw || "").split("\n")[0]
    .replace(/<[^|>]*\|([^>]*)>/g, "$1").replace(/<[^>]*>/g, "").replace(/:[a-z0-9_+\-']+:/g, "")
    .replace(/[*_~`\u2003]/g, "").trim().slice(0, 120);
}

function renderBlocks(blocks, ctx) {
  const list = blocks || [];
  return el("div", { class: "blocks" }, list.map((b, i) => {
    const node = blockEl(b, ctx);
    if (b.type === "actions" && groupName(list[i - 1])) node.setAttribute("aria-label", groupName(list[i - 1]));
    return node;
  }));
}

// What a modal's inputs hold now, as block_id -> action_id -> value (a list for multi-choice).
function collectInputs(root) {
  const values = {};
  for (const block of root.querySelectorAll("[data-block-type=input]")) {
    const control = block.querySelector("[data-action-id]");
    if (!control) continue;
    let value;
    if (control.classList.contains("choices")) {
      const picked = [...control.querySelectorAll("input:checked")].map((i) => i.value);
      value = control.dataset.type === "checkboxes" ? picked : picked[0] || null;
    } else if (control.multiple) {
      value = [...control.selectedOptions].map((o) => o.value);
    } else {
      value = control.value;
    }
    (values[block.dataset.blockId] ||= {})[control.dataset.actionId] = value;
  }
  return values;
}

window.BlockKit = { el, renderBlocks, confirmDialog, collectInputs };
})();
