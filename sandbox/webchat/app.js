// Halsaram sandbox web chat: act as a person talking to the bot through /sandbox/api.
// Plain browser JavaScript, no build step and nothing fetched from the internet.
"use strict";

const POLL_MS = 700;
// Right after the person acted, the bot's answer is due: look more often for a few seconds.
const EAGER_POLL_MS = 150;
const EAGER_FOR_MS = 4000;
const DEFAULT_LAT = 37.5096; // Seokchon Lake
const DEFAULT_LON = 127.1027;
// Longer than the sandbox's answer window (15 s by default): a press no answer can reach.
const PRESS_FORGOTTEN_MS = 60_000;

const TEXTS = {
  ko: {
    me: "나", name: "이름", create: "만들기", chats: "대화", groupTitle: "새 그룹 이름",
    createGroup: "그룹 만들기", invite: "초대", asAdmin: "관리자로", addBot: "봇 추가",
    block: "봇 차단", unblock: "차단 해제", start: "시작", message: "메시지", send: "보내기",
    photo: "사진", file: "파일", location: "위치", contact: "연락처", cancel: "취소", share: "공유",
    contactQuestion: "봇에게 내 전화번호를 공유할까요?", lat: "위도", lon: "경도",
    locationQuestion: "공유할 위치 (기본: 석촌호수)", edited: "수정됨", typing: "입력 중…",
    botBlocked: "봇을 차단했습니다", botNotInGroup: "봇이 이 그룹에 없습니다", members: "명",
    noUser: "먼저 사용자를 만드세요", private: "할사람 봇", pickUser: "사용자 선택",
    otherContact: "다른 사람 연락처 보내기", sharedLocation: "위치", joined: "님이 들어왔습니다",
    left: "님이 나갔습니다", blockedBadge: "차단됨", groupBadge: "그룹",
    videoNote: "영상 메시지", videoNoteTitle: "원형 영상 메시지 (앱에서는 카메라로 바로 녹화)",
    scan: "QR 스캔", scanQuestion: "누구의 휴대폰 카메라로 스캔할까요?",
    noCode: "사진에서 QR 코드를 찾지 못했어요", scanned: "QR 내용",
  },
  en: {
    me: "Me", name: "Name", create: "Create", chats: "Chats", groupTitle: "New group title",
    createGroup: "Create group", invite: "Invite", asAdmin: "as admin", addBot: "Add bot",
    block: "Block bot", unblock: "Unblock", start: "START", message: "Message", send: "Send",
    photo: "Photo", file: "File", location: "Location", contact: "Contact", cancel: "Cancel",
    share: "Share", contactQuestion: "Share your phone number with the bot?", lat: "Latitude",
    lon: "Longitude", locationQuestion: "Location to share (default: Seokchon Lake)",
    edited: "edited", typing: "typing…", botBlocked: "You blocked the bot",
    botNotInGroup: "The bot is not in this group", members: "members",
    videoNote: "Video message",
    videoNoteTitle: "Round video message (the app records it in its camera)",
    noUser: "Create a user first", private: "Halsaram bot", pickUser: "Pick a user",
    otherContact: "Send someone else's contact", sharedLocation: "Location",
    joined: " joined", left: " left", blockedBadge: "blocked", groupBadge: "group",
    scan: "Scan QR", scanQuestion: "Whose phone camera scans it?",
    noCode: "No QR code found in this picture", scanned: "QR says",
  },
};

const state = {
  bot: null,
  users: [],
  userId: null,
  chats: [],
  chatId: null,
  view: null,
  version: -1,
  // Presses made in this page and not answered yet (callback_query_id -> when): an answer is
  // shown once, to the person who pressed, as the Telegram app shows it; never replayed.
  pressed: new Map(),
  toastTimer: null,
  scanFileId: null,
  pendingContactButton: null,
  pendingLocationButton: null,
  eagerUntil: 0,
};

const $ = (id) => document.getElementById(id);

function lang() {
  const user = state.users.find((u) => u.id === state.userId);
  return user && user.language_code === "en" ? "en" : "ko";
}

function t(key) {
  return TEXTS[lang()][key] || TEXTS.ko[key] || key;
}

function applyTexts() {
  document.documentElement.lang = lang();
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of document.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

// ------------------------------------------------------------------ API

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch("/sandbox/api" + path, options);
  const data = await response.json();
  if (!data.ok) throw new Error(data.error || response.statusText);
  return data.result;
}

