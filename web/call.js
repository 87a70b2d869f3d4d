// call - one WebRTC call with one stranger: the RTCPeerConnection, its offer
// or answer, and the ICE candidates, exchanged through the gateway's `signal`
// events. Signals are applied strictly one after another (SDP operations are
// asynchronous), and candidates that arrive before the remote description is
// set are buffered and added right after it.

export class Call {
  #pc;
  #send;
  #onTrack;
  #onState;
  #onFailed;
  #remote = new MediaStream();
  #remoteSet = false;
  #pending = [];
  #chain = Promise.resolve();
  #closed = false;
  #failed = false;

  // options: {
  //   initiator   true: this side creates the offer
  //   iceServers  RTCIceServer[] (may be empty)
  //   stream      local MediaStream or null (then we only receive)
  //   send(type, payload)     sends a `signal` to the partner
  //   onTrack(MediaStream)    the stranger's media arrived
  //   onState(state)          RTCPeerConnection.connectionState changed
  //   onFailed(reason)        the call cannot work; the owner hangs up
  // }
  constructor(options) {
    this.initiator = Boolean(options.initiator);
    this.#send = options.send;
    this.#onTrack = options.onTrack;
    this.#onState = options.onState;
    this.#onFailed = options.onFailed;

    const pc = new RTCPeerConnection({ iceServers: options.iceServers ?? [] });
    this.#pc = pc;
    const stream = options.stream;
    for (const kind of ['audio', 'video']) {
      const tracks = stream ? stream.getTracks().filter((t) => t.kind === kind) : [];
      if (tracks.length > 0)
        tracks.forEach((t) => pc.addTrack(t, stream));
      else if (this.initiator)
        // No camera/microphone: still offer to receive, so media negotiates.
        pc.addTransceiver(kind, { direction: 'recvonly' });
      // The answerer gets its transceivers from the offer.
    }

    pc.addEventListener('track', (e) => {
      if (this.#closed)
        return;
      this.#remote.addTrack(e.track);
      this.#onTrack(this.#remote);
    });
    pc.addEventListener('icecandidate', (e) => {
      if (!this.#closed && e.candidate)
        this.#send('candidate', e.candidate.toJSON());
    });
    pc.addEventListener('connectionstatechange', () => {
      if (this.#closed)
        return;
      const state = pc.connectionState;
      this.#onState(state);
      // 'disconnected' is often transient (ICE recovers by itself): only a
      // definite failure ends the call.
      if (state === 'failed')
        this.#fail('connection failed');
    });
  }

  get pc() {
    return this.#pc;
  }

  // Begin negotiating: the initiator sends its offer.
  start() {
    if (!this.initiator)
      return;
    this.#enqueue(async () => {
      const offer = await this.#pc.createOffer();
      await this.#pc.setLocalDescription(offer);
      this.#send('offer', this.#pc.localDescription.toJSON());
    }, true);
  }

  // Apply one `signal` from the partner.
  signal(type, payload) {
    if (type === 'offer') {
      this.#enqueue(async () => {
        await this.#pc.setRemoteDescription(s_description('offer', payload));
        await this.#flushCandidates();
        const answer = await this.#pc.createAnswer();
        await this.#pc.setLocalDescription(answer);
        this.#send('answer', this.#pc.localDescription.toJSON());
      }, true);
    } else if (type === 'answer') {
      this.#enqueue(async () => {
        if (this.#pc.signalingState !== 'have-local-offer')
          return;   // a stray answer: nothing to apply it to
        await this.#pc.setRemoteDescription(s_description('answer', payload));
        await this.#flushCandidates();
      }, true);
    } else if (type === 'candidate') {
      if (!payload || typeof payload !== 'object' || !payload.candidate)
        return;   // end-of-candidates or junk: nothing to add
      this.#enqueue(async () => {
        if (this.#remoteSet)
          await this.#addCandidate(payload);
        else
          this.#pending.push(payload);
      }, false);
    }
  }

  close() {
    if (this.#closed)
      return;
    this.#closed = true;
    this.#pending = [];
    this.#pc.close();
  }

  async #flushCandidates() {
    this.#remoteSet = true;
    const pending = this.#pending;
    this.#pending = [];
    for (const c of pending)
      await this.#addCandidate(c);
  }

  async #addCandidate(init) {
    try {
      await this.#pc.addIceCandidate(init);
    } catch (err) {
      // One bad candidate does not doom the call; others may work.
      if (!this.#closed)
        console.warn('megle: ignoring ICE candidate', err);
    }
  }

  // Run step after every earlier one; a failure of a `fatal` step (SDP)
  // ends the call.
  #enqueue(step, fatal) {
    this.#chain = this.#chain.then(async () => {
      if (this.#closed)
        return;
      try {
        await step();
      } catch (err) {
        if (this.#closed)
          return;
        console.warn('megle: signalling step failed', err);
        if (fatal)
          this.#fail(String(err?.message ?? err));
      }
    });
  }

  #fail(reason) {
    if (this.#failed || this.#closed)
      return;
    this.#failed = true;
    this.#onFailed(reason);
  }
}

// An RTCSessionDescriptionInit from a signal payload: the Go-megle client and
// ours send {type, sdp}; a bare SDP string is accepted too.
function s_description(type, payload) {
  if (typeof payload === 'string')
    return { type, sdp: payload };
  return { type, sdp: String(payload?.sdp ?? '') };
}
