// app - the megle page: camera, Start / Next / Stop, and the life of a chat.
//
//   idle --Start--> waiting --match_found--> matched --partner_left/Next--> waiting
//     ^                |                        |
//     +------Stop------+------------Stop--------+
//
// The server decides every match (docs/protocol.md); this page only asks
// (find_match), hangs up (leave), and relays WebRTC signals to the partner.
// window.megle exposes read-only state for tests and curious users.

import { Socket } from './socket.js';
import { Call } from './call.js';

const $ = (id) => document.getElementById(id);
const ui = {
  link: $('link'),
  status: $('status'),
  error: $('error'),
  start: $('start'),
  next: $('next'),
  stop: $('stop'),
  remoteVideo: $('remote-video'),
  remoteOverlay: $('remote-overlay'),
  overlayText: $('overlay-text'),
  localVideo: $('local-video'),
  localOverlay: $('local-overlay'),
  localText: $('local-text'),
};

// Errors that only mean "our leave/signal crossed the partner's leave on the
// wire": nothing the user can or should act on.
const RACE_ERRORS = new Set(['not_partner', 'not_matched']);
// Errors after which a find_match is worth retrying a bit later.
const RETRY_ERRORS = new Set(['unavailable', 'internal']);
const RETRY_MS = 2000;

const app = {
  state: 'idle',          // idle | waiting | matched
  want: false,            // the user pressed Start and not Stop
  myId: null,
  partnerId: null,
  matchId: null,
  initiator: false,
  iceServers: [],
  call: null,
  stream: null,           // local MediaStream, or null (denied / none)
  mediaPromise: null,
  matches: 0,             // how many calls this page has started
  retryTimer: 0,
};

const socket = new Socket(Socket.urlFor(location), {
  open: onSocketOpen,
  close: onSocketClose,
  event: onEvent,
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
  ui.stop.disabled = state === 'idle';
  // Keep keyboard focus on a live button when the focused one turns off.
  const focused = document.activeElement;
  if (focused instanceof HTMLButtonElement && focused.disabled)
    (state === 'idle' ? ui.start : ui.stop).focus();
}

function setLink(online) {
  ui.link.dataset.state = online ? 'online' : 'connecting';
  ui.link.textContent = online ? 'online' : 'connecting\u2026';
}

// ---- camera -------------------------------------------------------------

// Ask for camera and microphone once; later calls reuse the stream. Never
// throws: without media we still join, and only receive.
function ensureMedia() {
  if (app.stream && app.stream.getTracks().some((t) => t.readyState === 'live'))
    return Promise.resolve(app.stream);
  if (!app.mediaPromise)
    app.mediaPromise = openMedia().finally(() => { app.mediaPromise = null; });
  return app.mediaPromise;
}

async function openMedia() {
  if (!navigator.mediaDevices?.getUserMedia) {
    mediaUnavailable('This browser cannot use a camera here (a secure https:// page is needed). You can still watch and listen.');
    return null;
  }
  const attempts = [{ video: true, audio: true }, { video: true }, { audio: true }];
  let lastError = null;
  for (const constraints of attempts) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      app.stream = stream;
      ui.localVideo.srcObject = stream;
      ui.localVideo.play().catch(() => {});
      ui.localOverlay.dataset.show = stream.getVideoTracks().length ? 'false' : 'true';
      ui.localText.textContent = stream.getVideoTracks().length ? '' : 'Microphone only.';
      return stream;
    } catch (err) {
      lastError = err;
      // Denied is denied: asking for less will not change the answer.
      if (err?.name === 'NotAllowedError' || err?.name === 'SecurityError')
        break;
    }
  }
  if (lastError?.name === 'NotAllowedError' || lastError?.name === 'SecurityError')
    mediaUnavailable('Camera and microphone access was denied. You can still see and hear strangers; allow access in your browser\u2019s site settings to be seen.');
  else
    mediaUnavailable('No usable camera or microphone was found. You can still see and hear strangers.');
  return null;
}

