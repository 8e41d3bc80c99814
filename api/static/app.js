// 明责 chat page: vanilla JS, no external assets. Streams POST /v1/chat (SSE over fetch), renders Markdown,
// makes [n] and 《法规》第X条 clickable (GET /v1/documents/{id} in the side panel).
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { sessionId: null, busy: false, sources: [] };

// ---- helpers ------------------------------------------------------------------------------------
function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function el(tag, cls, html) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (html !== undefined) e.innerHTML = html;
  return e;
}

// API key (when the service has ASSISTANT_AUTH_ENABLED): kept in this browser only, sent as X-API-Key
const KEY_STORE = "mingze.apiKey";
function apiHeaders(extra) {
  const h = Object.assign({}, extra || {});
  const k = localStorage.getItem(KEY_STORE);
  if (k) h["X-API-Key"] = k;
  return h;
}

function errorText(body, status) {
  const e = body && body.error;
  if (e && status === 401) return `${e.message_zh}（${e.message_en}）。请在页面右上角填写访问密钥。`;
  if (e) return `${e.message_zh}（${e.message_en}）`;
  return `请求失败 HTTP ${status}`;
}

const LAW_RE = /《([^《》\n]{1,80})》\s*(第[零〇一二三四五六七八九十百千两\d]+条(?:之[一二三四五六七八九十]+)?)/g;

// inline Markdown on already escaped text: code, bold, citations
function inline(s) {
  return s
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(LAW_RE, (m, law, art) => `<a href="#" class="law" data-law="${law}" data-article="${art}">${m}</a>`)
    .replace(/\[(\d{1,3})\]/g, (m, n) => `<a href="#" class="cite" data-n="${n}">[${n}]</a>`);
}

