// app - the megle page: camera, interests, Start / Next / Stop, the text
// chat, and the life of a conversation.
//
//   idle --Start--> waiting --match_found--> matched --partner_left/Next--> waiting
//     ^                |                        |
//     +------Stop------+------------Stop--------+
//
// The server decides every match (docs/protocol.md); this page only asks
// (find_match with a mode and interests), hangs up (leave), relays WebRTC
// signals to the partner (video mode) and sends chat / typing. Without a
// camera (denied, missing, or "Text only" ticked) the page asks for a text
// stranger instead. window.megle exposes read-only state for tests and
// curious users.

import { Socket } from './socket.js';
import { Call } from './call.js';
import { ChatPanel } from './chat.js';
import { InterestInput } from './interests.js';

const $ = (id) => document.getElementById(id);
const ui = {
  link: $('link'),
  onlineCount: $('online-count'),
  status: $('status'),
  error: $('error'),
  start: $('start'),
  next: $('next'),
  stop: $('stop'),
  report: $('report'),
  remoteVideo: $('remote-video'),
  remoteOverlay: $('remote-overlay'),
  overlayText: $('overlay-text'),
  localVideo: $('local-video'),
  localOverlay: $('local-overlay'),
  localText: $('local-text'),
  mute: $('mute'),
  camera: $('camera'),
  textOnly: $('text-only'),
  shared: $('shared-interests'),
  interestHelp: $('interest-help'),
};
const INTEREST_HELP = ui.interestHelp.textContent;

// Errors that only mean "our leave/signal/chat crossed the partner's leave
// on the wire": nothing the user can or should act on.
const RACE_ERRORS = new Set(['not_partner', 'not_matched']);
// Errors after which a find_match is worth retrying a bit later.
const RETRY_ERRORS = new Set(['unavailable', 'internal']);
const RETRY_MS = 2000;

const app = {
  state: 'idle',          // idle | waiting | matched
  want: false,            // the user pressed Start and not Stop
  mode: 'video',          // what we ask for: video | text
  myId: null,
  partnerId: null,
  matchId: null,
  matchMode: null,        // the current match's mode (match_found.mode)
  shared: [],             // interests we share with the current stranger
  initiator: false,
  iceServers: [],
  call: null,
  stream: null,           // local MediaStream, or null (denied / none / text)
  mediaPromise: null,
  mediaProblem: null,     // why there is no camera, for the text-mode note
  muted: false,
  cameraOff: false,
  onlineCount: null,      // users online on all gateways, when known
  matches: 0,             // how many conversations this page has started
  searchStartedAt: 0,     // Date.now() when the last find_match was sent
  queued: false,          // the server said `waiting` to the current search
  matchedAt: 0,           // Date.now() of the last match_found
  retryTimer: 0,
};

const socket = new Socket(Socket.urlFor(location), {
  open: onSocketOpen,
  close: onSocketClose,
  event: onEvent,
});

const chat = new ChatPanel({
  log: $('chat-log'),
  typing: $('typing'),
  form: $('chat-form'),
  input: $('chat-input'),
  send: $('chat-send'),
}, {
  onSend: (text) => {
    if (app.state !== 'matched')
      return false;
    if (!socket.send('chat', { text })) {
      showError('Not connected: your message was not sent.');
      return false;
    }
    return true;
  },
  onTyping: (typing) => {
    if (app.state === 'matched')
      socket.send('typing', { typing });
  },
});

const interests = new InterestInput({
  input: $('interest-input'),
  list: $('interest-chips'),
  box: $('chip-box'),
}, {
  onError: (message) => {
    ui.interestHelp.textContent = message || INTEREST_HELP;
    ui.interestHelp.dataset.error = message ? 'true' : 'false';
  },
});

// ---- UI ---------------------------------------------------------------

function setStatus(text) {
  ui.status.textContent = text;
}

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = !text;
}

function setOverlay(text) {
  ui.overlayText.textContent = text;
  ui.remoteOverlay.dataset.show = text ? 'true' : 'false';
}

function setState(state) {
  app.state = state;
  document.body.dataset.state = state;
  ui.start.disabled = state !== 'idle';
  ui.next.disabled = state !== 'matched';
  ui.report.disabled = state !== 'matched';
  ui.stop.disabled = state === 'idle';
  ui.textOnly.disabled = state !== 'idle';
  chat.setEnabled(state === 'matched');
  // Keep keyboard focus on a live control when the focused one turns off.
  const focused = document.activeElement;
  if ((focused instanceof HTMLButtonElement || focused instanceof HTMLInputElement)
      && focused.disabled)
    (state === 'idle' ? ui.start : ui.stop).focus();
}

function setMode(mode) {
  app.mode = mode;
  document.body.dataset.mode = mode;
  ui.textOnly.checked = mode === 'text';
}

