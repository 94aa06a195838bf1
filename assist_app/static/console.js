// The agent console: type a case, get the procedure's checklist and filled replies, copy a message.
//
// Insights: every answer carries a request_id; the console sends back what the agent did with it
// (opened a candidate or the full article, copied a reply, marked the procedure 有用 / 不对) to
// /api/feedback, and sends the first answer's id as case_id while the agent keeps typing, so a
// case counts once. When the agent works from a procedure the search did not put first (copies
// its reply, ticks its steps, marks it 有用, or opens it after marking the first 不对), the console
// reports `chose` with its rank, once per case and procedure: `kb learn` turns those into
// keywords. Feedback is fire-and-forget: it never holds up the agent.
//
// Safety: the buyer's text and everything derived from it is put on the page as text
// (textContent, Text nodes), never as HTML. The one HTML-ish field, a result's snippet, is
// rebuilt from text with only <mark> recognised (snippetNodes).
"use strict";

(() => {
  const data = JSON.parse(document.getElementById("console-data").textContent);
  const $ = (id) => document.getElementById(id);

  const DEBOUNCE_MS = 250;
  const RESULT_LIMIT = 5;
  const GAP = /【[^【】\n]{1,30}】/g;
  const PLACEHOLDER = /\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/g;
  const LINK = /\[\[([^\[\]]*)\]\]/g;
  const PROFILE_KEY = "kb-assist.profile";
  const REPLIES_PLACEHOLDER = "输入买家消息后，这里显示可以直接复制的回复。";

  const banned = Object.entries(data.banned_phrases).map(([phrase, why]) => ({
    phrase, why, lower: phrase.toLowerCase(),
  }));
  const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  // Gaps and banned phrases, highlighted in every editable reply.
  const HIGHLIGHT = new RegExp(
    [GAP.source, ...banned.map((b) => escapeRegex(b.phrase))].join("|"), "gi");
  const commonReplies = new Map(data.common_replies.map((r) => [r.key, r]));

  const caseBox = $("case");
  const composeBox = $("compose");

  const state = {
    seq: 0,               // id of the latest request; older answers are ignored
    controller: null,
    answer: null,
    overrides: {},        // facts the agent corrected: name -> value
    openId: null,         // the procedure shown
    pinned: false,        // the agent chose it: keep it open while results update
    ticks: new Map(),     // article id -> Set of ticked step texts
    edits: new Map(),     // reply key -> text the agent edited
    texts: new Map(),     // reply key -> current text (filled by the server or edited)
    titles: new Map(),    // reply key -> title shown in the compose list
    parts: [],            // reply keys in the composed message, in the order ticked
    composeManual: false, // the agent edited the composed message by hand
    chips: {},
    profile: loadProfile(),
    caseId: null,         // request_id of this case's first answer
    marks: new Map(),     // article id -> "helpful" | "wrong", for this case
    sent: new Set(),      // feedback already sent (open and copy count once per answer)
    identity: {},         // order, tracking and phone numbers this case is about
    answeredText: null,   // the case text the shown answer is for
    replacing: false,     // the next input replaces the whole case text: a new buyer
    composing: false,     // an input method is composing (pinyin typed, not yet committed)
  };
  // Numbers that tell one buyer's case from the next: a different one means a different case.
  const IDENTITY_SLOTS = ["order_id", "tracking_no", "phone"];

  // ---------------------------------------------------------------- DOM helpers

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "checked" || key === "value" || key === "hidden") node[key] = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  const ENTITIES = { lt: "<", gt: ">", quot: '"', "#x27": "'", "#39": "'", amp: "&" };
  const unescapeHtml = (s) => s.replace(/&(lt|gt|quot|#x27|#39|amp);/g, (_, e) => ENTITIES[e]);

  // The server escapes a snippet and wraps matched words in <mark>: split on exactly those two
  // tags and put everything else back as text.
  function snippetNodes(snippet) {
    const nodes = [];
    let marked = false;
    for (const part of (snippet || "").split(/(<mark>|<\/mark>)/)) {
      if (part === "<mark>") marked = true;
      else if (part === "</mark>") marked = false;
      else if (part) {
        const text = unescapeHtml(part);
        nodes.push(marked ? el("mark", { text }) : document.createTextNode(text));
      }
    }
    return nodes;
  }

  // Step text with [[id]] links to the article pages (unknown ids stay plain text).
  function linkedNodes(text) {
    const nodes = [];
    let last = 0;
    for (const match of text.matchAll(LINK)) {
      nodes.push(text.slice(last, match.index));
      const id = match[1].trim();
      nodes.push(data.titles[id]
        ? el("a", { href: `/articles/${encodeURIComponent(id)}`, target: "_blank", rel: "noopener",
                    text: data.titles[id] })
        : id);
      last = match.index + match[0].length;
    }
    nodes.push(text.slice(last));
    return nodes.filter((n) => n !== "");
  }

  function highlightNodes(text) {
    const nodes = [];
    let last = 0;
    for (const match of text.matchAll(HIGHLIGHT)) {
      if (!match[0]) continue;
      nodes.push(text.slice(last, match.index));
      const isGap = match[0].startsWith("【");
      nodes.push(el("mark", { class: isGap ? "gap" : "banned", text: match[0] }));
      last = match.index + match[0].length;
    }
    // A trailing newline needs a character after it to take up a line in the backdrop.
    nodes.push(text.slice(last) + (text.endsWith("\n") ? " " : ""));
    return nodes;
  }

  const gapsIn = (text) => [...new Set(text.match(GAP) || [])];
  const bannedIn = (text) => {
    const lower = text.toLowerCase();
    return banned.filter((b) => lower.includes(b.lower));
  };

  // A textarea over a backdrop that marks the gaps 【…】 and banned wording in place.
  function editor(textarea, backdrop) {
    const refresh = () => {
      backdrop.replaceChildren(...highlightNodes(textarea.value));
      textarea.style.height = "auto";
      textarea.style.height = `${textarea.scrollHeight + 2}px`;
      backdrop.scrollTop = textarea.scrollTop;
    };
    textarea.addEventListener("input", refresh);
    textarea.addEventListener("scroll", () => { backdrop.scrollTop = textarea.scrollTop; });
    return {
      refresh,
      set(text) { textarea.value = text; refresh(); },
    };
  }

  function checkNodes(text) {
    const gaps = gapsIn(text);
    const found = bannedIn(text);
    const nodes = [];
    if (found.length) {
      nodes.push(el("span", { class: "check-banned",
        text: `禁用说法：${found.map((b) => `“${b.phrase}”`).join("、")}`,
        title: found.map((b) => `${b.phrase}：${b.why}`).join("\n") }));
    }
    if (gaps.length) {
      nodes.push(el("span", { class: "check-gaps", text: `待补 ${gaps.length} 处：${gaps.join("")}` }));
    }
    if (!found.length && !gaps.length && text.trim()) {
      nodes.push(el("span", { class: "check-ok", text: "✓ 可以发送" }));
    }
    return nodes;
  }

  // ---------------------------------------------------------------- agent profile

  function loadProfile() {
    try {
      return JSON.parse(localStorage.getItem(PROFILE_KEY)) || {};
    } catch {
      return {};
    }
  }

  // The agent's own name and shop name fill their gaps in every reply.
  function personalize(text) {
    let out = text;
    for (const slot of ["agent_name", "shop_name"]) {
      const value = (state.profile[slot] || "").trim();
      if (value && data.slot_labels[slot]) out = out.split(`【${data.slot_labels[slot]}】`).join(value);
    }
    return out;
  }

  // Fill a raw template (greeting, closing) the way the server fills a procedure's replies.
  function fillTemplate(text) {
    const slots = state.answer ? state.answer.slots : {};
    return personalize(text.replace(PLACEHOLDER, (_, name) =>
      slots[name] !== undefined ? String(slots[name]) : `【${data.slot_labels[name] || name}】`));
  }

  // ---------------------------------------------------------------- requests

  let timer = null;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(requestAssist, DEBOUNCE_MS);
  }

  // The answer for the text in the box now: waits for a pending or fresh request if needed.
  async function currentAnswer() {
    if (!caseBox.value.trim()) return null;
    if (timer !== null || state.answeredText !== caseBox.value) await requestAssist();
    return state.answeredText === caseBox.value ? state.answer : null;
  }

  async function requestAssist() {
    clearTimeout(timer);
    timer = null;
    const text = caseBox.value;
    if (!text.trim()) {
      showEmpty();
      return;
    }
    const seq = ++state.seq;
    if (state.controller) state.controller.abort();
    const controller = (state.controller = new AbortController());
    setBusy(true);
    let response;
    let body;
    try {
      response = await fetch("/api/assist", {
        credentials: "same-origin",
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ case: text, limit: RESULT_LIMIT, facts: state.overrides,
                               ...(state.caseId ? { case_id: state.caseId } : {}) }),
        signal: controller.signal,
      });
      body = await response.json().catch(() => null); // a login page or a proxy's error is not JSON
    } catch (err) {
      if (err.name !== "AbortError" && seq === state.seq) {
        setBusy(false);
        showNotice("error", "检索失败：连不上服务器，请稍后再试。");
      }
      return;
    }
    if (seq !== state.seq) return; // a newer request is on its way: this answer is stale
    setBusy(false);
    if (!response.ok) {
      showNotice("error", failureMessage(response.status, body));
      return;
    }
    if (!body) {
      showNotice("error", "检索失败：服务器的回答无法读取，请刷新页面后再试。");
      return;
    }
    if (body.kb_version && data.kb_version && body.kb_version !== data.kb_version) {
      showNotice("info", "知识库已更新：刷新页面可获取最新的禁用语和通用话术（当前输入会保留在浏览器里）。");
    } else {
      hideNotice();
    }
    if (isAnotherBuyer(body.slots)) {
      // Same box, another buyer (a new order number): nothing of the last case may carry over.
      const corrected = Object.keys(state.overrides).length > 0;
      forgetCase();
      if (corrected) return requestAssist(); // the answer was tailored with the last case's facts
    }
    rememberIdentity(body.slots);
    state.answer = body;
    state.answeredText = text;
    if (!state.caseId && body.request_id) state.caseId = body.request_id;
    renderAnswer();
  }

  // ---------------------------------------------------------------- one case at a time

  // Two numbers of the same kind belong to different buyers unless one is the other being typed.
  function isAnotherBuyer(slots) {
    return IDENTITY_SLOTS.some((name) => {
      const before = state.identity[name];
      const now = slots && slots[name] !== undefined ? String(slots[name]) : "";
      return before && now && !before.startsWith(now) && !now.startsWith(before);
    });
  }

  function rememberIdentity(slots) {
    for (const name of IDENTITY_SLOTS) {
      if (slots && slots[name] !== undefined) state.identity[name] = String(slots[name]);
    }
  }

  // Everything the agent did for one buyer: corrected facts, ticks, edits, the composition,
  // verdicts. A new case (Alt+N, the box emptied or replaced, another order number) drops it all.
  function forgetCase() {
    if (state.controller) state.controller.abort();
    state.seq += 1;
    state.overrides = {};
    state.ticks.clear();
    state.edits.clear();
    state.texts.clear();
    state.parts = [];
    state.composeManual = false;
    state.caseId = null;
    state.marks.clear();
    state.sent.clear();
    state.identity = {};
    state.answer = null;
    state.answeredText = null;
    state.openId = null;
    state.pinned = false;
    $("copy-notice").hidden = true;
  }

  // What went wrong, for the agent: a sign-in that expired and a missing permission say so.
  function failureMessage(status, body) {
    if (status === 401) return "登录已过期或尚未登录：请刷新页面重新登录后再试（输入的内容会保留）。";
    if (status === 403) return "没有使用坐席助手的权限：请联系管理员开通。";
    return body && body.error ? body.error.message : `检索失败（${status}），请稍后再试。`;
  }

  // ---------------------------------------------------------------- feedback for editors

  // Tell the server what the agent did with the current answer; resolves to whether it was taken.
  async function sendFeedback(action, articleId, replyId, rank) {
    const requestId = state.answer && state.answer.request_id;
    if (!requestId) return false;
    const once = action === "open" || action === "copy";
    const key = [requestId, action, articleId, replyId || ""].join("|");
    if (once && state.sent.has(key)) return true;
    if (once) state.sent.add(key);
    try {
      const response = await fetch("/api/feedback", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ request_id: requestId, action, article_id: articleId,
                               ...(replyId ? { reply_id: replyId } : {}),
                               ...(rank ? { rank } : {}) }),
        keepalive: true, // an article opened in a new tab must not cancel it
      });
      return response.ok;
    } catch {
      return false;
    }
  }

  // The agent works from a procedure the search did not put first: say so once per case and
  // procedure, with where it stood in the answer.
  function reportChoice(articleId) {
    const results = state.answer ? state.answer.results : [];
    const rank = results.findIndex((r) => r.id === articleId) + 1;
    if (rank < 2) return;
    const key = `chose|${state.caseId}|${articleId}`;
    if (state.sent.has(key)) return;
    state.sent.add(key);
    sendFeedback("chose", articleId, null, rank);
  }

  // Reply keys are "article/reply".
  function sendCopies(keys) {
    for (const key of keys) {
      const cut = key.indexOf("/");
      if (cut > 0) {
        sendFeedback("copy", key.slice(0, cut), key.slice(cut + 1));
        reportChoice(key.slice(0, cut));
      }
    }
  }

  function renderVerdict(articleId) {
    const mark = state.marks.get(articleId) || null;
    $("mark-helpful").setAttribute("aria-pressed", String(mark === "helpful"));
    $("mark-wrong").setAttribute("aria-pressed", String(mark === "wrong"));
    const status = $("verdict-status");
    status.classList.remove("failed");
    status.textContent = mark ? `已记录：${mark === "helpful" ? "有用" : "不对"}，谢谢！` : "";
  }

  async function markProcedure(action) {
    const articleId = state.openId;
    if (!articleId) return;
    state.marks.set(articleId, action);
    renderVerdict(articleId);
    if (action === "helpful") reportChoice(articleId);
    const ok = await sendFeedback(action, articleId);
    if (!ok && state.openId === articleId) {
      const status = $("verdict-status");
      status.classList.add("failed");
      status.textContent = "没记上（连不上服务器），可以再点一次";
    }
  }

  $("mark-helpful").addEventListener("click", () => markProcedure("helpful"));
  $("mark-wrong").addEventListener("click", () => markProcedure("wrong"));
  $("proc-link").addEventListener("click", () => {
    if (state.openId) sendFeedback("open", state.openId);
  });

  function setBusy(busy) {
    $("busy").textContent = busy ? "检索中…" : "";
    document.body.classList.toggle("is-busy", busy);
  }

  function showNotice(kind, message) {
    const bar = $("notice-bar");
    bar.className = `notice-bar notice-${kind}`;
    bar.textContent = message;
    bar.hidden = false;
  }

  function hideNotice() {
    $("notice-bar").hidden = true;
  }

  // ---------------------------------------------------------------- facts

  function buildFactChips() {
    const box = $("fact-chips");
    for (const fact of data.facts) {
      let control;
      if (fact.type === "number") {
        control = el("input", { type: "number", min: "0", step: "1", inputmode: "numeric",
                                class: "fact-number", "aria-label": fact.label, placeholder: "未知" });
        control.addEventListener("change", () =>
          setOverride(fact.name, control.value === "" ? null : Number(control.value)));
      } else {
        control = el("select", { "aria-label": fact.label },
          el("option", { value: "", text: "未知" }),
          fact.choices.map((choice) => el("option", { value: choice, text: choice })));
        control.addEventListener("change", () => setOverride(fact.name, control.value || null));
      }
      const reset = el("button", { type: "button", class: "chip-reset", text: "↺", hidden: true,
                                   title: "撤销修改，按案例识别", "aria-label": `撤销${fact.label}的修改` });
      reset.addEventListener("click", () => setOverride(fact.name, null));
      const chip = el("label", { class: "chip chip-unknown", dataset: { fact: fact.name } },
        el("span", { class: "chip-label", text: fact.label }), control);
      const wrap = el("span", { class: "chip-wrap is-unknown" }, chip, reset);
      box.append(wrap);
      state.chips[fact.name] = { wrap, chip, control, reset };
    }
    $("facts-more").addEventListener("click", () => {
      const open = !box.classList.contains("show-unknown");
      box.classList.toggle("show-unknown", open);
      $("facts-more").setAttribute("aria-expanded", String(open));
      showUnknownCount();
    });
    showUnknownCount();
  }

  // Facts not read from the case fold behind one button: the agent opens them to set one.
  function showUnknownCount() {
    const unknown = Object.values(state.chips).filter((c) => c.wrap.classList.contains("is-unknown"));
    const open = $("fact-chips").classList.contains("show-unknown");
    $("facts-more").textContent = open ? "收起未知项 ▴" : `其他 ${unknown.length} 项未知，点开填写 ▾`;
    $("facts-more").hidden = unknown.length === 0;
  }

  function updateFactChips(details) {
    const byName = Object.fromEntries((details || []).map((d) => [d.name, d]));
    for (const fact of data.facts) {
      const { wrap, chip, control, reset } = state.chips[fact.name];
      const detail = byName[fact.name] || {};
      const value = detail.value === null || detail.value === undefined ? "" : String(detail.value);
      if (document.activeElement !== control) control.value = value;
      const source = detail.source || null;
      chip.className = `chip ${source === "agent" ? "chip-agent" : source ? "chip-case" : "chip-unknown"}`;
      chip.title = source === "agent" ? "已由坐席修改"
        : source === "shop" ? "买家没说平台，按店铺设置的本店平台"
        : source ? `从买家消息“${detail.evidence}”识别` : "买家消息里没有读出，可以手动选择";
      reset.hidden = source !== "agent";
      // A chip being edited stays where it is until the agent leaves it.
      if (!wrap.contains(document.activeElement)) wrap.classList.toggle("is-unknown", !source);
    }
    showUnknownCount();
  }

  function setOverride(name, value) {
    if (value === null || value === "" || Number.isNaN(value)) delete state.overrides[name];
    else state.overrides[name] = value;
    if (caseBox.value.trim()) requestAssist();
  }

  const SPEAKERS = { buyer: "买家", agent: "客服", unknown: "未分辨" };

  // A pasted chat: which lines were read as the buyer's (facts and slots come from those).
  function renderTurns(turns) {
    const list = turns || [];
    const box = $("turns");
    box.hidden = list.length < 2;
    if (box.hidden) return;
    const buyer = list.filter((t) => t.speaker === "buyer").length;
    $("turns-summary").textContent = `聊天记录 ${list.length} 段：${buyer} 段读作买家的话（信息从这些段识别）`;
    $("turn-list").replaceChildren(...list.map((turn) => el("li", { class: `turn turn-${turn.speaker}` },
      el("span", { class: "turn-speaker", text: SPEAKERS[turn.speaker] || turn.speaker }),
      el("span", { class: "turn-text", text: turn.text }))));
  }

  function renderSlots(slots) {
    const entries = Object.entries(slots || {}).filter(([name]) => name !== "platform");
    $("slots").replaceChildren(...(entries.length
      ? [el("span", { class: "slots-label", text: "已读出：" }),
         ...entries.map(([name, value]) => el("span", { class: "slot-value" },
           el("span", { class: "slot-name", text: data.slot_labels[name] || name }), String(value)))]
      : []));
  }

  // ---------------------------------------------------------------- candidates

  function statusBadge(status) {
    if (status === "upcoming") return el("span", { class: "badge badge-upcoming", text: "即将生效" });
    if (status === "expired") return el("span", { class: "badge badge-expired", text: "已失效" });
    return null;
  }

  // Why a procedure was picked, in words: the words it shares with the case, the closest
  // phrasing, and the facts that raised or lowered it. Single characters say nothing.
  function whyNodes(why) {
    const terms = why.matched_terms.filter((t) => t.length > 1).slice(0, 8);
    return el("span", { class: "why" },
      terms.length ? el("span", { class: "why-terms" },
        el("span", { class: "why-label", text: "消息里提到" }),
        terms.map((t) => el("span", { class: "term", text: t }))) : null,
      why.closest_phrasing ? el("span", { class: "why-phrasing", text: `像“${why.closest_phrasing}”` }) : null,
      why.facts.map((note) => el("span", {
        class: note.effect > 0 ? "fact-note up" : "fact-note down",
        text: `${note.effect > 0 ? "↑" : "↓"} ${note.text}`,
      })));
  }

  // How sure the match is, in words an agent acts on: scores are relative to the best (1.0 plus
  // bonuses), so the label reads the gap to the next candidate, not the number itself.
  function confidence(results, index) {
    if (state.answer && state.answer.no_good_match) return { level: "low", text: "可能相关" };
    const best = results[0] ? results[0].score : 0;
    const score = results[index] ? results[index].score : 0;
    if (best <= 0) return { level: "low", text: "把握不大" };
    if (index === 0) {
      const next = results[1] ? results[1].score : 0;
      const margin = (best - next) / best;
      if (margin >= 0.35) return { level: "high", text: "很可能是这个" };
      if (margin >= 0.12) return { level: "mid", text: "比较可能" };
      return { level: "low", text: "和下一个接近，请核对" };
    }
    const ratio = score / best;
    if (ratio >= 0.85) return { level: "mid", text: "也很接近" };
    if (ratio >= 0.5) return { level: "low", text: "可能相关" };
    return { level: "low", text: "关联较弱" };
  }

  function renderCandidates() {
    const results = state.answer ? state.answer.results : [];
    const unsure = Boolean(state.answer && state.answer.no_good_match && results.length);
    $("candidates-label").textContent = unsure ? "可能相关" : "候选流程";
    $("candidates-title").classList.toggle("unsure", unsure);
    $("candidate-list").replaceChildren(...results.map((result, i) => el("li", {
      class: result.id === state.openId ? "candidate open" : "candidate",
    }, el("button", {
      type: "button", class: "candidate-button", "aria-keyshortcuts": `Alt+${i + 1}`,
      "aria-current": result.id === state.openId ? "true" : null,
      onclick: () => openCandidate(result.id),
    },
    el("kbd", { class: "candidate-key", text: String(i + 1), title: `Alt+${i + 1}` }),
    el("span", { class: "candidate-main" },
      el("span", { class: "candidate-title", text: result.title, title: result.title }),
      el("span", { class: "candidate-meta" },
        el("span", { class: "category-tag", text: result.category_name }),
        statusBadge(result.status),
        confidenceNode(results, i)),
      el("span", { class: "snippet" }, snippetNodes(result.snippet)))))));
  }

  function confidenceNode(results, index) {
    const { level, text } = confidence(results, index);
    return el("span", { class: `confidence confidence-${level}`, text });
  }

  function openCandidate(id) {
    state.openId = id;
    state.pinned = true;
    sendFeedback("open", id);
    // Marked the first 不对 and picked another: that one is the agent's choice.
    const first = state.answer && state.answer.results[0];
    if (first && first.id !== id && state.marks.get(first.id) === "wrong") reportChoice(id);
    renderCandidates();
    renderProcedure();
  }

  function moveCandidate(delta) {
    const results = state.answer ? state.answer.results : [];
    if (!results.length) return;
    const index = results.findIndex((r) => r.id === state.openId);
    const next = (index + delta + results.length) % results.length;
    openCandidate(results[next].id);
  }

  // ---------------------------------------------------------------- procedure

  function renderAnswer() {
    const answer = state.answer;
    updateFactChips(answer.fact_details);
    renderTurns(answer.turns);
    renderSlots(answer.slots);
    const ids = answer.results.map((r) => r.id);
    if (!state.pinned || !ids.includes(state.openId)) {
      // No good match: the candidates are only 可能相关, so none opens by itself (its replies
      // would be one key away from a buyer); the agent picks one.
      state.openId = answer.no_good_match ? null : ids[0] || null;
      state.pinned = false;
    }
    renderCandidates();
    renderProcedure();
    refreshCompose();
  }

  function showEmpty() {
    forgetCase(); // an emptied box starts a new case
    setBusy(false);
    showAnswerless();
  }

  // No answer on screen: nothing of an earlier case stays visible.
  function showAnswerless() {
    updateFactChips([]);
    renderTurns([]);
    renderSlots({});
    renderCandidates();
    $("procedure").hidden = true;
    $("empty-state").hidden = false;
    hideNotice();
    $("replies").replaceChildren(el("p", { class: "empty", text: REPLIES_PLACEHOLDER }));
    refreshCompose();
  }

  function renderProcedure() {
    const results = state.answer ? state.answer.results : [];
    const result = results.find((r) => r.id === state.openId);
    $("empty-state").hidden = Boolean(result) || Boolean(state.answer);
    $("procedure").hidden = !result;
    if (!result) {
      if (state.answer && state.answer.no_good_match && results.length) {
        const outside = state.answer.reads_out_of_scope
          ? "这条消息读起来像售前、账户、会员等售后流程以外的问题。" : "";
        showNotice("info", "未找到合适流程：" + outside + "左侧“可能相关”的流程只是相近，点开（Alt+数字）核对后再用；"
          + "也可以换个说法，或补充平台、订单状态等细节再试。");
      } else if (state.answer) {
        showNotice("info", "未找到合适流程：换个说法，或补充平台、订单状态等细节再试。");
      }
      $("replies").replaceChildren(el("p", { class: "empty", text: REPLIES_PLACEHOLDER }));
      return;
    }
    const rank = results.indexOf(result) + 1;
    $("proc-rank").textContent = state.answer.no_good_match ? `可能相关 ${rank}`
      : rank === 1 ? "最匹配" : `第 ${rank} 候选`;
    $("proc-confidence").replaceChildren(confidenceNode(results, rank - 1));
    $("proc-category").textContent = result.category_name;
    $("proc-badges").replaceChildren(...[statusBadge(result.status)].filter(Boolean));
    $("proc-title").textContent = result.title;
    $("proc-link").href = `/articles/${encodeURIComponent(result.id)}`;
    $("proc-why").replaceChildren(whyNodes(result.why));
    renderVerdict(result.id);
    renderChecklist(result);
    renderReplies(result);
  }

  function renderChecklist(result) {
    if (!state.ticks.has(result.id)) state.ticks.set(result.id, new Set());
    const ticks = state.ticks.get(result.id);
    $("checklist").replaceChildren(...result.checklist.map((step) => {
      const kind = step.applies === false ? "na" : step.applies === null ? "unsure" : "ok";
      const box = el("input", { type: "checkbox", class: "step-box", checked: ticks.has(step.text) });
      const item = el("li", { class: `step step-${kind}${ticks.has(step.text) ? " done" : ""}` },
        el("label", {}, box, el("span", { class: "step-text" }, linkedNodes(step.text))),
        kind === "na" ? el("span", { class: "step-reason", text: step.reason }) : null,
        kind === "unsure" ? el("span", { class: "step-reason" },
          el("span", { class: "tag-unsure", text: "需确认" }),
          step.reason.replace(/^需确认：/, "")) : null,
        kind === "ok" && step.when ? el("span", { class: "step-reason", text: step.reason }) : null);
      box.addEventListener("change", () => {
        if (box.checked) reportChoice(result.id);
        if (box.checked) ticks.add(step.text);
        else ticks.delete(step.text);
        item.classList.toggle("done", box.checked);
        updateProgress(result);
      });
      return item;
    }));
    updateProgress(result);
  }

  function updateProgress(result) {
    const ticks = state.ticks.get(result.id) || new Set();
    const relevant = result.checklist.filter((s) => s.applies !== false);
    const done = relevant.filter((s) => ticks.has(s.text)).length;
    const skipped = result.checklist.length - relevant.length;
    $("progress").textContent = `已完成 ${done} / ${relevant.length} 步${skipped ? `（${skipped} 步不适用）` : ""}`;
  }

  function renderReplies(result) {
    const cards = result.replies.map((reply) => replyCard(result, reply));
    $("replies").replaceChildren(...cards.map((c) => c.card));
    cards.forEach((c) => c.refresh());
  }

  function replyCard(result, reply) {
    const key = `${result.id}/${reply.id}`;
    const text = state.edits.has(key) ? state.edits.get(key) : personalize(reply.text);
    state.texts.set(key, text);
    state.titles.set(key, reply.title);
    const textarea = el("textarea", { class: "reply-text", rows: "2", spellcheck: "false",
                                      "aria-label": `回复：${reply.title}` });
    const backdrop = el("div", { class: "backdrop", "aria-hidden": "true" });
    const box = editor(textarea, backdrop);
    textarea.value = text;
    const check = el("span", { class: "check" }, checkNodes(text));
    const revert = el("button", { type: "button", class: "small", text: "还原", hidden: !state.edits.has(key),
                                  title: "放弃修改，恢复自动填好的回复" });
    const add = el("input", { type: "checkbox", class: "add-compose", checked: state.parts.includes(key) });
    const kind = reply.applies === false ? "na" : reply.applies === null ? "unsure" : "ok";
    const card = el("section", { class: `reply reply-${kind}`, dataset: { key } },
      el("header", { class: "reply-head" },
        el("h3", { text: reply.title }),
        kind !== "ok" ? el("span", { class: `reply-reason reason-${kind}`, text: reply.reason }) : null,
        // Shop settings still at kb/shop.yaml's starter values: the agent checks before sending.
        reply.examples && reply.examples.length
          ? el("span", { class: "reply-example", text: `含示例值：${reply.examples.join("、")}`,
                         title: "店铺资料（kb/shop.yaml）里这些还是示例值，发送前请核对" })
          : null,
        el("label", { class: "add-label" }, add, "加入组合")),
      el("div", { class: "editor" }, backdrop, textarea),
      el("footer", { class: "reply-foot" }, check, revert,
        el("button", { type: "button", class: "copy", text: "复制",
                       onclick: () => copyText(textarea.value, `“${reply.title}”`, false, [key]) })));
    textarea.addEventListener("input", () => {
      state.edits.set(key, textarea.value);
      state.texts.set(key, textarea.value);
      revert.hidden = false;
      check.replaceChildren(...checkNodes(textarea.value));
      refreshCompose();
    });
    revert.addEventListener("click", () => {
      state.edits.delete(key);
      box.set(personalize(reply.text));
      state.texts.set(key, textarea.value);
      revert.hidden = true;
      check.replaceChildren(...checkNodes(textarea.value));
      refreshCompose();
    });
    add.addEventListener("change", () => toggleInCompose(key, add.checked));
    return { card, refresh: box.refresh };
  }

  // ---------------------------------------------------------------- compose

  const composeEditor = editor(composeBox, document.querySelector(".compose-editor .backdrop"));

  function fillCommonSelects() {
    // Each list offers only what the KB marks for that place: greetings open, goodbyes close.
    for (const [id, hint] of [["opening", "（不加开场）"], ["closing", "（不加结尾）"]]) {
      $(id).replaceChildren(el("option", { value: "", text: hint }),
        ...data.common_replies.filter((r) => r.use === id)
          .map((r) => el("option", { value: r.key, text: r.title })));
    }
    // Sensible defaults when the KB has them: its greeting opens, its closing ends.
    const saved = state.profile;
    for (const id of ["opening", "closing"]) {
      $(id).value = commonReplies.get(saved[id])?.use === id ? saved[id] : "";
    }
  }

  function toggleInCompose(key, include) {
    state.parts = state.parts.filter((k) => k !== key);
    if (include) state.parts.push(key);
    for (const box of document.querySelectorAll(".reply")) {
      if (box.dataset.key === key) box.querySelector(".add-compose").checked = include;
    }
    refreshCompose();
  }

  function openResult() {
    const results = state.answer ? state.answer.results : [];
    return results.find((r) => r.id === state.openId) || null;
  }

  // The open procedure's first reply that applies: what the message says when none is ticked.
  function firstReplyKey() {
    const result = openResult();
    if (!result) return null;
    const reply = result.replies.find((r) => r.applies !== false) || result.replies[0];
    return reply ? `${result.id}/${reply.id}` : null;
  }

  // The replies in the message: those ticked, in order; none ticked, the first reply.
  function messageKeys() {
    if (state.parts.length) return state.parts;
    const first = firstReplyKey();
    return first ? [first] : [];
  }

  const hasFrame = () => Boolean($("opening").value || $("closing").value);

  const GREETING = /^亲[，,]\s*(?:(?:您好|你好)[！!，,。～~]*\s*)?/;
  // A sign-off clause at the end of a reply: 有问题随时找我～ / 祝您生活愉快，再见！
  const SIGN_OFF = /[，,]?[^。！？!?～~\n，,]*(?:随时|有任何问题|祝您|再见)[^。！？!?～~\n，,]*[。！？!?～~]*\s*$/;

  // One message, not several pasted together: one greeting at the start, one sign-off at the end.
  function joinMessage(pieces) {
    const parts = pieces.map((p) => p.trim()).filter(Boolean);
    let lastSignOff = -1;
    parts.forEach((p, i) => { if (SIGN_OFF.test(p)) lastSignOff = i; });
    return parts.map((part, i) => {
      let out = i > 0 ? part.replace(GREETING, "") : part;
      if (i < lastSignOff) {
        const cut = out.replace(SIGN_OFF, "").trim();
        if (cut) out = /[。！？!?～~]$/.test(cut) ? cut : `${cut}。`;
      }
      return out.trim();
    }).filter(Boolean).join("\n");
  }

  // Opening + replies + closing; never a greeting and a goodbye with no reply between them.
  function composedText() {
    const body = messageKeys().map((key) => (state.texts.get(key) || "").trim()).filter(Boolean);
    if (!body.length) return "";
    const opening = commonReplies.get($("opening").value);
    const closing = commonReplies.get($("closing").value);
    return joinMessage([opening ? fillTemplate(opening.text) : "", ...body,
                        closing ? fillTemplate(closing.text) : ""]);
  }

  function refreshCompose() {
    const list = $("compose-parts");
    const first = state.parts.length ? null : firstReplyKey();
    list.replaceChildren(...(state.parts.length
      ? state.parts.map((key) => el("li", {},
          el("span", { text: state.titles.get(key) || key }),
          el("button", { type: "button", class: "remove", text: "×", title: "从组合消息中去掉",
                         "aria-label": `去掉${state.titles.get(key) || key}`,
                         onclick: () => toggleInCompose(key, false) })))
      : first
        ? [el("li", { class: "default", text: `${state.titles.get(first) || ""}（未勾选时用第一条回复）` })]
        : [el("li", { class: "empty", text: "在上面的回复上勾选“加入组合”，按勾选顺序拼接" })]));
    if (!state.composeManual) composeEditor.set(composedText());
    // Out of the way until something is composed: most answers are one reply.
    document.querySelector(".compose").classList.toggle("is-empty",
      !state.parts.length && !hasFrame() && !state.composeManual);
    $("recompose").hidden = !state.composeManual;
    $("compose-check").replaceChildren(...checkNodes(composeBox.value));
  }

  composeBox.addEventListener("input", () => {
    state.composeManual = true;
    $("recompose").hidden = false;
    $("compose-check").replaceChildren(...checkNodes(composeBox.value));
  });

  $("recompose").addEventListener("click", () => {
    state.composeManual = false;
    refreshCompose();
  });

  // ---------------------------------------------------------------- copy

  function copyNotice(kind, message, action) {
    const box = $("copy-notice");
    box.className = `copy-notice copy-${kind}`;
    box.replaceChildren(el("span", { class: "message", text: message }), action || "",
      el("button", { type: "button", class: "close", text: "×", title: "关闭", "aria-label": "关闭提示",
                     onclick: () => { box.hidden = true; } }));
    box.hidden = false;
    clearTimeout(copyNotice.timer);
    if (kind === "ok") copyNotice.timer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  // `keys`: the replies ("article/reply") the text came from, reported as copied.
  async function copyText(text, what, force = false, keys = []) {
    if (!text.trim()) {
      copyNotice("warn", "没有可复制的内容：先在回复上勾选“加入组合”，或复制单条回复。");
      return;
    }
    const found = bannedIn(text);
    if (found.length && !force) {
      copyNotice("danger",
        `没有复制：${what}含平台禁用说法 ${found.map((b) => `“${b.phrase}”（${b.why}）`).join("；")} 请先修改。`,
        el("button", { type: "button", class: "small", text: "仍要复制",
                       onclick: () => copyText(text, what, true, keys) }));
      return;
    }
    const ok = await window.writeClipboard(text);
    $("last-copied").value = text;
    if (!ok) {
      copyNotice("danger", "复制失败：浏览器不允许访问剪贴板，请选中文字后按 Ctrl+C。");
      return;
    }
    sendCopies(keys);
    const gaps = gapsIn(text);
    if (gaps.length) {
      copyNotice("warn", `已复制${what}，但还有 ${gaps.length} 处空缺未填：${gaps.join("")}。发送前务必补全！`);
    } else {
      copyNotice("ok", `已复制${what}，可以粘贴发送了。`);
    }
  }

  function copyReplyCard(card) {
    copyText(card.querySelector("textarea").value, `“${state.titles.get(card.dataset.key)}”`,
             false, [card.dataset.key]);
  }

  // Ctrl+Enter outside a reply, or the compose button: copy the message as the agent sees it,
  // for the text in the case box now (a pending search is awaited, never an older answer used).
  async function copyMessage() {
    if (!state.composeManual) {
      const answer = await currentAnswer();
      if (!answer) {
        copyNotice("warn", caseBox.value.trim()
          ? "没有复制：结果还没出来，请稍候再试。"
          : "还没有可复制的回复：先输入买家消息。");
        return;
      }
    }
    const keys = state.composeManual ? [...state.parts] : messageKeys();
    if (!composeBox.value.trim() || (!state.composeManual && !keys.length)) {
      copyNotice("warn", openResult()
        ? "没有复制：这个流程没有可用的回复，请换一个候选流程或自己输入。"
        : "没有复制：未找到合适流程，先点开一个可能相关的流程核对，或自己输入回复。");
      return;
    }
    const framed = state.parts.length > 0 || hasFrame() || state.composeManual;
    copyText(composeBox.value, framed ? "组合消息" : `“${state.titles.get(keys[0])}”`, false, keys);
  }

  function copyFromShortcut(target) {
    const card = target && target.closest ? target.closest(".reply") : null;
    if (card) copyReplyCard(card);
    else copyMessage();
  }

  $("copy-compose").addEventListener("click", () => copyMessage());

  // ---------------------------------------------------------------- case and keyboard

  function resetCase() {
    caseBox.value = "";
    updateCount();
    showEmpty();
    caseBox.focus();
  }

  function updateCount() {
    $("char-count").textContent = `${caseBox.value.length} / ${data.max_case_chars}`;
  }

  // Select-all-and-type, or a paste over the whole text: the agent moved on to another buyer.
  caseBox.addEventListener("beforeinput", () => {
    const length = caseBox.value.length;
    state.replacing = state.replacing || (length > 0 && caseBox.selectionStart === 0
      && caseBox.selectionEnd === length);
  });

  caseBox.addEventListener("input", (event) => {
    updateCount();
    if (state.replacing) {
      state.replacing = false;
      forgetCase();
      showAnswerless();
    }
    // Half-typed pinyin is not what the buyer said: search when the input method commits.
    if (event.isComposing || state.composing) {
      clearTimeout(timer);
      timer = null;
      return;
    }
    schedule();
  });
  caseBox.addEventListener("compositionstart", () => {
    state.composing = true;
    clearTimeout(timer);
    timer = null;
  });
  caseBox.addEventListener("compositionend", () => {
    state.composing = false;
    updateCount();
    schedule();
  });

  // The checklist's next step to do: the first unticked one that is not marked 不适用.
  function nextStepBox() {
    return [...document.querySelectorAll("#checklist .step:not(.step-na) .step-box")]
      .find((box) => !box.checked) || null;
  }

  function tickNextStep() {
    const box = nextStepBox();
    if (!box) {
      copyNotice("ok", "清单上需要做的步骤都已勾选。");
      return;
    }
    box.click(); // the same path as a click: ticks, progress, strike-through
    box.focus();
  }

  function focusChecklist() {
    const box = nextStepBox() || document.querySelector("#checklist .step-box");
    if (box) box.focus();
  }

  function focusReplies() {
    const first = document.querySelector("#replies .reply:not(.reply-na) textarea")
      || document.querySelector("#replies textarea");
    if (first) first.focus();
  }

  function copyReplyNumber(n) {
    const card = document.querySelectorAll("#replies .reply")[n - 1];
    if (card) copyReplyCard(card);
    else copyNotice("warn", `没有第 ${n} 条回复。`);
  }

  const isTextField = (node) => node && (node.isContentEditable
    || ["TEXTAREA", "SELECT"].includes(node.tagName)
    || (node.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(node.type)));

  const help = $("help");
  function openHelp() {
    if (!help.open) help.showModal();
  }
  $("help-open").addEventListener("click", openHelp);

  document.addEventListener("keydown", (event) => {
    if (event.isComposing) return; // keys that belong to the input method
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      copyFromShortcut(event.target);
      return;
    }
    if (event.altKey && !event.ctrlKey && !event.metaKey) {
      const digit = /^(?:Digit|Numpad)([1-9])$/.exec(event.code);
      const results = state.answer ? state.answer.results : [];
      const action = {
        KeyN: resetCase, KeyL: focusChecklist, KeyJ: tickNextStep, KeyR: focusReplies,
        ArrowDown: () => moveCandidate(1), ArrowUp: () => moveCandidate(-1),
      }[event.code];
      if (digit && event.shiftKey) {
        event.preventDefault();
        copyReplyNumber(Number(digit[1]));
      } else if (digit && results[Number(digit[1]) - 1]) {
        event.preventDefault();
        openCandidate(results[Number(digit[1]) - 1].id);
      } else if (action && !event.shiftKey) {
        event.preventDefault();
        action();
      }
      return;
    }
    if (event.key === "?" && !event.ctrlKey && !event.altKey && !isTextField(event.target)) {
      event.preventDefault();
      openHelp();
      return;
    }
    if (event.key === "Escape") {
      if (help.open) return; // the dialog closes itself
      if (profileMenu.open) {
        profileMenu.open = false;
        $("profile-summary").focus();
        return;
      }
      if (document.activeElement !== caseBox) caseBox.focus();
    }
  });

  for (const button of document.querySelectorAll(".example")) {
    button.addEventListener("click", () => {
      forgetCase(); // an example is another buyer
      caseBox.value = button.textContent;
      updateCount();
      requestAssist();
      caseBox.focus();
    });
  }

  $("new-case").addEventListener("click", resetCase);

  const profileMenu = $("profile-menu");
  document.addEventListener("click", (event) => {
    if (profileMenu.open && !profileMenu.contains(event.target)) profileMenu.open = false;
  });

  function showProfile() {
    const name = (state.profile.agent_name || "").trim();
    $("profile-summary").textContent = name ? `客服：${name}` : "我的称呼";
  }

  function saveProfile() {
    state.profile = {
      agent_name: $("agent-name").value,
      shop_name: $("shop-name").value,
      opening: $("opening").value,
      closing: $("closing").value,
    };
    try {
      localStorage.setItem(PROFILE_KEY, JSON.stringify(state.profile));
    } catch {
      // private mode: the profile lasts for this page only
    }
  }

  for (const id of ["agent-name", "shop-name"]) {
    $(id).value = state.profile[id.replace("-", "_")] || "";
    $(id).addEventListener("input", () => {
      saveProfile();
      showProfile();
      if (state.answer) renderProcedure();
      refreshCompose();
    });
  }
  for (const id of ["opening", "closing"]) {
    $(id).addEventListener("change", () => {
      saveProfile();
      refreshCompose();
    });
  }

  showProfile();
  buildFactChips();
  fillCommonSelects();
  refreshCompose();
  updateCount();
  if (caseBox.value.trim()) requestAssist(); // text the browser restored on back/forward
})();