function showError(error) {
  const box = $("error");
  if (!error) {
    box.hidden = true;
    return;
  }
  box.textContent = String(error.message || error);
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 4000);
}

async function run(action) {
  try {
    showError(null);
    await action();
    state.eagerUntil = Date.now() + EAGER_FOR_MS;
    await refresh(true);
  } catch (error) {
    showError(error);
  }
}

// ------------------------------------------------------------------ users and chats

async function loadUsers() {
  state.users = await api("GET", "/users");
  const select = $("user-select");
  select.replaceChildren();
  const placeholder = new Option(t("pickUser"), "");
  placeholder.disabled = true;
  select.append(placeholder);
  for (const user of state.users) {
    const label = `${user.first_name} (${user.language_code || "ko"}, ${user.id})`;
    select.append(new Option(label, String(user.id)));
  }
  select.value = state.userId ? String(state.userId) : "";
  const invite = $("invite-select");
  invite.replaceChildren();
  for (const user of state.users.filter((u) => u.id !== state.userId)) {
    invite.append(new Option(user.first_name, String(user.id)));
  }
}

async function selectUser(userId) {
  // A dialog of the person before (an alert, a question) is theirs: it does not follow.
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close("switch");
  state.userId = userId;
  localStorage.setItem("halsaram.sandbox.user", String(userId));
  applyTexts();
  await loadUsers();
  await loadChats();
  selectChat(userId);
}

async function loadChats() {
  if (!state.userId) return;
  state.chats = await api("GET", `/users/${state.userId}/chats`);
  const list = $("chat-list");
  list.replaceChildren();
  for (const chat of state.chats) {
    const item = document.createElement("li");
    item.dataset.testid = "chat-item";
    item.dataset.chatId = String(chat.id);
    item.className = chat.id === state.chatId ? "active" : "";
    const title = document.createElement("span");
    title.textContent = chat.type === "private" ? t("private") : chat.title;
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = chat.bot_status === "kicked" ? t("blockedBadge") : chat.type === "private" ? "" : t("groupBadge");
    item.append(title, badge);
    item.addEventListener("click", () => selectChat(chat.id));
    list.append(item);
  }
}

function selectChat(chatId) {
  state.chatId = chatId;
  state.version = -1;
  state.view = null;
  $("messages").replaceChildren();
  for (const item of document.querySelectorAll("#chat-list li")) {
    item.classList.toggle("active", Number(item.dataset.chatId) === chatId);
  }
  refresh(true);
}

// ------------------------------------------------------------------ polling and rendering

async function refresh(force = false) {
  if (!state.chatId) return;
  let view;
  try {
    view = await api("GET", `/chats/${state.chatId}/transcript`);
  } catch (error) {
    showError(error);
    return;
  }
  if (view.chat.id !== state.chatId) return;
  if (!force && view.version === state.version) {
    renderStatus(view);
    return;
  }
  state.view = view;
  state.version = view.version;
  render(view);
}

function render(view) {
  renderHeader(view);
  renderMessages(view);
  renderReplyKeyboard(view.reply_keyboard);
  renderAnswers(view.callback_answers);
}

function renderHeader(view) {
  const chat = view.chat;
  const isPrivate = chat.type === "private";
  $("chat-title").textContent = isPrivate
    ? `${state.bot ? state.bot.first_name : "할사람"} (@${state.bot ? state.bot.username : ""})`
    : `${chat.title} · ${view.members.length} ${t("members")}`;
  const blocked = view.bot_status === "kicked";
  const toggle = $("block-toggle");
  toggle.hidden = !isPrivate;
  toggle.textContent = blocked ? t("unblock") : t("block");
  toggle.classList.toggle("blocked", blocked);
  const inGroup = ["member", "administrator"].includes(view.bot_status);
  $("group-tools").hidden = isPrivate;
  $("add-bot").hidden = isPrivate || inGroup;
  $("add-bot-admin").parentElement.hidden = isPrivate || inGroup;
  $("start-button").hidden = !(isPrivate && view.messages.length === 0);
  renderStatus(view);
}

function renderStatus(view) {
  let status = "";
  if (view.chat_action) status = t("typing");
  else if (view.bot_status === "kicked") status = t("botBlocked");
  else if (view.chat.type !== "private" && !["member", "administrator"].includes(view.bot_status)) {
    status = t("botNotInGroup");
  }
  $("chat-status").textContent = status;
}

