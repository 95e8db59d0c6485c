import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSandbox, type Sandbox } from '../../sandbox/startSandbox';

/**
 * The sandbox as a person uses it: a customer in the web chat and an agent at the desk, in a real
 * headless Chromium (Debian's; never a downloaded browser).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DOCS = join(__dirname, '..', '..', 'docs');

describe('sandbox in a real browser', () => {
  let sandbox: Sandbox;
  let browser: Browser;
  let chat: Page;
  let desk: Page;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rce-sandbox-'));
    sandbox = await startSandbox({ dataDir, queueTickMs: 300 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
    });
    chat = await browser.newPage({ viewport: { width: 460, height: 720 } });
    desk = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await chat.goto(sandbox.chatUrl);
    await desk.goto(sandbox.deskUrl);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await sandbox?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function say(text: string): Promise<void> {
    await chat.fill('#text', text);
    await chat.click('#composer button[type=submit]');
  }
  const lastChatLine = (from: 'bot' | 'agent') => chat.locator(`.line[data-from="${from}"]`).last();

  it('walks the whole journey: bot, handover, queue, agent reply, close, bot again', async () => {
    await say('hello');
    await expect(lastChatLine('bot')).toContainTextSoon('only a demo bot');

    await say('I want to talk to an agent');
    await expect(lastChatLine('bot')).toContainTextSoon('You are number 1 in the queue');

    // The agent sees the conversation with its profile and context data, and the queue position.
    const conversation = desk.locator('.conv').first();
    await expect(conversation).toContainTextSoon('Waiting');
    await conversation.click();
    await expect(desk.locator('#profileBody')).toContainTextSoon('@example.com');
    await expect(desk.locator('#profileBody')).toContainTextSoon('loyalty-tier');
    await expect(desk.locator('#profileBody')).toContainTextSoon('Position 1');
    await expect(desk.locator('#messages')).toContainTextSoon('I want to talk to an agent');
    await desk.screenshot({ path: join(DOCS, 'sandbox-desk.png') });

    await desk.fill('#reply', 'Hello, this is Alex. How can I help?');
    await desk.click('#send');
    await expect(lastChatLine('agent')).toContainTextSoon('this is Alex');
    await expect(chat.locator('.line[data-from="bot"]', { hasText: 'An agent has joined' })).toHaveCountSoon(1);

    await say('My parcel is late.');
    await expect(desk.locator('#messages')).toContainTextSoon('My parcel is late.');
    await chat.screenshot({ path: join(DOCS, 'sandbox-chat.png') });

    await desk.click('#close');
    await expect(lastChatLine('bot')).toContainTextSoon('The agent closed the conversation');
    await say('thanks, bye');
    await expect(lastChatLine('bot')).toContainTextSoon('only a demo bot');
  }, 60_000);
});

// Small polling matchers on top of playwright-core locators (no @playwright/test here).
type Locator = ReturnType<Page['locator']>;
async function poll(check: () => Promise<boolean>, what: () => Promise<string>, timeoutMs = 10_000): Promise<{ pass: boolean; message: () => string }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return { pass: true, message: () => 'ok' };
    if (Date.now() > until) {
      const actual = await what();
      return { pass: false, message: () => actual };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
expect.extend({
  async toContainTextSoon(locator: Locator, text: string) {
    const content = async () => ((await locator.count()) > 0 ? (await locator.textContent()) ?? '' : '');
    const result = await poll(async () => (await content()).includes(text), async () => `expected to contain "${text}", got "${await content()}"`);
    return result;
  },
  async toHaveCountSoon(locator: Locator, count: number) {
    return poll(async () => (await locator.count()) === count, async () => `expected ${count} elements, got ${await locator.count()}`);
  },
});
declare module 'expect' {
  interface Matchers<R> {
    toContainTextSoon(text: string): Promise<R>;
    toHaveCountSoon(count: number): Promise<R>;
  }
}
mkdirSync(DOCS, { recursive: true });