function setLink(connected) {
  ui.link.dataset.state = connected ? 'online' : 'connecting';
  ui.link.textContent = connected ? 'connected' : 'connecting\u2026';
}

function setOnlineCount(count) {
  app.onlineCount = Number.isSafeInteger(count) && count >= 0 ? count : null;
  ui.onlineCount.hidden = app.onlineCount === null;
  ui.onlineCount.textContent = app.onlineCount === null ? ''
    : `${app.onlineCount.toLocaleString('en')} online`;
}

function showShared(list) {
  app.shared = list;
  interests.setShared(list);
  ui.shared.hidden = list.length === 0;
  ui.shared.textContent = list.length ? `You both like: ${list.join(', ')}` : '';
}

function updateMediaToggles() {
  const audio = app.stream?.getAudioTracks() ?? [];
  const video = app.stream?.getVideoTracks() ?? [];
  audio.forEach((t) => { t.enabled = !app.muted; });
  video.forEach((t) => { t.enabled = !app.cameraOff; });
  ui.mute.disabled = audio.length === 0;
  ui.camera.disabled = video.length === 0;
  ui.mute.setAttribute('aria-pressed', String(app.muted));
  ui.camera.setAttribute('aria-pressed', String(app.cameraOff));
  if (video.length) {
    ui.localOverlay.dataset.show = app.cameraOff ? 'true' : 'false';
    ui.localText.textContent = app.cameraOff ? 'Camera off: the stranger sees black.' : '';
  }
}

// ---- camera -------------------------------------------------------------

// Ask for camera (and microphone) once; later calls reuse the stream.
// Never throws: resolves to a stream with a video track, or to null with
// app.mediaProblem saying why.
function ensureMedia() {
  if (app.stream && app.stream.getVideoTracks().some((t) => t.readyState === 'live'))
    return Promise.resolve(app.stream);
  if (!app.mediaPromise)
    app.mediaPromise = openMedia().finally(() => { app.mediaPromise = null; });
  return app.mediaPromise;
}

async function openMedia() {
  if (!navigator.mediaDevices?.getUserMedia) {
    app.mediaProblem = 'This browser cannot use a camera on this page (it needs https://)';
    return null;
  }
  const attempts = [{ video: true, audio: true }, { video: true }];
  let lastError = null;
  for (const constraints of attempts) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      if (!stream.getVideoTracks().length) {
        stream.getTracks().forEach((t) => t.stop());
        continue;
      }
      app.stream = stream;
      ui.localVideo.srcObject = stream;
      ui.localVideo.play().catch(() => {});
      updateMediaToggles();
      return stream;
    } catch (err) {
      lastError = err;
      // Denied is denied: asking for less will not change the answer.
      if (err?.name === 'NotAllowedError' || err?.name === 'SecurityError')
        break;
    }
  }
  app.mediaProblem = lastError?.name === 'NotAllowedError' || lastError?.name === 'SecurityError'
    ? 'Camera access was denied'
    : 'No usable camera was found';
  return null;
}

function stopMedia() {
  app.stream?.getTracks().forEach((t) => t.stop());
  app.stream = null;
  ui.localVideo.srcObject = null;
  ui.localOverlay.dataset.show = 'true';
  ui.localText.textContent = 'Your camera appears here.';
  updateMediaToggles();
}

// ---- the conversation -------------------------------------------------

function findData() {
  const data = { mode: app.mode };
  const list = interests.commit();
  if (list.length)
    data.interests = list;
  return data;
}

function sendFind() {
  app.queued = false;
  if (!socket.send('find_match', findData()))
    return false;
  app.searchStartedAt = Date.now();
  return true;
}

function searchingText() {
  const list = interests.values;
  const who = app.mode === 'text' ? 'a stranger to chat with' : 'a stranger';
  return list.length
    ? `Looking for ${who} who likes ${list.join(', ')}\u2026`
    : `Looking for ${who}\u2026`;
}

function requestMatch() {
  clearTimeout(app.retryTimer);
  setState('waiting');
  setOverlay('Looking for a stranger\u2026');
  if (sendFind())
    setStatus(searchingText());
  else
    setStatus('Connecting to megle\u2026');   // sent again on open
}

function endCall() {
  app.call?.close();
  app.call = null;
  app.partnerId = null;
  app.matchId = null;
  app.matchMode = null;
  app.initiator = false;
  ui.remoteVideo.srcObject = null;
  showShared([]);
  chat.setEnabled(false);
}

function leavePartner(note) {
  if (app.partnerId) {
    socket.send('leave', { target_id: app.partnerId });
    chat.system(note);
  }
  endCall();
}

// No camera: say why, and go on as a text stranger.
function fallBackToText(reason) {
  setMode('text');
  stopMedia();
  showError(`${reason}, so you are in text mode. Untick \u201cText only\u201d to try the camera again.`);
}

