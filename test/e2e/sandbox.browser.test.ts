import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSandbox, type Sandbox } from '../../sandbox/startSandbox';

/**
 * The sandbox as a person uses it: a customer in the web chat and an agent at the desk, in a real
 * headless Chromium (Debian's; never a downloaded browser).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// The README's screenshots are refreshed only on request, so an ordinary test run leaves the tree clean.
const SCREENSHOTS = process.env.UPDATE_DOCS_SCREENSHOTS === '1' ? join(__dirname, '..', '..', 'docs') : mkdtempSync(join(tmpdir(), 'rce-screens-'));

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
    if (process.env.UPDATE_DOCS_SCREENSHOTS !== '1') rmSync(SCREENSHOTS, { recursive: true, force: true });
  });

  async function say(text: string): Promise<void> {
    await chat.fill('#text', text);
    await chat.click('#composer button[type=submit]');
  }
  const lastChatLine = (from: 'bot' | 'agent') => chat.locator(`.line[data-from="${from}"]`).last();

  it('walks the whole journey: bot, handover, queue, agent reply, close, bot again', async () => {
    await say('hello');
    await containsTextSoon(lastChatLine('bot'), 'only a demo bot');

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
    await desk.screenshot({ path: join(SCREENSHOTS, 'sandbox-desk.png') });

    await desk.fill('#reply', 'Hello, this is Alex. How can I help?');
    await desk.click('#send');
    await containsTextSoon(lastChatLine('agent'), 'this is Alex');
    await hasCountSoon(chat.locator('.line[data-from="bot"]', { hasText: 'An agent has joined' }), 1);

    // After the "On Agent Joined" branch ended in a Say, the Flow-start guard brings this input back to the node.
    await say('My parcel is late.');
    await containsTextSoon(desk.locator('#messages'), 'My parcel is late.');
    await hasCountSoon(chat.locator('.line[data-from="bot"]', { hasText: 'only a demo bot' }), 1);
    await chat.screenshot({ path: join(SCREENSHOTS, 'sandbox-chat.png') });
    for (const file of ['sandbox-desk.png', 'sandbox-chat.png']) expect(statSync(join(SCREENSHOTS, file)).size).toBeGreaterThan(10_000);

    await desk.click('#close');
    await containsTextSoon(lastChatLine('bot'), 'The agent closed the conversation');
    await say('thanks, bye');
    await containsTextSoon(lastChatLine('bot'), 'only a demo bot');
  }, 60_000);
});

// Polling checks on top of playwright-core locators (no @playwright/test here): each fails with what the page showed.
type Locator = ReturnType<Page['locator']>;
async function poll(check: () => Promise<boolean>, describe: () => Promise<string>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(await describe());
    await new Promise((r) => setTimeout(r, 100));
  }
}
async function containsTextSoon(locator: Locator, text: string): Promise<void> {
  const content = async () => ((await locator.count()) > 0 ? (await locator.last().textContent()) ?? '' : '');
  await poll(async () => (await content()).includes(text), async () => `expected to contain "${text}", got "${await content()}"`);
}
async function hasCountSoon(locator: Locator, count: number): Promise<void> {
  await poll(async () => (await locator.count()) === count, async () => `expected ${count} elements, got ${await locator.count()}`);
}
mkdirSync(SCREENSHOTS, { recursive: true });
