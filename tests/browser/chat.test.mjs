// chat.test - the stranger experience beyond video, in real browsers through
// the real megle (redis-server, one matcher, two gateways): text chat and
// the typing indicator reach the partner (HTML shown literally, in order,
// the length cap reported); a page whose camera is denied falls back to text
// mode and chats with another text page while a video page is never matched
// with it; the online count on the page follows the pages connected; and
// nobody is matched again at once with someone they just left while another
// stranger waits. Run by ctest inside a loopback-only network namespace
// (tests/browser.cmake).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { artifactsDir, sourceDir, startStack } from './stack.mjs';
import {
  launchBrowser, megleState, startOn, waitMatchNumber, waitOn, waitQueued, withPages as withPagesIn,
} from './browser.mjs';

const TEST_TIMEOUT_MS = 90000;
// Small enough to test the byte cap with multi-byte text.
const CHAT_MAX = 500;

let stack;
let browser;
let gw1;
let gw2;

before(async () => {
  stack = await startStack({
    name: 'browser-chat',
    gateways: [
      { id: 'gw-c1', webRoot: `${sourceDir}/web` },
      { id: 'gw-c2', webRoot: `${sourceDir}/web` },
    ],
    gatewayEnv: { MEGLE_CHAT_MAX: String(CHAT_MAX) },
    // Long enough that nobody here is relaxed out of an interest queue.
    matcherEnv: { MEGLE_INTEREST_WAIT_MS: '30000', MEGLE_REMATCH_BLOCK_MS: '60000' },
  });
  [gw1, gw2] = stack.gateways;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const bad = (await stack?.stop()) ?? [];
  if (stack)
    console.error(`process logs: ${stack.logDir}`);
  assert.deepEqual(bad, [], 'processes that died or exited non-zero');
});

function withPages(label, body) {
  return withPagesIn(browser, stack, artifactsDir, label, body);
}

// Wait until a and b are in a match, then check it is with each other.
async function assertPaired(a, b, n = 1) {
  await Promise.all([waitMatchNumber(a, n), waitMatchNumber(b, n)]);
  const [sa, sb] = await Promise.all([megleState(a), megleState(b)]);
  assert.equal(sa.partnerId, sb.myId, `${a.megleName} is matched with ${b.megleName}`);
  assert.equal(sb.partnerId, sa.myId, `${b.megleName} is matched with ${a.megleName}`);
  assert.equal(sa.matchId, sb.matchId, 'one match id');
  return [sa, sb];
}

// page's current partner is `want`, and not `notWant`.
async function assertPartnerIs(page, want, notWant) {
  const [s, w, n] = await Promise.all([megleState(page), megleState(want), megleState(notWant)]);
  assert.notEqual(s.partnerId, n.myId, `${page.megleName} was matched again with ${notWant.megleName}`);
  assert.equal(s.partnerId, w.myId, `${page.megleName} is matched with ${want.megleName}`);
}

async function sendChat(page, text) {
  await page.fill('#chat-input', text);
  await page.press('#chat-input', 'Enter');
}

// The texts of the page's chat log lines from `who`.
async function linesFrom(page, who) {
  return (await megleState(page)).chatLog.filter((e) => e.who === who).map((e) => e.text);
}

function waitLines(page, who, count) {
  return waitOn(page, ([w, n]) => window.megle.chatLog.filter((e) => e.who === w).length >= n, [who, count]);
}

// Set the interests box as a person would: type, commas end an interest.
async function setInterests(page, text) {
  await page.fill('#interest-input', text);
}