function renderMessages(view) {
  const box = $("messages");
  const first = box.childElementCount === 0;
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  box.replaceChildren(...view.messages.map((m) => renderMessage(m, view.chat)));
  if (first || nearBottom) box.scrollTop = box.scrollHeight;
}

function renderMessage(message, chat) {
  const el = document.createElement("div");
  el.dataset.testid = "message";
  el.dataset.messageId = String(message.message_id);
  const fromBot = message.from && message.from.is_bot && state.bot && message.from.id === state.bot.id;
  const mine = message.from && message.from.id === state.userId;
  el.dataset.from = fromBot ? "bot" : mine ? "me" : "other";
  el.className = "message" + (mine ? " mine" : "");

  const service = serviceText(message);
  if (service) {
    el.className = "message service";
    el.textContent = service;
    return el;
  }
  if (chat.type !== "private" && !mine) {
    const sender = document.createElement("div");
    sender.className = "sender";
    sender.textContent = message.from ? message.from.first_name : "";
    el.append(sender);
  }
  if (message.reply_to_message) {
    const quote = document.createElement("div");
    quote.className = "reply-quote";
    const replied = message.reply_to_message;
    quote.textContent = (replied.text || replied.caption || "…").slice(0, 80);
    el.append(quote);
  }
  el.append(...renderContent(message));
  if (message.reply_markup && message.reply_markup.inline_keyboard) {
    el.append(renderInlineKeyboard(message));
  }
  const meta = document.createElement("div");
  meta.className = "meta";
  const time = new Date(message.date * 1000).toLocaleTimeString("ko-KR", {
    hour: "2-digit", minute: "2-digit", timeZone: "Asia/Seoul",
  });
  meta.textContent = (message.edited ? `${t("edited")} · ` : "") + time;
  if (message.edited) meta.dataset.testid = "edited";
  el.append(meta);
  return el;
}

function serviceText(message) {
  if (message.new_chat_members) {
    return message.new_chat_members.map((u) => u.first_name).join(", ") + t("joined");
  }
  if (message.left_chat_member) return message.left_chat_member.first_name + t("left");
  return null;
}

function renderContent(message) {
  const parts = [];
  if (message.photo) {
    const largest = message.photo[message.photo.length - 1];
    const img = document.createElement("img");
    img.className = "photo";
    img.dataset.testid = "message-photo";
    img.src = `/sandbox/api/files/${encodeURIComponent(largest.file_id)}`;
    img.alt = message.caption || "photo";
    parts.push(img);
    parts.push(scanButton(largest.file_id));
  }
  if (message.video || message.video_note) {
    const media = message.video || message.video_note;
    const video = document.createElement("video");
    video.className = message.video_note ? "video-note" : "video";
    video.dataset.testid = message.video_note ? "message-video-note" : "message-video";
    video.src = `/sandbox/api/files/${encodeURIComponent(media.file_id)}`;
    video.controls = true;
    video.preload = "metadata";
    parts.push(video);
  }
  if (message.document) {
    const link = document.createElement("a");
    link.dataset.testid = "message-document";
    link.href = `/sandbox/api/files/${encodeURIComponent(message.document.file_id)}`;
    link.download = message.document.file_name || "file";
    link.textContent = `📄 ${message.document.file_name || "file"} (${message.document.file_size} B)`;
    parts.push(link);
  }
  if (message.venue) {
    parts.push(card("venue", `📍 ${message.venue.title}\n${message.venue.address}`));
  } else if (message.location) {
    const loc = message.location;
    parts.push(card("location", `📍 ${t("sharedLocation")}: ${loc.latitude}, ${loc.longitude}`));
  }
  if (message.contact) {
    const c = message.contact;
    parts.push(card("contact", `👤 ${c.first_name}\n${c.phone_number}`));
  }
  const text = message.text ?? message.caption;
  if (text) {
    const entities = message.text != null ? message.entities : message.caption_entities;
    const body = document.createElement("div");
    body.className = "text";
    body.dataset.testid = "message-text";
    body.append(...renderEntities(text, entities || []));
    parts.push(body);
  }
  return parts;
}

