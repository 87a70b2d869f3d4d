// browser - headless Debian Chromium for the browser tests, driven by
// playwright-core (never Playwright's own browser download), and the checks
// the tests make on a page: "the remote video is live" and "whose ICE
// credentials does this page talk to" (so that who is connected to whom is
// proven by the browsers themselves, not by the server's word).

import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.MEGLE_CHROMIUM ?? '/usr/bin/chromium';
export const WAIT_MS = 30000;

// Flags from /work/shared/notes/browser-tests.md: fake camera and consent,
// loopback ICE, and no background traffic to outside hosts.
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
];

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    timeout: WAIT_MS,
  });
}

// Open url in a fresh browser context. Options: denyMedia (getUserMedia
// rejects with NotAllowedError, as when the user says no), viewport.
export async function openPage(browser, url, name,
  { denyMedia = false, viewport = { width: 1100, height: 760 } } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.megleName = name;
  page.megleLog = [];
  page.on('console', (m) => page.megleLog.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => page.megleLog.push(`[pageerror] ${e.message}`));
  if (denyMedia) {
    await page.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () =>
        Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
  }
  await page.goto(url, { waitUntil: 'load', timeout: WAIT_MS });
  return page;
}

// The <video> that shows the stranger on either client page.
export const REMOTE_VIDEO = '#remote-video';

// Wait until the page's remote video is live: it has a size, has data
// (readyState >= 2), its currentTime advances by >= 0.5 s within some 2 s
// window, and getStats() shows inbound video framesDecoded and bytesReceived
// growing. pcExpr evaluates to the page's RTCPeerConnection.
export async function waitLiveVideo(page, pcExpr, { timeout = WAIT_MS } = {}) {
  const opts = { timeout, polling: 100 };
  await page.waitForFunction((sel) => {
    const v = document.querySelector(sel);
    return v && v.videoWidth > 0 && v.readyState >= 2;
  }, REMOTE_VIDEO, opts);

  // Sample (wall, media) times on every poll and succeed once two samples at
  // most 2 s apart differ by >= 0.5 s of media time.
  await page.waitForFunction((sel) => {
    const v = document.querySelector(sel);
    const now = performance.now();
    const samples = (window.__megleSamples ??= []);
    samples.push([now, v.currentTime]);
    while (samples.length && now - samples[0][0] > 2000)
      samples.shift();
    return samples.some(([, t]) => v.currentTime - t >= 0.5);
  }, REMOTE_VIDEO, opts);
  await page.evaluate(() => { delete window.__megleSamples; });

  const inbound = (expr) => page.evaluate(async (e) => {
    // eslint-disable-next-line no-eval
    const pc = (0, eval)(e);
    if (!pc)
      return null;
    const stats = await pc.getStats();
    for (const s of stats.values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video')
        return { frames: s.framesDecoded ?? 0, bytes: s.bytesReceived ?? 0 };
    }
    return null;
  }, expr);
  const first = await inbound(pcExpr);
  if (!first)
    throw new Error(`${page.megleName}: no inbound-rtp video stats`);
  await page.waitForFunction(async ([e, f0, b0]) => {
    const pc = (0, eval)(e);
    if (!pc)
      return false;
    const stats = await pc.getStats();
    for (const s of stats.values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video')
        return s.framesDecoded > f0 && s.bytesReceived > b0;
    }
    return false;
  }, [pcExpr, first.frames, first.bytes], opts);
}

// The ICE username fragments of the page's current negotiation:
// { local, remote }, from a=ice-ufrag in each description.
export function iceUfrags(page, pcExpr) {
  return page.evaluate((e) => {
    const pc = (0, eval)(e);
    const ufrag = (d) => (d && /^a=ice-ufrag:(\S+)/m.exec(d.sdp)?.[1]) ?? null;
    return pc ? { local: ufrag(pc.localDescription), remote: ufrag(pc.remoteDescription) } : null;
  }, pcExpr);
}

// Screenshot every still-open page into artifactsDir; print the paths.
export async function screenshotAll(pages, dir, label) {
  fs.mkdirSync(dir, { recursive: true });
  for (const page of pages) {
    if (page.isClosed())
      continue;
    const file = path.join(dir, `${label}-${page.megleName}.png`);
    try {
      await page.screenshot({ path: file, timeout: 5000 });
      console.error(`screenshot: ${file}`);
    } catch (err) {
      console.error(`screenshot of ${page.megleName} failed: ${err.message}`);
    }
    const logFile = path.join(dir, `${label}-${page.megleName}.console.txt`);
    fs.writeFileSync(logFile, page.megleLog.join('\n') + '\n');
    console.error(`console log: ${logFile}`);
  }
}

// Run body(open) with pages it opens through open(url, name, opts) (opts as
// openPage's); on failure screenshot them all into artifactsDir as
// <label>-<name>.png and say which gateways died; always press Stop on each
// page (so nobody requeues while the others close) and close them.
export async function withPages(browser, stack, dir, label, body) {
  const pages = [];
  const open = async (url, name, opts) => {
    const page = await openPage(browser, url, name, opts);
    pages.push(page);
    return page;
  };
  try {
    await body(open);
  } catch (err) {
    await screenshotAll(pages, dir, label);
    for (const g of stack.gateways)
      if (!g.proc.running)
        console.error(`${g.id} died: ${g.proc.tail()}`);
    throw err;
  } finally {
    for (const page of pages)
      await page.evaluate(() => document.getElementById('stop')?.click()).catch(() => {});
    for (const page of pages)
      await page.context().close().catch(() => {});
  }
}

// page.waitForFunction with the tests' bound and polling.
export function waitOn(page, fn, arg) {
  return page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 50 });
}

// The page's window.megle as plain data (see web/app.js).
export function megleState(page) {
  return page.evaluate(() => {
    const m = window.megle;
    return {
      state: m.state,
      myId: m.myId,
      partnerId: m.partnerId,
      matchId: m.matchId,
      mode: m.mode,
      matchMode: m.matchMode,
      interests: m.interests,
      sharedInterests: m.sharedInterests,
      onlineCount: m.onlineCount,
      queued: m.queued,
      matches: m.matches,
      searchStartedAt: m.searchStartedAt,
      matchedAt: m.matchedAt,
      chatLog: m.chatLog,
      partnerTyping: m.partnerTyping,
      hasPc: m.pc !== null,
    };
  });
}

// Press Start on a megle page.
export function startOn(page) {
  return page.click('#start', { timeout: WAIT_MS });
}

// Wait until the page has had its n-th match and is in it.
export function waitMatchNumber(page, n) {
  return waitOn(page, (k) => window.megle.state === 'matched' && window.megle.matches >= k, n);
}

// Wait until the server has queued the page's current search (it answered
// find_match with `waiting`).
export function waitQueued(page) {
  return waitOn(page, () => window.megle.queued);
}
