// interests.test - matching on interests in real browsers through the real
// megle (redis-server, a matcher with a short MEGLE_INTEREST_WAIT_MS, two
// gateways): two pages that share an interest are matched together and see
// it on the page, while a third page whose interest nobody shares keeps
// waiting until the matcher relaxes it into the random queue (no earlier
// than the wait since its search) and meets a page without interests. Run
// by ctest inside a loopback-only network namespace (tests/browser.cmake).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { artifactsDir, sourceDir, startStack } from './stack.mjs';
import {
  launchBrowser, megleState, startOn, waitMatchNumber, waitQueued, withPages as withPagesIn,
} from './browser.mjs';

const TEST_TIMEOUT_MS = 90000;
const INTEREST_WAIT_MS = 3000;

let stack;
let browser;
let gw1;
let gw2;

before(async () => {
  stack = await startStack({
    name: 'browser-interests',
    gateways: [
      { id: 'gw-i1', webRoot: `${sourceDir}/web` },
      { id: 'gw-i2', webRoot: `${sourceDir}/web` },
    ],
    matcherEnv: { MEGLE_INTEREST_WAIT_MS: String(INTEREST_WAIT_MS) },
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

describe('browser interests', { timeout: TEST_TIMEOUT_MS * 2 }, () => {
  it('a shared interest matches first; the others wait for the relaxation time', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPages('interests', async (open) => {
      // The lonely page: nobody else likes knitting.
      const lonely = await open(`${gw1.url}/`, 'knitting');
      await lonely.fill('#interest-input', 'Knitting');
      await lonely.press('#interest-input', 'Enter');
      await startOn(lonely);
      await waitQueued(lonely);

      // Two pages sharing "music" (typed differently) meet each other.
      const p1 = await open(`${gw1.url}/`, 'music-chess');
      const p2 = await open(`${gw2.url}/`, 'music');
      await p1.fill('#interest-input', 'Music,  CHESS');
      await p2.fill('#interest-input', ' music ');
      await Promise.all([startOn(p1), startOn(p2)]);
      await Promise.all([waitMatchNumber(p1, 1), waitMatchNumber(p2, 1)]);
      const [s1, s2, sl] = await Promise.all([megleState(p1), megleState(p2), megleState(lonely)]);
      // At the moment they are matched, the lonely page still waits.
      assert.equal(sl.state, 'waiting', 'the page without a shared interest still waits');
      assert.equal(sl.matches, 0);
      assert.equal(s1.partnerId, s2.myId);
      assert.equal(s2.partnerId, s1.myId);
      assert.deepEqual(s1.interests, ['music', 'chess'], 'chips hold the normalised interests');
      assert.deepEqual(s2.interests, ['music']);
      for (const [p, s] of [[p1, s1], [p2, s2]]) {
        assert.deepEqual(s.sharedInterests, ['music'], `${p.megleName}: match_found.interests`);
        assert.equal(await p.isVisible('#shared-interests'), true);
        assert.match(await p.textContent('#shared-interests'), /music/);
        assert.doesNotMatch(await p.textContent('#shared-interests'), /chess/);
        assert.equal(await p.locator('#interest-chips .chip-shared').count(), 1);
        assert.equal(await p.textContent('#interest-chips .chip-shared span'), 'music');
        assert.ok(s.chatLog.some((e) => e.who === 'system' && /both like music/.test(e.text)));
      }

      // A page without interests arrives. The lonely page is matched with
      // it, but only once it has waited the relaxation time since its search.
      const random = await open(`${gw2.url}/`, 'no-interests');
      await startOn(random);
      await Promise.all([waitMatchNumber(lonely, 1), waitMatchNumber(random, 1)]);
      const [sl2, sr] = await Promise.all([megleState(lonely), megleState(random)]);
      assert.equal(sl2.partnerId, sr.myId, 'the lonely page met the page without interests');
      assert.equal(sr.partnerId, sl2.myId);
      const waited = sl2.matchedAt - sl2.searchStartedAt;
      assert.ok(waited >= INTEREST_WAIT_MS,
        `the lonely page was matched after ${waited} ms, not before the ${INTEREST_WAIT_MS} ms interest wait`);
      assert.deepEqual(sl2.sharedInterests, [], 'a random match shares nothing');
      assert.deepEqual(sr.sharedInterests, []);
      assert.equal(await lonely.isVisible('#shared-interests'), false);

      // And the first two are still together.
      const [s1b, s2b] = await Promise.all([megleState(p1), megleState(p2)]);
      assert.equal(s1b.partnerId, s2b.myId);
      assert.equal(s1b.matches, 1);
    });
  });
});
