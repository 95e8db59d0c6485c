import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSandbox, type Sandbox } from '../../sandbox/startSandbox';
import { waitUntil } from '../helpers/waitUntil';

/**
 * The sandbox as a person uses it: a customer in the web chat and an agent at the desk, in a real
 * headless Chromium (Debian's; never a downloaded browser).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// The README's screenshots are refreshed only on request, so an ordinary test run leaves the tree clean.
const SCREENSHOTS =
  process.env.UPDATE_DOCS_SCREENSHOTS === '1' ? join(__dirname, '..', '..', 'docs') : mkdtempSync(join(tmpdir(), 'rce-screens-'));

describe('sandbox in a real browser', () => {
  let sandbox: Sandbox;
  let browser: Browser;
  let chat: Page;
  let desk: Page;
  let dataDir: string;
  /** Console errors and failed loads of both pages (a missing favicon would show here as a 404). */
  const problems: string[] = [];
  const watch = (page: Page, name: string) => {
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`${name}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${name}: HTTP ${r.status()} ${r.url()}`);
    });
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rce-sandbox-'));
    sandbox = await startSandbox({ dataDir, queueTickMs: 300 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
      ],
    });
    chat = await browser.newPage({ viewport: { width: 460, height: 720 } });
    desk = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    watch(chat, 'chat');
    watch(desk, 'desk');
    await chat.goto(sandbox.chatUrl);
    await desk.goto(sandbox.deskUrl);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await sandbox?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    if (process.env.UPDATE_DOCS_SCREENSHOTS !== '1') rmSync(SCREENSHOTS, { recursive: true, force: true });
  });

  async function say(text: string): Promise<void> {
    await chat.fill('#text', text);
    await chat.click('#composer button[type=submit]');
  }
  const lastChatLine = (from: 'bot' | 'agent') => chat.locator(`.line[data-from="${from}"]`).last();

  it('walks the whole journey: bot, handover, queue, agent reply, close, bot again', async () => {
    // The typing dots show while the bot works on the message. They are up for as little as 400 ms,
    // which a poll can miss on a loaded machine: the page itself records that they were switched on.
    await chat.evaluate(() => {
      const dots = document.getElementById('typing');
      const seen = document.documentElement.dataset;
      if (!dots) return;
      new MutationObserver(() => {
        if (dots.classList.contains('on')) seen.typingSeen = 'yes';
      }).observe(dots, { attributes: true, attributeFilter: ['class'] });
    });
    await say('hello');
    await poll(
      async () => (await chat.locator('html').getAttribute('data-typing-seen')) === 'yes',
      async () => 'the chat never showed typing dots',
    );
    await containsTextSoon(lastChatLine('bot'), 'only a demo bot');
    await poll(
      async () => !(await chat.locator('#typing.on').isVisible()),
      async () => 'the typing dots stayed',
    );

    await say('I want to talk to an agent');
    await containsTextSoon(lastChatLine('bot'), 'You are number 1 in the queue');

    // The agent sees the conversation with its profile and context data, and the queue position.
    const conversation = desk.locator('.conv').first();
    await containsTextSoon(conversation, 'Waiting');
    await conversation.click();
    await containsTextSoon(desk.locator('#profileBody'), '@example.com');
    await containsTextSoon(desk.locator('#profileBody'), 'loyalty-tier');
    await containsTextSoon(desk.locator('#profileBody'), 'Position 1');
    await containsTextSoon(desk.locator('#messages'), 'I want to talk to an agent');
    // The transcript came through the Get Transcript node: the bot's earlier answer is there too.
    await containsTextSoon(desk.locator('#messages'), 'only a demo bot');

    await desk.click('#take');
    await containsTextSoon(desk.locator('#queueInfo'), 'Taken by an agent');
    await desk.fill('#reply', 'Hello, this is Alex. How can I help?');
    await desk.press('#reply', 'Enter');
    await containsTextSoon(lastChatLine('agent'), 'this is Alex');
    // The agent's name on agent messages, with a time.
    await containsTextSoon(lastChatLine('agent').locator('.who'), 'Alex (agent)');
    expect(await lastChatLine('agent').locator('time').textContent()).toMatch(/\d/);
    await hasCountSoon(chat.locator('.line[data-from="bot"]', { hasText: 'An agent has joined' }), 1);
    // Read receipt: the desk marks the reply read once Cognigy took it.
    await containsTextSoon(desk.locator('.msg[data-side="agent"] .read'), '✓✓');

    // Quick replies from the agent: the customer clicks one, the agent sees the pick.
    await desk.fill('#reply', 'Which size do you need?');
    await desk.fill('#options', 'Small, Large');
    await desk.click('#send');
    await hasCountSoon(chat.locator('.quick button'), 2);
    await chat.locator('.quick button', { hasText: 'Large' }).click();
    await containsTextSoon(chat.locator('.line[data-from="user"]'), 'Large');
    await containsTextSoon(desk.locator('.msg[data-side="customer"]'), 'picked an option');
    await containsTextSoon(desk.locator('.msg[data-side="customer"]'), 'Large');

    // A file each way: the customer's photo reaches the desk as an image, the agent's PDF the chat as a file.
    // The customer starts the next message while the photo is on its way (the moment the typing dots go on):
    // that text stays in the box, neither sent with the photo nor wiped when the photo's send ends.
    // The page's file handler used to clear the box after its send, wiping such text (the send ends with a
    // transcript fetch, so the box is read a second after the dots go off).
    const boxAfterPhotoSend = chat.evaluate(
      () =>
        new Promise<string>((resolve) => {
          const dots = document.getElementById('typing') as HTMLElement;
          const box = document.getElementById('text') as HTMLInputElement;
          let sending = false;
          const watch = new MutationObserver(() => {
            if (dots.classList.contains('on')) {
              sending = true;
              box.value = 'draft of the next message';
            } else if (sending) {
              watch.disconnect();
              setTimeout(() => resolve(box.value), 1_000);
            }
          });
          watch.observe(dots, { attributes: true, attributeFilter: ['class'] });
          setTimeout(() => resolve('(the typing dots never showed)'), 10_000);
        }),
    );
    await chat.setInputFiles('#file', { name: 'parcel.png', mimeType: 'image/png', buffer: TINY_PNG });
    await hasCountSoon(desk.locator('.msg[data-side="customer"] a.file[data-file="parcel.png"] img'), 1);
    expect(await boxAfterPhotoSend).toBe('draft of the next message');
    expect(await desk.locator('#messages').innerText()).not.toContain('draft of the next message');
    await chat.fill('#text', '');
    await desk.setInputFiles('#file', { name: 'label.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n%%EOF\n') });
    await hasCountSoon(chat.locator('.line[data-from="agent"] a.file[data-file="label.pdf"]'), 1);
    const pdf = await chat.request.get((await chat.locator('a.file[data-file="label.pdf"]').getAttribute('href')) ?? '');
    expect((await pdf.body()).toString()).toContain('%PDF');

    // After the "On Agent Joined" branch ended in a Say, the Flow-start guard brings this input back to the node.
    await say('My parcel is late.');
    await containsTextSoon(desk.locator('#messages'), 'My parcel is late.');
    await hasCountSoon(chat.locator('.line[data-from="bot"]', { hasText: 'only a demo bot' }), 1);
    await poll(
      async () => !(await chat.locator('#typing.on').isVisible()),
      async () => 'the typing dots stayed',
    );
    await chat.screenshot({ path: join(SCREENSHOTS, 'sandbox-chat.png') });
    await desk.screenshot({ path: join(SCREENSHOTS, 'sandbox-desk.png') });
    for (const file of ['sandbox-desk.png', 'sandbox-chat.png']) expect(statSync(join(SCREENSHOTS, file)).size).toBeGreaterThan(10_000);

    // A long unbroken word stays inside its bubble on both pages.
    await say('x'.repeat(400));
    await containsTextSoon(desk.locator('.msg[data-side="customer"]'), 'x'.repeat(400));
    for (const bubble of [chat.locator('.line[data-from="user"]').last(), desk.locator('.msg[data-side="customer"]').last()]) {
      expect(await bubble.evaluate((node) => node.scrollWidth <= node.clientWidth + 1)).toBe(true);
    }

    // At 1024 px the Close button is whole and on screen.
    await desk.setViewportSize({ width: 1024, height: 720 });
    const close = await desk.locator('#close').boundingBox();
    expect(close && close.x >= 0 && close.x + close.width <= 1024 && close.y + close.height <= 720).toBe(true);
    await desk.setViewportSize({ width: 1280, height: 720 });

    await desk.click('#close');
    await containsTextSoon(chat.locator('.line[data-from="bot"]', { hasText: 'The agent closed the conversation' }), 'I am back');
    await containsTextSoon(desk.locator('#queueInfo'), 'Back with the bot');
    // The demo Flow's own satisfaction question, naming the agent from the handover state; one click answers it.
    await containsTextSoon(lastChatLine('bot'), 'How satisfied are you with the chat with our agent');
    await hasCountSoon(chat.locator('.quick button'), 5);
    await chat.locator('.quick button', { hasText: '4' }).click();
    await containsTextSoon(lastChatLine('bot'), 'Thank you for your rating (4 of 5)');
    await say('thanks, bye');
    await containsTextSoon(lastChatLine('bot'), 'only a demo bot');
    expect(problems).toEqual([]);
  }, 90_000);

  it('keeps a chat the customer cancelled before any reply on the desk, marked as back with the bot', async () => {
    const other = await browser.newPage({ viewport: { width: 460, height: 720 } });
    watch(other, 'second chat');
    await other.goto(sandbox.chatUrl);
    const before = await desk.locator('.conv').count();
    await other.fill('#text', 'I need an agent please');
    await other.press('#text', 'Enter');
    await hasCountSoon(desk.locator('.conv'), before + 1);
    await other.fill('#text', 'cancel');
    await other.press('#text', 'Enter');
    await containsTextSoon(other.locator('.line[data-from="bot"]').last(), 'cancelled the request');
    await poll(
      async () => (await desk.locator('.conv .badge.bot').count()) === before + 1,
      async () => `desk list: ${await desk.locator('#conversations').textContent()}`,
    );
    await hasCountSoon(desk.locator('.conv'), before + 1);
    await other.close();
    expect(problems).toEqual([]);
  }, 30_000);

  it('walks availability and a long wait: agent away → offline answer; available → handover; a second chat waits as number 2 and takes the callback', async () => {
    // The relay caches Engage's availability answer for 5 s (EngageLookups): wait it out after each switch.
    const pastAvailabilityCache = () => new Promise((r) => setTimeout(r, 5_500));
    const presence = desk.locator('#presence');
    await presence.selectOption('away');
    await pastAvailabilityCache();
    await say('Can I talk to an agent?');
    await containsTextSoon(lastChatLine('bot'), 'no agent is available right now (no_agents_available)');

    await presence.selectOption('available');
    await pastAvailabilityCache();
    await say('agent please');
    await containsTextSoon(lastChatLine('bot'), 'You are number 1 in the queue');
    // While it waits, the bot keeps helping: it answers what it knows (the question also went to the agent).
    await say('I forgot my password');
    await containsTextSoon(lastChatLine('bot'), 'reset your password yourself');
    await hasCountSoon(chat.locator('.quick button', { hasText: "I'm all set" }), 1);

    const second = await browser.newPage({ viewport: { width: 460, height: 720 } });
    watch(second, 'second chat');
    try {
      await second.goto(sandbox.chatUrl);
      await second.fill('#text', 'I need a human');
      await second.press('#text', 'Enter');
      const secondBot = () => second.locator('.line[data-from="bot"]').last();
      // Number 2 with about 2 minutes: over the demo's 1-minute threshold, so On Long Wait offers the callback.
      await poll(
        async () => (await second.locator('.line[data-from="bot"]').allTextContents()).join('\n').includes('You are number 2 in the queue'),
        async () => `second chat: ${await second.locator('#log').textContent()}`,
      );
      await containsTextSoon(secondBot(), 'You can keep waiting, or we call you back');
      await second.locator('.quick button', { hasText: 'Call me back' }).click();
      await containsTextSoon(secondBot(), 'an agent will call you back');
    } finally {
      await second.close();
    }
    // The first chat withdraws its request in one click: the bot solved it.
    await chat.locator('.quick button', { hasText: "I'm all set" }).click();
    await containsTextSoon(lastChatLine('bot'), 'cancelled the request');
    expect(problems).toEqual([]);
  }, 60_000);

  it('fits a phone screen: no sideways scrolling on either page', async () => {
    for (const page of [chat, desk]) {
      await page.setViewportSize({ width: 360, height: 720 });
      await page.reload();
      await page.waitForLoadState('load');
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      await expect(page.locator('textarea').first().isVisible()).resolves.toBe(true);
    }
    expect(problems).toEqual([]);
  }, 30_000);
});

