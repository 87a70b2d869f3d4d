// socket - the client's one WebSocket to the gateway (/ws), speaking the
// {"event", "data"} envelope of docs/protocol.md. If the socket closes it
// reconnects by itself with exponential backoff (0.5 s doubling to 8 s, with
// jitter so that a restarted gateway is not hit by every client at once).

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 8000;

export class Socket {
  #url;
  #handlers;
  #ws = null;
  #attempt = 0;
  #timer = 0;

  // handlers: { open(), close(), event(name, data) }; every one optional.
  constructor(url, handlers) {
    this.#url = url;
    this.#handlers = handlers;
  }

  // The ws:// or wss:// URL of /ws on the host that served the page.
  static urlFor(location) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${location.host}/ws`;
  }

  get isOpen() {
    return this.#ws !== null && this.#ws.readyState === WebSocket.OPEN;
  }

  connect() {
    clearTimeout(this.#timer);
    this.#timer = 0;
    let ws;
    try {
      ws = new WebSocket(this.#url);
    } catch (err) {
      console.warn('megle: cannot open', this.#url, err);
      this.#scheduleReconnect();
      return;
    }
    this.#ws = ws;
    ws.addEventListener('open', () => {
      this.#attempt = 0;
      this.#handlers.open?.();
    });
    ws.addEventListener('message', (e) => this.#onMessage(e));
    ws.addEventListener('close', () => {
      if (this.#ws !== ws)
        return;
      this.#ws = null;
      this.#handlers.close?.();
      this.#scheduleReconnect();
    });
    // 'error' is always followed by 'close'; nothing to do here.
  }

  // Send one event. Returns false (and sends nothing) if the socket is not
  // open: the caller re-sends what still matters from its open() handler.
  send(event, data = {}) {
    if (!this.isOpen)
      return false;
    this.#ws.send(JSON.stringify({ event, data }));
    return true;
  }

  #onMessage(e) {
    if (typeof e.data !== 'string')
      return;
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch {
      return;
    }
    if (!msg || typeof msg.event !== 'string')
      return;
    const data = msg.data && typeof msg.data === 'object' ? msg.data : {};
    this.#handlers.event?.(msg.event, data);
  }

  #scheduleReconnect() {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 10);
    // Jitter: anywhere in [ceiling/2, ceiling].
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.#timer = setTimeout(() => this.connect(), delay);
  }
}