// Pointing a phone's camera at a picture (a QR on someone's screen): see openScanDialog.
function scanButton(fileId) {
  const el = document.createElement("button");
  el.type = "button";
  el.className = "scan";
  el.dataset.testid = "scan-photo";
  el.dataset.fileId = fileId;
  el.textContent = `📷 ${t("scan")}`;
  el.addEventListener("click", () => openScanDialog(fileId));
  return el;
}

function card(kind, text) {
  const el = document.createElement("div");
  el.className = "card text";
  el.dataset.testid = `message-${kind}`;
  el.textContent = text;
  return el;
}

// Entity offsets are UTF-16 code units, which is exactly how JavaScript indexes strings.
function renderEntities(text, entities) {
  const cuts = new Set([0, text.length]);
  for (const e of entities) {
    cuts.add(e.offset);
    cuts.add(e.offset + e.length);
  }
  const points = [...cuts].filter((p) => p >= 0 && p <= text.length).sort((a, b) => a - b);
  const nodes = [];
  for (let i = 0; i < points.length - 1; i++) {
    const [start, end] = [points[i], points[i + 1]];
    const covering = entities.filter((e) => e.offset <= start && e.offset + e.length >= end);
    nodes.push(styledSegment(text.slice(start, end), covering));
  }
  return nodes;
}

function styledSegment(segment, entities) {
  let node = document.createTextNode(segment);
  for (const e of entities) {
    let wrapper;
    switch (e.type) {
      case "bold": wrapper = document.createElement("b"); break;
      case "italic": wrapper = document.createElement("i"); break;
      case "underline": wrapper = document.createElement("u"); break;
      case "strikethrough": wrapper = document.createElement("s"); break;
      case "code": wrapper = document.createElement("code"); break;
      case "pre": wrapper = document.createElement("pre"); break;
      case "spoiler":
        wrapper = document.createElement("span");
        wrapper.className = "spoiler";
        break;
      case "text_link":
      case "url":
        wrapper = linkTo(e.type === "url" ? segment : e.url);
        break;
      case "bot_command":
        wrapper = document.createElement("a");
        wrapper.href = "#";
        wrapper.addEventListener("click", (event) => {
          event.preventDefault();
          sendText(segment);
        });
        break;
      default: continue;
    }
    wrapper.append(node);
    node = wrapper;
  }
  return node;
}

// A t.me deep link to this bot opens the chat with /start <payload>, as a phone would.
function linkTo(url) {
  const a = document.createElement("a");
  a.href = url;
  a.target = "_blank";
  a.rel = "noopener";
  const payload = deepLinkPayload(url);
  if (payload !== null) {
    a.dataset.testid = "deep-link";
    a.addEventListener("click", (event) => {
      event.preventDefault();
      openDeepLink(payload);
    });
  }
  return a;
}

// Telegram opens the chat with the bot and sends `/start <payload>` (Bot API "Deep linking").
function openDeepLink(payload) {
  selectChat(state.userId);
  return sendText(payload ? `/start ${payload}` : "/start", state.userId);
}