describe('browser chat', { timeout: TEST_TIMEOUT_MS * 6 }, () => {
  it('a chat message and the typing indicator reach the partner', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPages('chat', async (open) => {
      const a = await open(`${gw1.url}/`, 'A');
      const b = await open(`${gw2.url}/`, 'B');
      await Promise.all([startOn(a), startOn(b)]);
      await assertPaired(a, b);

      // Typing: shown at the partner, and gone after ~2 s without a key.
      await a.locator('#chat-input').pressSequentially('hel');
      await waitOn(b, () => window.megle.partnerTyping
        && document.getElementById('typing').textContent === 'Stranger is typing\u2026');
      const seenTyping = Date.now();
      await waitOn(b, () => !window.megle.partnerTyping
        && document.getElementById('typing').textContent === '');
      assert.ok(Date.now() - seenTyping >= 1000, 'the indicator stayed while A paused (idle timer ~2 s)');

      // A message with markup is shown as text at both ends; typing stops.
      const html = '<b>bold</b> & <img src=x onerror="window.__xss=1"> "quoted" \u00e9\u2713';
      await a.locator('#chat-input').pressSequentially('x');
      await waitOn(b, () => window.megle.partnerTyping);
      await sendChat(a, html);
      await waitLines(b, 'stranger', 1);
      await waitOn(b, () => !window.megle.partnerTyping);
      assert.deepEqual(await linesFrom(b, 'stranger'), [html]);
      assert.deepEqual(await linesFrom(a, 'me'), [html]);
      const dom = await b.evaluate(() => {
        const log = document.getElementById('chat-log');
        const last = log.lastElementChild;
        return {
          text: last.querySelector('.msg-text').textContent,
          who: last.querySelector('.msg-who').textContent,
          elements: log.querySelectorAll('b, img').length,
          xss: window.__xss ?? null,
          live: log.getAttribute('aria-live'),
        };
      });
      assert.deepEqual(dom, { text: html, who: 'Stranger: ', elements: 0, xss: null, live: 'polite' });

      // Several messages: each arrives once, in order; replies come back.
      const burst = ['one', 'two', 'three', 'four', 'five'];
      for (const t of burst)
        await sendChat(a, t);
      await waitLines(b, 'stranger', 1 + burst.length);
      await sendChat(b, 'hello back');
      await waitLines(a, 'stranger', 1);
      assert.deepEqual(await linesFrom(b, 'stranger'), [html, ...burst]);
      assert.deepEqual(await linesFrom(a, 'stranger'), ['hello back']);

      // The cap counts UTF-8 bytes: CHAT_MAX bytes pass, one more is refused
      // with too_long, shown to the sender and never delivered.
      const atCap = '\u00e9'.repeat(CHAT_MAX / 2);
      await sendChat(a, atCap);
      await waitLines(b, 'stranger', 2 + burst.length);
      await sendChat(a, `${atCap}x`);
      await waitOn(a, () => window.megle.chatLog.some((e) => e.who === 'me' && e.failed));
      assert.match(await a.textContent('#error'), /too long/i);
      assert.equal(await a.isVisible('#error'), true);
      await a.fill('#chat-input', '');
      await sendChat(a, 'after');
      await waitLines(b, 'stranger', 3 + burst.length);
      assert.deepEqual((await linesFrom(b, 'stranger')).slice(-2), [atCap, 'after'],
        'the refused message was not delivered');

      // Mute and camera toggles switch the local tracks off and back on.
      const tracks = () => a.evaluate(() => ({
        mute: document.getElementById('mute').getAttribute('aria-pressed'),
        camera: document.getElementById('camera').getAttribute('aria-pressed'),
        audio: window.megle.localStream.getAudioTracks().map((t) => t.enabled),
        video: window.megle.localStream.getVideoTracks().map((t) => t.enabled),
      }));
      assert.deepEqual(await tracks(), { mute: 'false', camera: 'false', audio: [true], video: [true] });
      await a.click('#mute');
      await a.click('#camera');
      assert.deepEqual(await tracks(), { mute: 'true', camera: 'true', audio: [false], video: [false] });
      await a.click('#mute');
      await a.click('#camera');
      assert.deepEqual(await tracks(), { mute: 'false', camera: 'false', audio: [true], video: [true] });
    });
  });

  it('camera denied: text mode chats with text pages, never with video pages', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPages('text-mode', async (open) => {
      // A video page waits first.
      const v = await open(`${gw1.url}/`, 'video');
      await startOn(v);
      await waitQueued(v);

      // A page whose camera is denied falls back to text mode, says so,
      // and is queued without being matched with the waiting video page.
      const d = await open(`${gw2.url}/`, 'denied', { denyMedia: true });
      await startOn(d);
      await waitQueued(d);
      const sd = await megleState(d);
      assert.equal(sd.mode, 'text');
      assert.match(await d.textContent('#error'), /denied/i, 'the page says the camera was denied');
      assert.match(await d.textContent('#error'), /text mode/i);
      assert.equal(await d.isChecked('#text-only'), true, '"Text only" is ticked');
      assert.equal(await d.isVisible('#videos'), false, 'no video tiles in text mode');
      const sv = await megleState(v);
      assert.equal(sv.state, 'waiting', 'the video page is still waiting');
      assert.equal(sv.matches, 0, 'the video page was not matched with the text page');

      // A page that ticks "Text only" is matched with the denied page.
      const t = await open(`${gw1.url}/`, 'text');
      await t.check('#text-only');
      await startOn(t);
      const [st, sd2] = await assertPaired(t, d);
      for (const s of [st, sd2]) {
        assert.equal(s.mode, 'text');
        assert.equal(s.matchMode, 'text', 'match_found says mode text');
        assert.equal(s.hasPc, false, 'no RTCPeerConnection in text mode');
      }
      assert.equal(await t.evaluate(() => window.megle.localStream), null, 'the text page never opened a camera');

      await sendChat(t, 'hi from text');
      await waitLines(d, 'stranger', 1);
      await sendChat(d, 'hi from denied');
      await waitLines(t, 'stranger', 1);
      assert.deepEqual(await linesFrom(d, 'stranger'), ['hi from text']);
      assert.deepEqual(await linesFrom(t, 'stranger'), ['hi from denied']);

      const sv2 = await megleState(v);
      assert.equal(sv2.state, 'waiting', 'the video page still waits: video meets only video');
      assert.equal(sv2.matches, 0);
    });
  });

  it('the online count on the page follows the connected pages', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPages('online', async (open) => {
      const pages = [];
      for (const [i, gw] of [gw1, gw2, gw1].entries())
        pages.push(await open(`${gw.url}/`, `P${i + 1}`));
      const shows = (n) => Promise.all(pages.filter((p) => !p.isClosed()).map((p) => waitOn(p,
        (k) => window.megle.onlineCount === k
          && document.getElementById('online-count').textContent === `${k} online`
          && !document.getElementById('online-count').hidden, n)));
      await shows(3);
      await pages[1].context().close();
      await shows(2);
      pages.push(await open(`${gw2.url}/`, 'P4'));
      pages.push(await open(`${gw2.url}/`, 'P5'));
      await shows(4);
    });
  });

  // A skips B while C waits: A meets C, not B again. B and C share no
  // interest, so they cannot take each other whatever the order in which the
  // matcher hears A's and B's new searches.
  it('Next does not re-match the stranger just skipped while another waits', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPages('rematch-next', async (open) => {
      const a = await open(`${gw1.url}/`, 'A');
      const b = await open(`${gw2.url}/`, 'B');
      const c = await open(`${gw2.url}/`, 'C');
      await setInterests(a, 'cats, dogs');
      await setInterests(b, 'cats');
      await setInterests(c, 'dogs');
      await startOn(b);
      await waitQueued(b);
      await startOn(a);
      const [sa] = await assertPaired(a, b);
      assert.deepEqual(sa.sharedInterests, ['cats']);
      await startOn(c);
      await waitQueued(c);

      await a.click('#next');
      await waitMatchNumber(a, 2);
      await assertPartnerIs(a, c, b);
      const [sa2] = await assertPaired(a, c, 1);
      assert.deepEqual(sa2.sharedInterests, ['dogs']);
      await waitQueued(b);
      const sb = await megleState(b);
      assert.equal(sb.matches, 1, 'B was not matched with A again');
    });
  });

  // The same with B already back in the queue when A searches again, so
  // the matcher must choose between B (just left) and C.
  it('a new search skips the stranger just left while another waits', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPages('rematch-stop', async (open) => {
      const a = await open(`${gw1.url}/`, 'A');
      const b = await open(`${gw2.url}/`, 'B');
      const c = await open(`${gw2.url}/`, 'C');
      await setInterests(a, 'cats, dogs');
      await setInterests(b, 'cats');
      await setInterests(c, 'dogs');
      await startOn(b);
      await waitQueued(b);
      await startOn(a);
      await assertPaired(a, b);
      await startOn(c);
      await waitQueued(c);

      await a.click('#stop');
      await waitOn(b, () => window.megle.queued && window.megle.matches === 1);
      const [sc] = await Promise.all([megleState(c)]);
      assert.equal(sc.state, 'waiting');
      await startOn(a);
      await waitMatchNumber(a, 2);
      await assertPartnerIs(a, c, b);
      const [sa] = await assertPaired(a, c, 1);
      assert.deepEqual(sa.sharedInterests, ['dogs'], 'A met C on their shared interest');
      const sb = await megleState(b);
      assert.equal(sb.state, 'waiting', 'B still waits');
      assert.equal(sb.matches, 1, 'B was not matched with A again');
    });
  });
});
