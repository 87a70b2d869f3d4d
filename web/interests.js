// interests - the interests input: a text box that turns what you type into
// removable chips (Enter or a comma ends one; Backspace in the empty box
// removes the last). Interests are normalised the way the gateway does it
// (docs/protocol.md): trimmed, ASCII lower-cased, inner whitespace collapsed
// to one space; empty ones and duplicates dropped; at most 10, each at most
// 32 bytes of UTF-8. So what the page shows is what the server matches on.

export const MAX_INTERESTS = 10;
export const MAX_INTEREST_BYTES = 32;

const ASCII_SPACE = /[ \t\n\r\f\v]+/g;
const encoder = new TextEncoder();

// The gateway's normal form of one interest ('' when nothing is left).
export function normalizeInterest(text) {
  return String(text)
    .replace(ASCII_SPACE, ' ')
    .replace(/^ | $/g, '')
    .replace(/[A-Z]/g, (c) => c.toLowerCase());
}

export class InterestInput {
  #input;
  #list;
  #onChange;
  #onError;
  #values = [];
  #shared = new Set();

  // elements: { input (text <input>), list (<ul> for the chips), box (the
  //   element that looks like the input: a click on it focuses the input) }
  // handlers: { onChange(values), onError(message or '') }
  constructor({ input, list, box }, { onChange, onError } = {}) {
    this.#input = input;
    this.#list = list;
    this.#onChange = onChange ?? (() => {});
    this.#onError = onError ?? (() => {});
    input.addEventListener('keydown', (e) => this.#onKeyDown(e));
    input.addEventListener('input', () => this.#onInput());
    input.addEventListener('blur', () => this.commit());
    box?.addEventListener('click', (e) => {
      if (e.target === box || e.target === list)
        input.focus();
    });
  }

  // The current interests (a copy).
  get values() {
    return this.#values.slice();
  }

  // Turn whatever is still typed in the box into chips; returns values.
  commit() {
    const text = this.#input.value;
    if (text.trim() !== '') {
      this.#input.value = '';
      this.#addAll(text.split(','));
    }
    return this.values;
  }

  // Highlight the chips the stranger shares with us ([] clears).
  setShared(list) {
    this.#shared = new Set(list);
    this.#render();
  }

  #addAll(parts) {
    let error = '';
    let changed = false;
    for (const part of parts) {
      const value = normalizeInterest(part);
      if (value === '' || this.#values.includes(value))
        continue;
      if (encoder.encode(value).length > MAX_INTEREST_BYTES) {
        error = `"${value}" is too long: at most ${MAX_INTEREST_BYTES} letters.`;
        continue;
      }
      if (this.#values.length >= MAX_INTERESTS) {
        error = `At most ${MAX_INTERESTS} interests.`;
        break;
      }
      this.#values.push(value);
      changed = true;
    }
    this.#onError(error);
    if (changed) {
      this.#render();
      this.#onChange(this.values);
    }
  }

  #remove(index) {
    this.#values.splice(index, 1);
    this.#render();
    this.#onChange(this.values);
    this.#onError('');
  }

  #onKeyDown(e) {
    if (e.key === 'Enter') {
      e.preventDefault();
      this.commit();
    } else if (e.key === 'Backspace' && this.#input.value === '' && this.#values.length) {
      e.preventDefault();
      this.#remove(this.#values.length - 1);
    }
  }

  // A comma (typed or pasted) ends every interest before it.
  #onInput() {
    const text = this.#input.value;
    const cut = text.lastIndexOf(',');
    if (cut < 0)
      return;
    this.#input.value = text.slice(cut + 1);
    this.#addAll(text.slice(0, cut).split(','));
  }

  #render() {
    const items = this.#values.map((value, index) => {
      const li = document.createElement('li');
      li.className = 'chip';
      if (this.#shared.has(value))
        li.classList.add('chip-shared');
      const label = document.createElement('span');
      label.textContent = value;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'chip-remove';
      remove.textContent = '\u00d7';
      remove.setAttribute('aria-label', `Remove interest ${value}`);
      remove.addEventListener('click', () => {
        this.#remove(index);
        this.#input.focus();
      });
      li.append(label, remove);
      return li;
    });
    this.#list.replaceChildren(...items);
  }
}