async function start() {
  if (app.state !== 'idle')
    return;
  app.want = true;
  showError('');
  ui.start.disabled = true;
  ui.textOnly.disabled = true;
  if (app.mode === 'video') {
    setStatus('Starting your camera\u2026');
    const stream = await ensureMedia();
    if (!app.want || app.state !== 'idle')
      return;   // Stop was pressed while the camera prompt was open
    if (!stream)
      fallBackToText(app.mediaProblem ?? 'The camera is unavailable');
  }
  requestMatch();
}

function next() {
  if (app.state !== 'matched')
    return;
  showError('');
  leavePartner('You left.');
  requestMatch();
}

// Report the current stranger (the server counts distinct reporters and
// bans repeat offenders), then move on to someone else.
function report() {
  if (app.state !== 'matched')
    return;
  socket.send('report', { reason: 'reported from the web client' });
  next();
  setStatus('Reported, thank you. Looking for someone new\u2026');
}

function stop() {
  if (!app.want && app.state === 'idle')
    return;
  app.want = false;
  clearTimeout(app.retryTimer);
  if (app.state === 'matched')
    leavePartner('You left.');
  else if (app.state === 'waiting')
    socket.send('leave', {});
  endCall();
  stopMedia();
  setState('idle');
  setOverlay('Press Start to meet a stranger.');
  setStatus('Stopped. Press Start to meet someone new.');
}

function onMatchFound(data) {
  const partner = typeof data.partner_id === 'string' ? data.partner_id : null;
  if (!partner)
    return;
  if (!app.want) {
    // Matched while Stop was on its way: politely hang up.
    socket.send('leave', { target_id: partner });
    return;
  }
  endCall();
  showError('');
  clearTimeout(app.retryTimer);
  app.partnerId = partner;
  app.matchId = typeof data.match_id === 'string' ? data.match_id : null;
  app.matchMode = data.mode === 'text' || data.mode === 'video' ? data.mode : app.mode;
  app.initiator = data.initiator === true;
  app.matches += 1;
  app.matchedAt = Date.now();
  const shared = Array.isArray(data.interests)
    ? data.interests.filter((s) => typeof s === 'string') : [];

  const focusChat = !document.activeElement || document.activeElement === document.body
    || document.activeElement === ui.stop || document.activeElement === ui.next;
  setState('matched');
  showShared(shared);
  chat.clear();
  chat.system(app.matchMode === 'text'
    ? 'You\u2019re now chatting with a stranger. Say hi!'
    : 'You\u2019re now talking to a stranger.');
  if (shared.length)
    chat.system(`You both like ${shared.join(', ')}.`);
  if (focusChat)
    chat.focus();

  if (app.matchMode === 'text') {
    setOverlay('');
    setStatus('You\u2019re chatting with a stranger. Say hi!');
    return;
  }

  setOverlay('Connecting to a stranger\u2026');
  setStatus('Stranger found. Connecting\u2026');
  const call = new Call({
    initiator: app.initiator,
    iceServers: app.iceServers,
    stream: app.stream,
    send: (type, payload) => {
      if (app.call === call)
        socket.send('signal', { target_id: partner, type, payload });
    },
    onTrack: (stream) => {
      if (app.call !== call)
        return;
      if (ui.remoteVideo.srcObject !== stream)
        ui.remoteVideo.srcObject = stream;
      ui.remoteVideo.play().catch(() => {});
    },
    onState: (state) => {
      if (app.call !== call)
        return;
      if (state === 'connected')
        setStatus('You\u2019re talking to a stranger. Say hi!');
      else if (state === 'disconnected')
        setStatus('Connection unstable\u2026');
    },
    onFailed: () => {
      if (app.call !== call)
        return;
      leavePartner('The video connection failed.');
      setStatus('Could not connect to that stranger. Finding someone new\u2026');
      requestMatch();
    },
  });
  app.call = call;
  call.start();
}

function onPartnerLeft(data) {
  if (!app.partnerId || data.from !== app.partnerId)
    return;   // about an older match
  chat.system('Stranger has disconnected.');
  endCall();
  if (app.want) {
    requestMatch();
    setStatus('Stranger left. Looking for someone new\u2026');
  } else {
    setState('idle');
    setStatus('Stranger left.');
  }
}

function onChat(data) {
  if (!app.partnerId || data.from !== app.partnerId || typeof data.text !== 'string')
    return;   // not from the current stranger
  chat.stranger(data.text);
}

function onTyping(data) {
  if (app.partnerId && data.from === app.partnerId)
    chat.setPartnerTyping(data.typing === true);
}

