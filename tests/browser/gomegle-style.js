// gomegle-style - the script of gomegle-style.html: a Go-megle-like client
// (see that file). A classic script, like a bundled React app. The test
// reads window.gomegle.{state, partnerId, pc}.
(function () {
  'use strict';
  var ws = new WebSocket('ws://' + location.host + '/ws');
  var localStream = null;
  var pc = null;
  var partnerId = null;
  var state = 'idle';
  var localVideo = document.getElementById('local-video');
  var remoteVideo = document.getElementById('remote-video');
  var statusLine = document.getElementById('status');

  function setState(s) {
    state = s;
    statusLine.textContent = s;
  }

  function send(event, data) {
    if (ws.readyState === WebSocket.OPEN)
      ws.send(JSON.stringify({ event: event, data: data }));
  }

  var media = navigator.mediaDevices.getUserMedia({ video: true, audio: true })
    .then(function (stream) {
      localStream = stream;
      localVideo.srcObject = stream;
    })
    .catch(function () { /* no camera: receive only */ });

  function closePeer() {
    if (pc)
      pc.close();
    pc = null;
    remoteVideo.srcObject = null;
  }

  function createPeer(initiator) {
    closePeer();
    pc = new RTCPeerConnection({ iceServers: [] });
    var mine = pc;
    if (localStream) {
      localStream.getTracks().forEach(function (t) { mine.addTrack(t, localStream); });
    }
    mine.ontrack = function (e) {
      if (mine !== pc)
        return;
      remoteVideo.srcObject = e.streams[0];
    };
    mine.onicecandidate = function (e) {
      if (e.candidate && mine === pc)
        send('signal', { target_id: partnerId, type: 'candidate', payload: e.candidate });
    };
    if (initiator) {
      mine.createOffer().then(function (offer) {
        return mine.setLocalDescription(offer).then(function () {
          send('signal', { target_id: partnerId, type: 'offer', payload: offer });
        });
      }).catch(function (err) { console.warn('offer failed', err); });
    }
  }

  function onSignal(d) {
    if (!pc || d.sender_id !== partnerId)
      return;
    var mine = pc;
    if (d.type === 'offer') {
      mine.setRemoteDescription(new RTCSessionDescription(d.payload))
        .then(function () { return mine.createAnswer(); })
        .then(function (answer) {
          return mine.setLocalDescription(answer).then(function () {
            send('signal', { target_id: partnerId, type: 'answer', payload: answer });
          });
        })
        .catch(function (err) { console.warn('answer failed', err); });
    } else if (d.type === 'answer') {
      mine.setRemoteDescription(new RTCSessionDescription(d.payload))
        .catch(function (err) { console.warn('answer apply failed', err); });
    } else if (d.type === 'candidate') {
      mine.addIceCandidate(new RTCIceCandidate(d.payload))
        .catch(function (err) { console.warn('candidate failed', err); });
    }
  }

  function findMatch() {
    setState('waiting');
    send('find_match', {});
  }

  ws.onmessage = function (e) {
    var msg = JSON.parse(e.data);
    var d = msg.data || {};
    switch (msg.event) {
    case 'waiting':
      setState('waiting');
      break;
    case 'match_found':
      partnerId = d.partner_id;
      setState('matched');
      createPeer(d.initiator);
      break;
    case 'signal':
      onSignal(d);
      break;
    case 'partner_left':
      closePeer();
      partnerId = null;
      setState('partner left');
      setTimeout(findMatch, 1000);
      break;
    default:
      break;   // welcome, error, ...: unknown to Go-megle
    }
  };

  document.getElementById('start').onclick = function () {
    media.then(findMatch);
  };
  document.getElementById('next').onclick = function () {
    if (partnerId)
      send('leave', { target_id: partnerId });
    closePeer();
    partnerId = null;
    findMatch();
  };

  window.gomegle = {
    get state() { return state; },
    get partnerId() { return partnerId; },
    get pc() { return pc; },
  };
})();