// a small, safe Markdown subset: headings, lists, quotes, tables, paragraphs
function markdown(src) {
  const lines = esc(src).split("\n");
  const out = [];
  let para = [], list = null, quote = [], table = [];
  const flush = () => {
    if (para.length) out.push(`<p>${inline(para.join("<br>"))}</p>`), (para = []);
    if (list) out.push(`<${list.tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join("")}</${list.tag}>`), (list = null);
    if (quote.length) out.push(`<blockquote>${inline(quote.join("<br>"))}</blockquote>`), (quote = []);
    if (table.length) {
      const rows = table.filter((r) => !/^\|?\s*:?-{2,}/.test(r)).map((r) => r.replace(/^\||\|$/g, "").split("|"));
      out.push("<table>" + rows.map((r, i) => "<tr>" + r.map((c) => (i ? `<td>${inline(c.trim())}</td>` : `<th>${inline(c.trim())}</th>`)).join("") + "</tr>").join("") + "</table>");
      table = [];
    }
  };
  for (const line of lines) {
    let m;
    if ((m = line.match(/^(#{1,6})\s+(.*)$/))) { flush(); const h = Math.min(6, m[1].length + 1); out.push(`<h${h}>${inline(m[2])}</h${h}>`); }
    else if ((m = line.match(/^\s*[-*]\s+(.*)$/))) { if (para.length || quote.length || (list && list.tag !== "ul")) flush(); list = list || { tag: "ul", items: [] }; list.items.push(m[1]); }
    else if ((m = line.match(/^\s*\d+[.)]\s+(.*)$/))) { if (para.length || quote.length || (list && list.tag !== "ol")) flush(); list = list || { tag: "ol", items: [] }; list.items.push(m[1]); }
    else if ((m = line.match(/^&gt;\s?(.*)$/))) { if (para.length || list) flush(); quote.push(m[1]); }
    else if (/^\s*\|.*\|\s*$/.test(line)) { if (para.length || list || quote.length) flush(); table.push(line.trim()); }
    else if (!line.trim()) flush();
    else { if (list || quote.length || table.length) flush(); para.push(line); }
  }
  flush();
  return out.join("\n");
}

// ---- health badge -------------------------------------------------------------------------------
async function health() {
  const badge = $("#health");
  try {
    const r = await fetch("/healthz");
    const j = await r.json();
    if (!j.ready) {
      badge.textContent = "索引未就绪";
      badge.className = "badge bad";
      badge.title = j.error ? errorText(j, r.status) : "";
      return;
    }
    const d = j.dense || {};
    const dense = d.enabled ? `，向量 ${d.percent}%` : "";
    badge.textContent = `已就绪：${j.index.chunks} 条${dense}`;
    badge.className = "badge ok";
    badge.title = `文档 ${j.index.documents}；大模型：${j.llm}`;
  } catch (e) {
    badge.textContent = "无法连接服务";
    badge.className = "badge bad";
  }
}

// ---- chat ---------------------------------------------------------------------------------------
function addMessage(role, text) {
  const hint = $("#messages .hint");
  if (hint) hint.remove();
  const box = el("div", `msg ${role}`);
  const body = el("div", "body");
  if (role === "user") body.textContent = text;
  box.appendChild(body);
  $("#messages").appendChild(box);
  box.scrollIntoView({ block: "end" });
  return box;
}

function renderFinal(box, result) {
  const body = box.querySelector(".body");
  body.innerHTML = markdown(result.answer || "");
  box.dataset.final = "1";
  state.sources = result.sources || [];
  box.sourcesList = state.sources;
  const warns = [...(result.warnings || [])];
  for (const rc of result.removed_citations || []) {
    warns.push(`已删除无法核实的引用：${rc.citation || rc.text || JSON.stringify(rc)}${rc.reason ? `（${rc.reason}）` : ""}`);
  }
  if (warns.length) {
    const w = el("div", "warnings");
    w.innerHTML = "<strong>提示</strong><ul>" + warns.map((x) => `<li>${esc(typeof x === "string" ? x : JSON.stringify(x))}</li>`).join("") + "</ul>";
    box.appendChild(w);
  }
  if (result.insufficient) box.classList.add("insufficient");
  renderSources(state.sources);
}

function renderSources(sources) {
  const tab = $("#tab-sources");
  tab.innerHTML = "";
  if (!sources.length) {
    tab.appendChild(el("p", "empty", "本次回答没有引用来源。"));
    return;
  }
  for (const s of sources) {
    const item = el("div", "source");
    const status = s.status && s.status !== "现行有效" ? `<span class="status warn">${esc(s.status)}</span>` : `<span class="status">${esc(s.status || "")}</span>`;
    item.innerHTML = `<a href="#" class="src-link" data-id="${esc(s.id)}"><b>[${s.n}]</b> ${esc(s.heading || s.title)}</a> ${status}
      <div class="meta">${esc([s.issuer, s.date, s.kind].filter(Boolean).join(" · "))}</div>
      <div class="snippet">${esc((s.text || "").slice(0, 140))}${(s.text || "").length > 140 ? "…" : ""}</div>`;
    tab.appendChild(item);
  }
  showTab("sources");
}

// read an SSE stream from a fetch Response: calls onEvent(eventName, data)
async function readSSE(resp, onEvent) {
  const reader = resp.body.getReader();
  const dec = new TextDecoder("utf-8");
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const raw = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = "message";
      const data = [];
      for (const line of raw.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(event, JSON.parse(data.join("\n")));
    }
    if (done) break;
  }
}

async function ask(message) {
  if (state.busy || !message.trim()) return;
  state.busy = true;
  $("#send").disabled = true;
  addMessage("user", message);
  const box = addMessage("assistant", "");
  const body = box.querySelector(".body");
  body.innerHTML = '<span class="typing">检索中…</span>';
  let text = "";
  try {
    let resp;
    for (let attempt = 0; ; attempt++) {
      resp = await fetch("/v1/chat", {
        method: "POST",
        headers: apiHeaders({ "Content-Type": "application/json", Accept: "text/event-stream" }),
        body: JSON.stringify({ message, session_id: state.sessionId, agent: $("#agent").checked, stream: true }),
      });
      if (resp.ok) break;
      let j = null;
      try { j = await resp.json(); } catch (e) { /* not JSON */ }
      if (j && j.error && j.error.code === "unknown_session" && attempt === 0) {
        state.sessionId = null; // expired (e.g. the service restarted): start a new conversation once
        body.innerHTML = '<span class="typing">会话已过期，已开始新对话，检索中…</span>';
        continue;
      }
      throw new Error(errorText(j, resp.status));
    }
    await readSSE(resp, (event, data) => {
      if (event === "delta") {
        text += data.text || "";
        body.innerHTML = markdown(text);
        box.scrollIntoView({ block: "end" });
      } else if (event === "final") {
        state.sessionId = data.result.session_id;
        renderFinal(box, data.result);
      } else if (event === "error") {
        throw new Error(errorText(data, 500));
      }
    });
  } catch (e) {
    box.classList.add("error");
    body.appendChild(el("div", "error-text", esc(e.message || String(e))));
  } finally {
    state.busy = false;
    $("#send").disabled = false;
    box.scrollIntoView({ block: "end" });
  }
}

// ---- side panel: documents ---------------------------------------------------------------------
function showTab(name) {
  document.querySelectorAll(".tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.id === `tab-${name}`));
}

function chunkHtml(c, focus) {
  const status = c.status && c.status !== "现行有效" ? `<span class="status warn">${esc(c.status)}</span>` : "";
  const head = c.article || c.part || c.chapter || "";
  return `<div class="chunk${focus ? " focus" : ""}" id="chunk-${esc(c.id)}"><div class="chunk-head">${esc(head)} ${status}</div>` +
    `<div class="chunk-text">${esc(c.text).replace(/\n/g, "<br>")}</div></div>`;
}

async function openDoc(id) {
  const tab = $("#tab-article");
  showTab("article");
  tab.innerHTML = '<p class="empty">加载中…</p>';
  try {
    const r = await fetch(`/v1/documents/${encodeURIComponent(id)}`, { headers: apiHeaders() });
    const j = await r.json();
    if (!r.ok) throw new Error(errorText(j, r.status));
    const c0 = j.chunks[0];
    const status = j.status && j.status !== "现行有效" ? `<span class="status warn">${esc(j.status)}</span>` : `<span class="status">${esc(j.status)}</span>`;
    tab.innerHTML = `<article class="doc"><h2>${esc(j.focus ? c0.heading : j.title)}</h2>` +
      `<div class="meta">${status} ${esc([j.issuer, j.date].filter(Boolean).join(" · "))}</div>` +
      j.chunks.map((c) => chunkHtml(c, c.id === j.focus)).join("") +
      (j.focus && j.doc_id !== j.focus ? `<p><a href="#" class="full-doc" data-doc="${esc(j.doc_id)}" data-focus="${esc(j.focus)}">查看《${esc(j.title)}》全文</a></p>` : "") +
      "</article>";
  } catch (e) {
    tab.innerHTML = `<p class="error-text">${esc(e.message || String(e))}</p>`;
  }
}

async function openFull(docId, focus) {
  await openDoc(docId);
  const target = document.getElementById(`chunk-${focus}`);
  if (target) { target.classList.add("focus"); target.scrollIntoView({ block: "center" }); }
}

function sourcesOf(a) {
  const box = a.closest(".msg");
  return (box && box.sourcesList) || state.sources;
}

async function openLaw(a) {
  const law = a.dataset.law, art = a.dataset.article;
  const norm = (t) => t.replace(/^中华人民共和国/, "").replace(/[《》〈〉]/g, "");
  const hit = sourcesOf(a).find((s) => s.article === art && (s.title === law || norm(s.title) === norm(law)));
  if (hit) return openDoc(hit.id);
  const tab = $("#tab-article");
  showTab("article");
  tab.innerHTML = '<p class="empty">查找条文…</p>';
  try {
    const r = await fetch("/v1/search", {
      method: "POST",
      headers: apiHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify({ query: `《${law}》${art}`, k: 1, status: "all" }),
    });
    const j = await r.json();
    if (!r.ok) throw new Error(errorText(j, r.status));
    const h = j.hits.find((x) => x.via.includes("direct"));
    if (!h) throw new Error(`未在语料库中找到《${law}》${art}（可能不存在或未收录）`);
    return openDoc(h.id);
  } catch (e) {
    tab.innerHTML = `<p class="error-text">${esc(e.message || String(e))}</p>`;
  }
}

// ---- wiring -------------------------------------------------------------------------------------
document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a");
  if (!a) return;
  if (a.classList.contains("cite")) {
    ev.preventDefault();
    const s = sourcesOf(a).find((x) => String(x.n) === a.dataset.n);
    if (s) openDoc(s.id);
    else { showTab("article"); $("#tab-article").innerHTML = `<p class="error-text">来源 [${esc(a.dataset.n)}] 不在本次回答的来源中</p>`; }
  } else if (a.classList.contains("law")) { ev.preventDefault(); openLaw(a); }
  else if (a.classList.contains("src-link")) { ev.preventDefault(); openDoc(a.dataset.id); }
  else if (a.classList.contains("full-doc")) { ev.preventDefault(); openFull(a.dataset.doc, a.dataset.focus); }
  else if (a.classList.contains("example")) { ev.preventDefault(); $("#input").value = a.textContent; ask(a.textContent); $("#input").value = ""; }
});

document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));

$("#ask").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const v = $("#input").value;
  if (!v.trim()) return;
  $("#input").value = "";
  ask(v);
});

$("#input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $("#ask").requestSubmit();
  }
});

$("#new-session").addEventListener("click", () => {
  state.sessionId = null;
  state.sources = [];
  $("#messages").innerHTML = "";
  $("#tab-sources").innerHTML = '<p class="empty">提问后，这里列出回答引用的条文与案例。</p>';
  $("#tab-article").innerHTML = '<p class="empty">点击回答中的引用查看原文。</p>';
  $("#input").focus();
});

$("#api-key").value = localStorage.getItem(KEY_STORE) || "";
$("#api-key").addEventListener("change", (ev) => {
  const v = ev.target.value.trim();
  if (v) localStorage.setItem(KEY_STORE, v);
  else localStorage.removeItem(KEY_STORE);
});

health();
setInterval(health, 30000);
