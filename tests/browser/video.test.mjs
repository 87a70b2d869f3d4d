// video.test - end-to-end WebRTC through the real megle: redis-server, one
// matcher and two gateways, with headless Chromium pages on both gateways.
// Each test proves live video both ways and, from the browsers' own ICE
// credentials, who is connected to whom. Run by ctest inside a network
// namespace that has only loopback (see tests/browser.cmake), so every ICE
// candidate is 127.0.0.1 and nothing leaves the machine.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { artifactsDir, sourceDir, startStack } from './stack.mjs';
import {
  WAIT_MS, iceUfrags, launchBrowser, waitLiveVideo, withPages as withPagesIn,
} from './browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const TEST_TIMEOUT_MS = 90000;
const MEGLE_PC = 'window.megle.pc';
const GOMEGLE_PC = 'window.gomegle.pc';

let stack;
let browser;
let gw1;
let gw2;
let tmpRoot;

// Gateway 1 serves web/ itself; gateway 2 serves a temporary copy of web/
// with the Go-megle-style test page added.
function makeWebRoot() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'megle-web-'));
  fs.cpSync(path.join(sourceDir, 'web'), dir, { recursive: true });
  for (const f of ['gomegle-style.html', 'gomegle-style.js'])
    fs.copyFileSync(path.join(here, f), path.join(dir, f));
  return dir;
}

before(async () => {
  tmpRoot = makeWebRoot();
  stack = await startStack({
    name: 'browser',
    gateways: [
      { id: 'gw-b1', webRoot: path.join(sourceDir, 'web') },
      { id: 'gw-b2', webRoot: tmpRoot },
    ],
  });
  [gw1, gw2] = stack.gateways;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const bad = (await stack?.stop()) ?? [];
  if (tmpRoot)
    fs.rmSync(tmpRoot, { recursive: true, force: true });
  if (stack)
    console.error(`process logs: ${stack.logDir}`);
  // Every server must have lived through the tests and stopped cleanly.
  assert.deepEqual(bad, [], 'processes that died or exited non-zero');
});

function withPages(label, body) {
  return withPagesIn(browser, stack, artifactsDir, label, body);
}

function startOn(page) {
  return page.click('#start', { timeout: WAIT_MS });
}

async function waitMatched(page, pcExpr = MEGLE_PC) {
  await page.waitForFunction((e) => {
    const pc = (0, eval)(e);
    return pc && pc.connectionState === 'connected';
  }, pcExpr, { timeout: WAIT_MS, polling: 100 });
}

// Each page's remote ufrag must be exactly one other page's local ufrag,
// and that page's remote ufrag must be ours: a perfect matching.
// entries: [{ page, pcExpr }]. Returns the partner index of each entry.
async function assertPerfectMatching(entries) {
  const ufrags = [];
  for (const e of entries) {
    const u = await iceUfrags(e.page, e.pcExpr);
    assert.ok(u && u.local && u.remote, `${e.page.megleName} has both ICE ufrags: ${JSON.stringify(u)}`);
    ufrags.push(u);
  }
  const byLocal = new Map(ufrags.map((u, i) => [u.local, i]));
  assert.equal(byLocal.size, entries.length, 'local ufrags are distinct');
  const partner = ufrags.map((u) => byLocal.get(u.remote));
  partner.forEach((p, i) => {
    const name = entries[i].page.megleName;
    assert.notEqual(p, undefined, `${name}'s remote ufrag belongs to one of our pages`);
    assert.notEqual(p, i, `${name} is not connected to itself`);
    assert.equal(partner[p], i, `${name} and ${entries[p].page.megleName} point at each other`);
  });
  return partner;
}

// The server's view (partner ids) must agree with what the browsers proved.
async function assertServerAgrees(pages, partner) {
  const ids = [];
  for (const p of pages)
    ids.push(await p.evaluate(() => ({ me: window.megle.myId, partner: window.megle.partnerId })));
  partner.forEach((p, i) => {
    assert.match(ids[i].me ?? '', /^[0-9a-f]{32}$/, 'welcome gave a 32-hex id');
    assert.equal(ids[i].partner, ids[p].me, `${pages[i].megleName}'s partner id is its ICE peer`);
  });
}