function onServerError(data) {
  const code = typeof data.code === 'string' ? data.code : 'error';
  const message = typeof data.message === 'string' && data.message
    ? data.message : code;
  if (RACE_ERRORS.has(code)) {
    console.debug('megle: ignored', code, message);
    return;
  }
  if (code === 'too_long') {
    const text = chat.markLastFailed('too long');
    if (text !== null)
      chat.restore(text);   // give it back to shorten
    showError('That message is too long and was not sent. Please shorten it.');
    return;
  }
  if (code === 'already_matched' && app.state === 'waiting') {
    // The server still pairs us with someone we already left: end that
    // and ask again.
    socket.send('leave', {});
    sendFind();
    return;
  }
  showError(message);
  if (RETRY_ERRORS.has(code) && app.want && app.state === 'waiting') {
    clearTimeout(app.retryTimer);
    app.retryTimer = setTimeout(() => {
      if (app.want && app.state === 'waiting')
        requestMatch();
    }, RETRY_MS);
  }
}

function onEvent(event, data) {
  switch (event) {
  case 'welcome':
    app.myId = typeof data.id === 'string' ? data.id : null;
    if (Array.isArray(data.ice_servers))
      app.iceServers = data.ice_servers;
    if (typeof data.online === 'number')
      setOnlineCount(data.online);
    break;
  case 'online':
    setOnlineCount(data.count);
    break;
  case 'waiting':
    if (app.state === 'waiting') {
      app.queued = true;
      setStatus(searchingText());
    }
    break;
  case 'match_found':
    onMatchFound(data);
    break;
  case 'signal':
    if (app.call && data.sender_id === app.partnerId)
      app.call.signal(data.type, data.payload);
    break;
  case 'chat':
    onChat(data);
    break;
  case 'typing':
    onTyping(data);
    break;
  case 'partner_left':
    onPartnerLeft(data);
    break;
  case 'error':
    onServerError(data);
    break;
  default:
    break;   // newer server events this page does not know
  }
}

function onSocketOpen() {
  setLink(true);
  if (app.want && app.state === 'waiting')
    requestMatch();
  else if (app.state === 'idle')
    setStatus(app.want ? 'Starting\u2026' : 'Press Start to meet a stranger.');
}

function onSocketClose() {
  setLink(false);
  setOnlineCount(null);
  app.myId = null;
  // The server treats a closed socket as leave: this conversation is over.
  if (app.call || app.state === 'matched') {
    if (app.partnerId)
      chat.system('Connection lost.');
    endCall();
    if (app.want) {
      setState('waiting');
      setOverlay('Looking for a stranger\u2026');
    } else {
      setState('idle');
    }
  }
  setStatus('Connection lost. Reconnecting\u2026');
}

// ---- wiring -------------------------------------------------------------

ui.start.addEventListener('click', start);
ui.next.addEventListener('click', next);
ui.stop.addEventListener('click', stop);
ui.report.addEventListener('click', report);
ui.textOnly.addEventListener('change', () => {
  if (app.state !== 'idle') {
    ui.textOnly.checked = app.mode === 'text';
    return;
  }
  showError('');
  setMode(ui.textOnly.checked ? 'text' : 'video');
  if (app.mode === 'text')
    stopMedia();
});
ui.mute.addEventListener('click', () => {
  app.muted = !app.muted;
  updateMediaToggles();
});
ui.camera.addEventListener('click', () => {
  app.cameraOff = !app.cameraOff;
  updateMediaToggles();
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !e.repeat && !e.altKey && !e.ctrlKey && !e.metaKey) {
    e.preventDefault();
    next();
  }
});
ui.remoteVideo.addEventListener('playing', () => setOverlay(''));
ui.remoteVideo.addEventListener('emptied', () => {
  if (app.state !== 'matched' || app.matchMode === 'text')
    return;
  setOverlay('Connecting to a stranger\u2026');
});

// Read-only view for tests and the console: window.megle.state etc.
window.megle = Object.freeze({
  get state() { return app.state; },
  get online() { return socket.isOpen; },      // our WebSocket is open
  get connected() { return socket.isOpen; },
  get onlineCount() { return app.onlineCount; },
  get myId() { return app.myId; },
  get partnerId() { return app.partnerId; },
  get matchId() { return app.matchId; },
  get mode() { return app.mode; },
  get matchMode() { return app.matchMode; },
  get interests() { return interests.values; },
  get sharedInterests() { return app.shared.slice(); },
  get chatLog() { return chat.entries; },
  get partnerTyping() { return chat.partnerTyping; },
  get initiator() { return app.initiator; },
  get pc() { return app.call?.pc ?? null; },
  get matches() { return app.matches; },
  get searchStartedAt() { return app.searchStartedAt; },
  get queued() { return app.state === 'waiting' && app.queued; },
  get matchedAt() { return app.matchedAt; },
  get localStream() { return app.stream; },
  get iceServers() { return app.iceServers.slice(); },
});

setMode('video');
setState('idle');
setLink(false);
setOnlineCount(null);
socket.connect();
