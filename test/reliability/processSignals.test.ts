import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CognigySession } from '../../contract/relayApi';
import type { TenantConfig } from '../../relay/src/config';
import { signSdkBody } from '../../relay/src/engage/sdkSignature';
import { threadIdFor } from '../../relay/src/handover/identity';
import { CognigyApiSimulator } from '../../sandbox/cognigy/cognigyApiSimulator';
import type { EngageSimulator } from '../../sandbox/engage';
import { recordFigures } from '../helpers/reliabilityFigures';
import { startTestEngage, tenantSecrets, testTenant } from '../helpers/relayParts';
import { envOfTenant } from '../helpers/tenantEnv';
import { sleep, waitUntil } from '../helpers/waitUntil';
import { startRelayProcess, type RelayProcess } from '../helpers/relayProcess';
import { tenantIdentityUsers } from '../../relay/src/engage/tenantIdentities';
import { findLeaks } from '../helpers/secretScan';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

/**
 * The relay as a separate process, configured by environment variables like in production,
 * killed with SIGKILL mid-burst or stopped with SIGTERM mid-request.
 */

const TENANT = 7;
const secrets = tenantSecrets(TENANT);

describe('the relay process under signals', () => {
  let engage: EngageSimulator;
  let cognigy: CognigyApiSimulator;
  let tenant: TenantConfig;
  let dir: string;
  const processes: RelayProcess[] = [];

  beforeAll(async () => {
    const sourceId = `srcproc${Date.now().toString(36)}`;
    engage = await startTestEngage({ sourceId, realtimeAccessToken: secrets.realtimeAccessToken, apiAccessToken: secrets.apiAccessToken });
    cognigy = new CognigyApiSimulator(secrets.cognigyApiKey);
    await cognigy.start();
    tenant = testTenant(TENANT, { sourceId, engageUrl: engage.url, categories: engage.categories, cognigyUrl: cognigy.url });
    dir = mkdtempSync(join(tmpdir(), 'rce-proc-'));
  });
  afterAll(async () => {
    for (const p of processes) await p.ensureStopped();
    await engage?.stop();
    await cognigy?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const envFor = (dbName: string): Record<string, string> => ({
    STORE_URL: `sqlite:${join(dir, dbName)}`,
    ...envOfTenant(tenant),
  });

  async function launch(dbName: string, port?: number): Promise<RelayProcess> {
    const p = await startRelayProcess(envFor(dbName), port ? { port } : {});
    processes.push(p);
    engage.setSourceBaseUri(`${p.url}/handover/rce`);
    await engage.saveSource();
    // Seed step 7: the relay creates the Bot and Agent identities once the source is saved; agents reply through them.
    const identities = tenantIdentityUsers(tenant.sourceId);
    await waitUntil(
      'Bot and Agent identities in Engage',
      () => [identities.bot.id, identities.agent.id].every((id) => engage.users().some((u) => u.foreign_id === id)),
      { timeoutMs: 15_000 },
    );
    return p;
  }

  async function handOver(relayUrl: string, session: CognigySession): Promise<string> {
    const r = await signedRelayCall(relayUrl, tenant, 'startHandover', {
      ...envelopeFor(tenant, session, `start-${session.sessionId}`),
      firstMessage: 'help',
    });
    expect(r.status).toBe(200);
    const threadId = threadIdFor(tenant.sourceId, session);
    await waitUntil('thread in the Agent folder', () => engage.thread(threadId)?.inAgentFolder === true, { timeoutMs: 15_000 });
    return threadId;
  }

  const notified = (sessionId: string) =>
    cognigy
      .notifications()
      .filter((c) => c.sessionId === sessionId)
      .map((c) => c.text);

  it('SIGKILL during a burst of agent replies: every reply Engage got a 2xx for is delivered after the restart, none twice', async () => {
    const first = await launch('kill.db');
    const conversations = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const session = { URLToken: 'tok', userId: `u-kill-${i}`, sessionId: `s-kill-${i}` };
        return {
          session,
          threadId: await handOver(first.url, session),
          acked: [] as string[],
          unacked: [] as string[],
          unackedTexts: [] as string[],
          after: [] as string[],
        };
      }),
    );
    // Cognigy refuses while the relay dies, so the replies acknowledged before the kill exist only in the relay's store.
    await cognigy.setFault('refuse');
    let ackedTotal = 0;
    let killedAt = 0;
    await Promise.all(
      conversations.map(async (c, i) => {
        for (let n = 1; n <= 60; n++) {
          const text = `c${i} reply ${n}`;
          const result = await engage.agentReply({ threadId: c.threadId, body: text });
          if (result.outcome !== 'delivered') {
            // Engage's own retries failed too; it will retry this one later.
            c.unacked.push(result.contentId);
            c.unackedTexts.push(text);
            return;
          }
          c.acked.push(text);
          if (++ackedTotal === 50) {
            killedAt = Date.now();
            first.kill('SIGKILL');
          }
        }
      }),
    );
    expect(killedAt).toBeGreaterThan(0);
    expect((await first.exited).signal).toBe('SIGKILL');

    const second = await launch('kill.db', first.port);
    // Engage retries what it never got an answer for (retry:true, same content_id) …
    for (const c of conversations) {
      for (const contentId of c.unacked)
        expect((await engage.agentReply({ threadId: c.threadId, body: '', contentId })).outcome).toBe('delivered');
    }
    // … and re-sends two acknowledged ones as if their answers had been lost.
    const firstConversation = conversations[0];
    if (!firstConversation) throw new Error('conversations expected');
    const resent = engage.sourceCalls
      .filter((call) => call.action === 'messages.create' && call.status === 200 && call.requestBody.includes(firstConversation.threadId))
      .slice(0, 2);
    for (const call of resent) {
      const contentId = (JSON.parse(call.requestBody) as { params: { content_id: string } }).params.content_id;
      expect((await engage.agentReply({ threadId: firstConversation.threadId, body: '', contentId, forceRetry: false })).outcome).toBe(
        'delivered',
      );
    }
    for (const [i, c] of conversations.entries()) {
      for (let n = 1; n <= 3; n++) {
        const text = `c${i} after restart ${n}`;
        expect((await engage.agentReply({ threadId: c.threadId, body: text })).outcome).toBe('delivered');
        c.after.push(text);
      }
    }
    await cognigy.setFault('none');
    const expectedFor = (c: (typeof conversations)[number]) => [...c.acked, ...c.unackedTexts, ...c.after];
    for (const c of conversations) {
      await waitUntil(`replies of ${c.session.sessionId}`, () => notified(c.session.sessionId).length >= expectedFor(c).length, {
        timeoutMs: 45_000,
        intervalMs: 50,
      });
    }
    await sleep(300);
    let duplicates = 0;
    let acked = 0;
    for (const c of conversations) {
      const got = notified(c.session.sessionId);
      duplicates += got.length - new Set(got).size;
      acked += c.acked.length;
      // Exactly once, in the order Engage sent them.
      expect(got).toEqual(expectedFor(c));
    }
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    recordFigures('sigkill', {
      repliesAckedBeforeKill: acked,
      repliesUnackedAtKill: conversations.reduce((n, c) => n + c.unacked.length, 0),
      repliesAfterRestart: conversations.reduce((n, c) => n + c.after.length, 0),
      engageRetriesAfterRestart: conversations.reduce((n, c) => n + c.unacked.length, 0) + resent.length,
      notifiesDelivered: conversations.reduce((n, c) => n + notified(c.session.sessionId).length, 0),
      duplicates,
    });
  }, 75_000);

  it('SIGTERM: stops accepting, finishes the request in flight, delivers what it acknowledged, exits 0 promptly', async () => {
    const relay = await launch('term.db');
    const session = { URLToken: 'tok', userId: 'u-term', sessionId: 's-term' };
    const threadId = await handOver(relay.url, session);

    // An agent reply whose body is still arriving when SIGTERM comes, on a keep-alive connection.
    const body = JSON.stringify({
      action: 'messages.create',
      params: { content_id: 'c-in-flight', thread_id: threadId, body: 'sent during shutdown' },
      time: new Date().toISOString(),
    });
    const agent = new http.Agent({ keepAlive: true });
    const req = http.request(`${relay.url}/handover/rce`, {
      method: 'POST',
      agent,
      headers: {
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(body)),
        'X-SMCCSDK-SIGNATURE': signSdkBody(tenant.realtimeAccessToken, body),
      },
    });
    const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res: http.IncomingMessage) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
    });
    req.write(body.slice(0, 40));
    await sleep(100);
    const signalledAt = Date.now();
    relay.kill('SIGTERM');
    await sleep(300);
    // No new connections once shutdown started …
    expect(
      await fetch(`${relay.url}/healthz`).then(
        () => 'accepted',
        () => 'refused',
      ),
    ).toBe('refused');
    // … but the request in flight completes.
    req.end(body.slice(40));
    const response = await answered;
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toEqual({ id: expect.any(String) });
    const exit = await relay.exited;
    agent.destroy();
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(5_000);
    // What it acknowledged was flushed to Cognigy before exiting.
    expect(notified(session.sessionId)).toEqual(['sent during shutdown']);
    expect(relay.stdout.some((l) => l.includes('"relay stopped"'))).toBe(true);
    recordFigures('sigterm-inflight', { exitCode: exit.code ?? -1, exitMsAfterSigterm: exit.at - signalledAt });
  }, 30_000);

  it('SIGTERM while Cognigy hangs: exits 0 within the bound and the pending reply is delivered after the restart', async () => {
    const relay = await launch('hang.db');
    const session = { URLToken: 'tok', userId: 'u-hang', sessionId: 's-hang' };
    const threadId = await handOver(relay.url, session);
    await cognigy.setFault('hang');
    expect((await engage.agentReply({ threadId, body: 'stuck in a hung call' })).outcome).toBe('delivered');
    await waitUntil('the notify is hanging', () => cognigy.attempts.some((a) => a.status === 'hung'));
    const signalledAt = Date.now();
    relay.kill('SIGTERM');
    const exit = await relay.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(7_000);

    await cognigy.setFault('none');
    const again = await launch('hang.db', relay.port);
    await waitUntil('delivered after restart', () => notified(session.sessionId).length >= 1, { timeoutMs: 20_000 });
    await sleep(200);
    expect(notified(session.sessionId)).toEqual(['stuck in a hung call']);
    again.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
    recordFigures('sigterm-hang', { exitCode: exit.code ?? -1, exitMsAfterSigterm: exit.at - signalledAt });
  }, 40_000);

  it('wrote no secret to stdout or stderr in any of these runs', () => {
    const output = processes.flatMap((p, i) => [
      ...p.stdout.map((text) => ({ where: `process ${i} stdout`, text })),
      ...p.stderr.map((text) => ({ where: `process ${i} stderr`, text })),
    ]);
    expect(output.length).toBeGreaterThan(10);
    expect(findLeaks(output, Object.values(secrets))).toEqual([]);
  });
});