describe('browser video', { timeout: TEST_TIMEOUT_MS * 6 }, () => {
  it('two pages on two gateways see each other', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPages('two-pages', async (open) => {
      const a = await open(`${gw1.url}/`, 'A');
      const b = await open(`${gw2.url}/`, 'B');
      await Promise.all([startOn(a), startOn(b)]);
      await Promise.all([waitMatched(a), waitMatched(b)]);
      await Promise.all([waitLiveVideo(a, MEGLE_PC), waitLiveVideo(b, MEGLE_PC)]);
      const partner = await assertPerfectMatching([{ page: a, pcExpr: MEGLE_PC }, { page: b, pcExpr: MEGLE_PC }]);
      await assertServerAgrees([a, b], partner);
      for (const p of [a, b]) {
        const st = await p.evaluate(() => ({ state: window.megle.state, next: document.getElementById('next').disabled }));
        assert.deepEqual(st, { state: 'matched', next: false });
      }
      // One screenshot of a live chat for people to look at.
      fs.mkdirSync(artifactsDir, { recursive: true });
      const shot = path.join(artifactsDir, 'megle-web.png');
      await a.screenshot({ path: shot });
      console.error(`screenshot: ${shot}`);
    });
  });

  it('Next re-matches and video flows again on a new connection', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPages('next', async (open) => {
      const a = await open(`${gw1.url}/`, 'A');
      const b = await open(`${gw2.url}/`, 'B');
      await Promise.all([startOn(a), startOn(b)]);
      await Promise.all([waitMatched(a), waitMatched(b)]);
      await Promise.all([waitLiveVideo(a, MEGLE_PC), waitLiveVideo(b, MEGLE_PC)]);
      const first = await Promise.all([a, b].map((p) => p.evaluate(() => {
        window.__oldPc = window.megle.pc;
        return window.megle.matchId;
      })));
      assert.equal(first[0], first[1], 'both pages are in the same match');

      await a.click('#next', { timeout: WAIT_MS });
      for (const p of [a, b]) {
        await p.waitForFunction(() => {
          const pc = window.megle.pc;
          return pc && pc !== window.__oldPc && pc.connectionState === 'connected';
        }, null, { timeout: WAIT_MS, polling: 100 });
      }
      for (const p of [a, b])
        assert.equal(await p.evaluate(() => window.__oldPc.connectionState), 'closed', `${p.megleName}'s old pc is closed`);
      await Promise.all([waitLiveVideo(a, MEGLE_PC), waitLiveVideo(b, MEGLE_PC)]);
      const partner = await assertPerfectMatching([{ page: a, pcExpr: MEGLE_PC }, { page: b, pcExpr: MEGLE_PC }]);
      await assertServerAgrees([a, b], partner);
      const second = await Promise.all([a, b].map((p) => p.evaluate(() => window.megle.matchId)));
      assert.equal(second[0], second[1]);
      assert.notEqual(second[0], first[0], 'a new match id');

      // Esc is Next too.
      await a.evaluate(() => { window.__oldPc = window.megle.pc; });
      await b.evaluate(() => { window.__oldPc = window.megle.pc; });
      await b.keyboard.press('Escape');
      for (const p of [a, b]) {
        await p.waitForFunction(() => {
          const pc = window.megle.pc;
          return pc && pc !== window.__oldPc && pc.connectionState === 'connected';
        }, null, { timeout: WAIT_MS, polling: 100 });
      }
      await Promise.all([waitLiveVideo(a, MEGLE_PC), waitLiveVideo(b, MEGLE_PC)]);

      // Report reports the stranger (the server accepts it: no error shows)
      // and moves on, like Next.
      await a.evaluate(() => { window.__oldPc = window.megle.pc; });
      await b.evaluate(() => { window.__oldPc = window.megle.pc; });
      await a.click('#report', { timeout: WAIT_MS });
      for (const p of [a, b]) {
        await p.waitForFunction(() => {
          const pc = window.megle.pc;
          return pc && pc !== window.__oldPc && pc.connectionState === 'connected';
        }, null, { timeout: WAIT_MS, polling: 100 });
      }
      assert.equal(await a.evaluate(() => document.getElementById('error').hidden), true,
                   'the report was refused');
    });
  });

  it('four pages form two live pairs', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPages('four-pages', async (open) => {
      const pages = [];
      for (const [i, gw] of [gw1, gw2, gw1, gw2].entries())
        pages.push(await open(`${gw.url}/`, `P${i + 1}`));
      await Promise.all(pages.map(startOn));
      await Promise.all(pages.map((p) => waitMatched(p)));
      await Promise.all(pages.map((p) => waitLiveVideo(p, MEGLE_PC)));
      const partner = await assertPerfectMatching(pages.map((page) => ({ page, pcExpr: MEGLE_PC })));
      await assertServerAgrees(pages, partner);
    });
  });

  it('a Go-megle-style client and a megle page see each other', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPages('gomegle', async (open) => {
      const a = await open(`${gw1.url}/`, 'megle');
      const g = await open(`${gw2.url}/gomegle-style.html`, 'gomegle');
      await Promise.all([startOn(a), startOn(g)]);
      await Promise.all([waitMatched(a, MEGLE_PC), waitMatched(g, GOMEGLE_PC)]);
      await Promise.all([waitLiveVideo(a, MEGLE_PC), waitLiveVideo(g, GOMEGLE_PC)]);
      await assertPerfectMatching([{ page: a, pcExpr: MEGLE_PC }, { page: g, pcExpr: GOMEGLE_PC }]);
      const ids = await Promise.all([
        a.evaluate(() => window.megle.partnerId),
        g.evaluate(() => window.gomegle.partnerId),
      ]);
      assert.match(ids[0], /^[0-9a-f]{32}$/);
      assert.match(ids[1], /^[0-9a-f]{32}$/);
    });
  });

  // Last: it restarts gateway 1.
  it('a page reconnects by itself after its gateway restarts', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPages('reconnect', async (open) => {
      const a = await open(`${gw1.url}/`, 'A');
      const b = await open(`${gw2.url}/`, 'B');
      await Promise.all([startOn(a), startOn(b)]);
      await Promise.all([waitMatched(a), waitMatched(b)]);
      await Promise.all([waitLiveVideo(a, MEGLE_PC), waitLiveVideo(b, MEGLE_PC)]);
      for (const p of [a, b])
        await p.evaluate(() => { window.__oldPc = window.megle.pc; });

      const code = await stack.restartGateway(gw1);
      assert.equal(code, 0, 'gateway 1 drained and exited 0 on SIGTERM');
      // a lost its socket: it hung up, reconnected with backoff and asked
      // again; b was told its partner left and requeued.
      for (const p of [a, b]) {
        await p.waitForFunction(() => {
          const pc = window.megle.pc;
          return window.megle.online && pc && pc !== window.__oldPc
            && pc.connectionState === 'connected';
        }, null, { timeout: WAIT_MS, polling: 100 });
      }
      await Promise.all([waitLiveVideo(a, MEGLE_PC), waitLiveVideo(b, MEGLE_PC)]);
      await assertPerfectMatching([{ page: a, pcExpr: MEGLE_PC }, { page: b, pcExpr: MEGLE_PC }]);
    });
  });
});