function mediaUnavailable(message) {
  app.stream = null;
  ui.localVideo.srcObject = null;
  ui.localOverlay.dataset.show = 'true';
  ui.localText.textContent = 'Camera off.';
  showError(message);
}

function stopMedia() {
  app.stream?.getTracks().forEach((t) => t.stop());
  app.stream = null;
  ui.localVideo.srcObject = null;
  ui.localOverlay.dataset.show = 'true';
  ui.localText.textContent = 'Your camera appears here.';
}

// ---- the chat ---------------------------------------------------------

function requestMatch() {
  clearTimeout(app.retryTimer);
  setState('waiting');
  setOverlay('Looking for a stranger\u2026');
  if (socket.send('find_match', {}))
    setStatus('Looking for a stranger\u2026');
  else
    setStatus('Connecting to megle\u2026');   // sent again on open
}

function endCall() {
  app.call?.close();
  app.call = null;
  app.partnerId = null;
  app.matchId = null;
  app.initiator = false;
  ui.remoteVideo.srcObject = null;
}

function leavePartner() {
  if (app.partnerId)
    socket.send('leave', { target_id: app.partnerId });
  endCall();
}

async function start() {
  if (app.state !== 'idle')
    return;
  app.want = true;
  showError('');
  ui.start.disabled = true;
  setStatus('Starting your camera\u2026');
  await ensureMedia();
  if (!app.want || app.state !== 'idle')
    return;   // Stop was pressed while the camera prompt was open
  requestMatch();
}

function next() {
  if (app.state !== 'matched')
    return;
  showError('');
  leavePartner();
  requestMatch();
}

function stop() {
  if (!app.want && app.state === 'idle')
    return;
  app.want = false;
  clearTimeout(app.retryTimer);
  if (app.state === 'matched')
    leavePartner();
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
  app.initiator = data.initiator === true;
  app.matches += 1;
  setState('matched');
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
      leavePartner();
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
  endCall();
  if (app.want) {
    requestMatch();
    setStatus('Stranger left. Looking for someone new\u2026');
  } else {
    setState('idle');
    setStatus('Stranger left.');
  }
}

function onServerError(data) {
  const code = typeof data.code === 'string' ? data.code : 'error';
  const message = typeof data.message === 'string' && data.message
    ? data.message : code;
  if (RACE_ERRORS.has(code)) {
    console.debug('megle: ignored', code, message);
    return;
  }
  if (code === 'already_matched' && app.state === 'waiting') {
    // The server still pairs us with someone we already left: end that
    // and ask again.
    socket.send('leave', {});
    socket.send('find_match', {});
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
    break;
  case 'waiting':
    if (app.state === 'waiting')
      setStatus('Looking for a stranger\u2026');
    break;
  case 'match_found':
    onMatchFound(data);
    break;
  case 'signal':
    if (app.call && data.sender_id === app.partnerId)
      app.call.signal(data.type, data.payload);
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
  app.myId = null;
  // The server treats a closed socket as leave: this call is over.
  if (app.call || app.state === 'matched') {
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
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !e.repeat && !e.altKey && !e.ctrlKey && !e.metaKey) {
    e.preventDefault();
    next();
  }
});
ui.remoteVideo.addEventListener('playing', () => setOverlay(''));
ui.remoteVideo.addEventListener('emptied', () => {
  if (app.state !== 'matched')
    return;
  setOverlay('Connecting to a stranger\u2026');
});

// Read-only view for tests and the console: window.megle.state etc.
window.megle = Object.freeze({
  get state() { return app.state; },
  get online() { return socket.isOpen; },
  get myId() { return app.myId; },
  get partnerId() { return app.partnerId; },
  get matchId() { return app.matchId; },
  get initiator() { return app.initiator; },
  get pc() { return app.call?.pc ?? null; },
  get matches() { return app.matches; },
  get localStream() { return app.stream; },
  get iceServers() { return app.iceServers.slice(); },
});

setState('idle');
setLink(false);
socket.connect();