/** A 96×64 PNG in two colours, big enough to show as a thumbnail in the screenshots. */
const TINY_PNG = pngOf(96, 64, (x, y) => (y < 40 ? [255, 170, 60] : x < 48 ? [61, 63, 189] : [240, 240, 245]));

function pngOf(width: number, height: number, colour: (x: number, y: number) => [number, number, number]): Buffer {
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set(colour(x, y), y * (width * 3 + 1) + 1 + x * 3);
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

// Polling checks on top of playwright-core locators (no @playwright/test here): each fails with what the page showed.
const poll = (check: () => Promise<boolean>, describe: () => Promise<string>, timeoutMs = 10_000): Promise<void> =>
  waitUntil(describe, check, { timeoutMs, intervalMs: 100 });
type Locator = ReturnType<Page['locator']>;
async function containsTextSoon(locator: Locator, text: string): Promise<void> {
  const content = async () => ((await locator.count()) > 0 ? ((await locator.last().textContent()) ?? '') : '');
  await poll(
    async () => (await content()).includes(text),
    async () => `expected to contain "${text}", got "${await content()}"`,
  );
}
async function hasCountSoon(locator: Locator, count: number): Promise<void> {
  await poll(
    async () => (await locator.count()) === count,
    async () => `expected ${count} elements, got ${await locator.count()}`,
  );
}
mkdirSync(SCREENSHOTS, { recursive: true });
