// chat - the text chat panel: the message log (every message is shown as
// text, never parsed as HTML), the message box, "Stranger is typing…", and
// our own typing signal: `typing true` when we start typing, `typing false`
// after TYPING_IDLE_MS without a keystroke, when the box is emptied, or when
// the message is sent.

export const TYPING_IDLE_MS = 2000;

export class ChatPanel {
  #log;
  #typing;
  #form;
  #input;
  #send;
  #onSend;
  #onTyping;
  #entries = [];
  #enabled = false;
  #typingSent = false;
  #typingTimer = 0;

  // elements: { log (<ol>), typing (<p>), form, input, send (button) }
  // handlers: { onSend(text) -> bool (sent), onTyping(bool) }
  constructor({ log, typing, form, input, send }, { onSend, onTyping }) {
    this.#log = log;
    this.#typing = typing;
    this.#form = form;
    this.#input = input;
    this.#send = send;
    this.#onSend = onSend;
    this.#onTyping = onTyping;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#submit();
    });
    input.addEventListener('input', () => this.#onInput());
  }

  // A copy of the log: [{ who: 'me'|'stranger'|'system', text, failed }].
  get entries() {
    return this.#entries.map((e) => ({ who: e.who, text: e.text, failed: e.failed }));
  }

  get partnerTyping() {
    return this.#typing.dataset.show === 'true';
  }

  clear() {
    this.#entries = [];
    this.#log.replaceChildren();
  }

  system(text) {
    this.#append('system', text);
  }

  stranger(text) {
    this.setPartnerTyping(false);
    this.#append('stranger', text);
  }

  // The last message we sent did not go through (e.g. too long).
  markLastFailed(reason) {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const entry = this.#entries[i];
      if (entry.who !== 'me')
        continue;
      if (!entry.failed) {
        entry.failed = true;
        entry.li.classList.add('msg-failed');
        const note = document.createElement('span');
        note.className = 'msg-note';
        note.textContent = ` (not sent: ${reason})`;
        entry.li.append(note);
      }
      return entry.text;
    }
    return null;
  }

  // Put text back in an empty message box (e.g. a refused message, to
  // shorten it).
  restore(text) {
    if (this.#input.disabled || this.#input.value !== '')
      return;
    this.#input.value = text;
    this.#updateSend();
  }

  // Matched: the box is usable. Not matched: it is off and our typing state
  // is forgotten (there is nobody to tell).
  setEnabled(enabled) {
    this.#enabled = enabled;
    this.#input.disabled = !enabled;
    this.#updateSend();
    if (!enabled) {
      clearTimeout(this.#typingTimer);
      this.#typingSent = false;
      this.setPartnerTyping(false);
    }
  }

  setPartnerTyping(typing) {
    this.#typing.dataset.show = typing ? 'true' : 'false';
    this.#typing.textContent = typing ? 'Stranger is typing\u2026' : '';
  }

  focus() {
    if (!this.#input.disabled)
      this.#input.focus();
  }

  get hasFocus() {
    return document.activeElement === this.#input;
  }

  #append(who, text) {
    const li = document.createElement('li');
    li.className = `msg msg-${who}`;
    if (who !== 'system') {
      const name = document.createElement('span');
      name.className = 'msg-who';
      name.textContent = who === 'me' ? 'You: ' : 'Stranger: ';
      li.append(name);
    }
    const body = document.createElement('span');
    body.className = 'msg-text';
    body.textContent = text;
    li.append(body);
    this.#entries.push({ who, text, failed: false, li });
    this.#log.append(li);
    // Keep the newest line in view unless the reader scrolled up.
    const log = this.#log;
    if (log.scrollHeight - log.scrollTop - log.clientHeight < li.offsetHeight + 48)
      log.scrollTop = log.scrollHeight;
  }

  #submit() {
    const text = this.#input.value;
    if (!this.#enabled || text.trim() === '')
      return;
    if (!this.#onSend(text))
      return;
    this.#input.value = '';
    this.#append('me', text);
    this.#updateSend();
    this.#stopTyping();
  }

  #onInput() {
    this.#updateSend();
    if (!this.#enabled)
      return;
    if (this.#input.value === '') {
      this.#stopTyping();
      return;
    }
    if (!this.#typingSent) {
      this.#typingSent = true;
      this.#onTyping(true);
    }
    clearTimeout(this.#typingTimer);
    this.#typingTimer = setTimeout(() => this.#stopTyping(), TYPING_IDLE_MS);
  }

  #stopTyping() {
    clearTimeout(this.#typingTimer);
    if (!this.#typingSent)
      return;
    this.#typingSent = false;
    if (this.#enabled)
      this.#onTyping(false);
  }

  #updateSend() {
    this.#send.disabled = !this.#enabled || this.#input.value.trim() === '';
  }
}