function deepLinkPayload(url) {
  if (!state.bot) return null;
  try {
    const parsed = new URL(url);
    const host = parsed.hostname.replace(/^www\./, "");
    const name = parsed.pathname.replace(/^\//, "").toLowerCase();
    if (!["t.me", "telegram.me"].includes(host)) return null;
    if (name !== state.bot.username.toLowerCase()) return null;
    return parsed.searchParams.get("start") || "";
  } catch {
    return null;
  }
}

function renderInlineKeyboard(message) {
  const keyboard = document.createElement("div");
  keyboard.className = "inline-keyboard";
  keyboard.dataset.testid = "inline-keyboard";
  for (const row of message.reply_markup.inline_keyboard) {
    const line = document.createElement("div");
    line.className = "kb-row";
    for (const button of row) line.append(inlineButton(message, button));
    keyboard.append(line);
  }
  return keyboard;
}

function inlineButton(message, button) {
  if (button.url) {
    const link = linkTo(button.url);
    link.textContent = `${button.text} ↗`;
    if (!link.dataset.testid) link.dataset.testid = "url-button";
    return link;
  }
  const el = document.createElement("button");
  el.type = "button";
  el.dataset.testid = "inline-button";
  el.textContent = button.text;
  if (button.callback_data === undefined) {
    el.disabled = true;
    return el;
  }
  el.dataset.callbackData = button.callback_data;
  el.addEventListener("click", () => run(async () => {
    const query = await api("POST", `/chats/${state.chatId}/callback`, {
      user_id: state.userId,
      message_id: message.message_id,
      callback_data: button.callback_data,
    });
    state.pressed.set(query.id, Date.now());
  }));
  return el;
}

function renderReplyKeyboard(keyboard) {
  const box = $("reply-keyboard");
  box.replaceChildren();
  box.hidden = !keyboard;
  if (!keyboard) return;
  for (const row of keyboard.keyboard) {
    const line = document.createElement("div");
    line.className = "kb-row";
    for (const raw of row) {
      const button = typeof raw === "string" ? { text: raw } : raw;
      const el = document.createElement("button");
      el.type = "button";
      el.dataset.testid = "reply-button";
      el.textContent = button.text;
      el.addEventListener("click", () => pressReplyButton(button));
      line.append(el);
    }
    box.append(line);
  }
}

function pressReplyButton(button) {
  if (button.request_contact) {
    state.pendingContactButton = button.text;
    openContactDialog();
  } else if (button.request_location) {
    state.pendingLocationButton = button.text;
    $("location-dialog").showModal();
  } else {
    run(() => api("POST", `/chats/${state.chatId}/reply_button`, {
      user_id: state.userId, text: button.text,
    }));
  }
}

// Only answers to this page's own presses, each once: a reload, another person or another
// chat never brings an old alert or toast back (the transcript keeps answers for a while).
function renderAnswers(answers) {
  const now = Date.now();
  for (const [id, at] of state.pressed) {
    if (now - at > PRESS_FORGOTTEN_MS) state.pressed.delete(id);
  }
  for (const answer of answers || []) {
    if (!state.pressed.has(answer.callback_query_id)) continue;
    state.pressed.delete(answer.callback_query_id);
    if (answer.user_id !== state.userId || !answer.text) continue;
    if (answer.show_alert) {
      $("alert-text").textContent = answer.text;
      if (!$("alert-dialog").open) $("alert-dialog").showModal();
    } else {
      showToast(answer.text);
    }
  }
}

function showToast(text) {
  const toast = $("toast");
  toast.textContent = text;
  toast.hidden = false;
  clearTimeout(state.toastTimer);
  state.toastTimer = setTimeout(() => { toast.hidden = true; }, 2500);
}

// ------------------------------------------------------------------ scanning a QR

function openScanDialog(fileId) {
  state.scanFileId = fileId;
  const select = $("scan-user");
  select.replaceChildren();
  for (const user of state.users) select.append(new Option(user.first_name, String(user.id)));
  // A phone cannot film its own screen: someone else's by default, anyone may be picked.
  const other = state.users.find((u) => u.id !== state.userId) || state.users[0];
  if (other) select.value = String(other.id);
  $("scan-dialog").showModal();
}

// The camera reads the picture (the sandbox decodes the stored file), then the phone opens
// what it read: a t.me link to this bot as Telegram does, anything else is only shown.
async function scan(fileId, userId) {
  const { texts } = await api("POST", `/files/${encodeURIComponent(fileId)}/scan`);
  if (texts.length === 0) throw new Error(t("noCode"));
  if (userId !== state.userId) await selectUser(userId);
  const payload = deepLinkPayload(texts[0]);
  if (payload === null) {
    showToast(`${t("scanned")}: ${texts[0]}`);
    return;
  }
  await openDeepLink(payload);
}

// ------------------------------------------------------------------ actions

function sendText(text, chatId = state.chatId) {
  return run(() => api("POST", `/chats/${chatId}/messages`, { user_id: state.userId, text }));
}

function openContactDialog() {
  const user = state.users.find((u) => u.id === state.userId);
  $("contact-phone").textContent = user ? user.first_name : "";
  $("contact-dialog").showModal();
}

async function upload(kind, file) {
  const form = new FormData();
  form.append("user_id", String(state.userId));
  form.append("file", file, file.name);
  const caption = $("composer").value.trim();
  if (caption) form.append("caption", caption);
  await run(async () => {
    await api("POST", `/chats/${state.chatId}/${kind}`, form);
    $("composer").value = "";
  });
}

function wire() {
  $("user-select").addEventListener("change", (e) => selectUser(Number(e.target.value)));
  $("new-user-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("new-user-name").value.trim();
    if (!name) return;
    run(async () => {
      const user = await api("POST", "/users", {
        first_name: name, language_code: $("new-user-lang").value,
      });
      $("new-user-name").value = "";
      await selectUser(user.id);
    });
  });
  $("new-group-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const title = $("new-group-title").value.trim();
    if (!title || !state.userId) return;
    run(async () => {
      const chat = await api("POST", "/groups", {
        title, member_ids: [state.userId], admin_ids: [state.userId],
      });
      $("new-group-title").value = "";
      await loadChats();
      selectChat(chat.id);
    });
  });
  $("composer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("composer").value;
    if (!text.trim() || !state.userId) return;
    $("composer").value = "";
    sendText(text);
  });
  $("composer").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer-form").requestSubmit();
    }
  });
  $("start-button").addEventListener("click", () => sendText("/start"));
  $("attach-photo").addEventListener("click", () => $("photo-input").click());
  $("attach-document").addEventListener("click", () => $("document-input").click());
  $("photo-input").addEventListener("change", (e) => {
    // The gallery button sends a picture as a photo and a clip as a video, as the apps do.
    const file = e.target.files[0];
    if (file) upload(file.type.startsWith("video/") ? "video" : "photo", file);
    e.target.value = "";
  });
  $("attach-video-note").addEventListener("click", () => $("video-note-input").click());
  $("video-note-input").addEventListener("change", (e) => {
    // Stands in for the app's camera: the chosen clip goes as a round video message.
    if (e.target.files[0]) upload("video_note", e.target.files[0]);
    e.target.value = "";
  });
  $("document-input").addEventListener("change", (e) => {
    if (e.target.files[0]) upload("document", e.target.files[0]);
    e.target.value = "";
  });
  $("share-location").addEventListener("click", () => {
    state.pendingLocationButton = null;
    $("location-dialog").showModal();
  });
  $("share-contact").addEventListener("click", () => {
    state.pendingContactButton = null;
    openContactDialog();
  });
  $("contact-dialog").addEventListener("close", () => {
    if ($("contact-dialog").returnValue !== "ok") return;
    const text = state.pendingContactButton;
    run(() => text
      ? api("POST", `/chats/${state.chatId}/reply_button`, { user_id: state.userId, text })
      : api("POST", `/chats/${state.chatId}/contact`, { user_id: state.userId, own: true }));
  });
  $("location-dialog").addEventListener("close", () => {
    if ($("location-dialog").returnValue !== "ok") return;
    const latitude = Number($("location-lat").value || DEFAULT_LAT);
    const longitude = Number($("location-lon").value || DEFAULT_LON);
    run(() => api("POST", `/chats/${state.chatId}/location`, {
      user_id: state.userId, latitude, longitude,
    }));
  });
  $("scan-dialog").addEventListener("close", () => {
    if ($("scan-dialog").returnValue !== "ok" || !state.scanFileId) return;
    const userId = Number($("scan-user").value);
    const fileId = state.scanFileId;
    state.scanFileId = null;
    scan(fileId, userId).catch(showError);
  });
  $("block-toggle").addEventListener("click", () => {
    const blocked = state.view && state.view.bot_status === "kicked";
    run(async () => {
      await api("POST", `/users/${state.userId}/${blocked ? "unblock" : "block"}`);
      await loadChats();
    });
  });
  $("add-bot").addEventListener("click", () => run(async () => {
    await api("POST", `/groups/${state.chatId}/bot`, {
      user_id: state.userId, as_admin: $("add-bot-admin").checked,
    });
    await loadChats();
  }));
  $("invite").addEventListener("click", () => {
    const userId = Number($("invite-select").value);
    if (!userId) return;
    run(() => api("POST", `/groups/${state.chatId}/members`, { user_id: userId }));
  });
}

async function main() {
  wire();
  try {
    const info = await api("GET", "/info");
    state.bot = info.bot;
  } catch (error) {
    showError(error);
  }
  await loadUsers();
  const saved = Number(localStorage.getItem("halsaram.sandbox.user"));
  if (saved && state.users.some((u) => u.id === saved)) {
    await selectUser(saved);
  } else {
    applyTexts();
    $("chat-status").textContent = t("noUser");
    $("new-user-name").focus();
  }
  let chatsLoaded = Date.now();
  const tick = async () => {
    if (Date.now() - chatsLoaded >= 5 * POLL_MS) {
      chatsLoaded = Date.now();
      loadChats().catch(() => {});
    }
    await refresh();
    setTimeout(tick, Date.now() < state.eagerUntil ? EAGER_POLL_MS : POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

main();
