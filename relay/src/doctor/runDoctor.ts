import type { Writable } from 'node:stream';
import { z } from 'zod';
import { ConfigError, type RelayConfig, type TenantConfig } from '../config';
import { EngageRestClient } from '../engage/restClient';
import { signSdkBody, SDK_SIGNATURE_HEADER } from '../engage/sdkSignature';
import { tenantIdentityUsers } from '../engage/tenantIdentities';
import { createOutboundHttp } from '../http/outboundHttp';
import { DeliveryError } from '../outbox/deliveryError';
import { openStore } from '../store/openStore';
import { checkClock } from './clockCheck';
import { type DoctorLine, markOf } from './doctorLine';
import { redisDoctorLines } from './redisDoctor';
import { checkWebhook } from './webhookCheck';

export type { DoctorLine } from './doctorLine';

/**
 * `relay doctor`: checks a configuration against the live services, one line per check, with
 * what to fix. Every probe is read-only or deliberately invalid so nothing changes in Engage or
 * Cognigy.
 */
type Http = ReturnType<typeof createOutboundHttp>['client'];

async function checkEngageRest(http: Http, tenant: TenantConfig): Promise<DoctorLine[]> {
  const rest = new EngageRestClient(http, tenant);
  const lines: DoctorLine[] = [];
  try {
    const me = await rest.me();
    if (!me)
      return [
        {
          ok: false,
          check: 'Base API URL and API Access Token',
          detail: 'users/me was refused: check RCE_API_ACCESS_TOKEN (Admin > API access tokens) and RCE_BASE_API_URL',
        },
      ];
    lines.push({
      ok: true,
      check: 'Base API URL and API Access Token',
      detail: `token belongs to agent ${me.firstname ?? ''} ${me.lastname ?? ''} (${me.id})`.replace(/\s+/g, ' '),
    });
  } catch (err) {
    const message = err instanceof DeliveryError ? err.message : (err as Error).message;
    const hint = /401|invalid_access_token/.test(message)
      ? 'the API Access Token is not accepted'
      : 'is RCE_BASE_API_URL right (https://<account>.api.engagement.dimelo.com/1.0)?';
    return [{ ok: false, check: 'Base API URL and API Access Token', detail: `${message}: ${hint}` }];
  }
  try {
    const bot = await rest.category(tenant.botCategoryId);
    const agent = await rest.category(tenant.agentCategoryId);
    if (!bot)
      lines.push({
        ok: false,
        check: 'Bot category',
        detail: `category ${tenant.botCategoryId} not found: copy CATEGORY_ID from Admin > Categories > Bot (URL …/categories/<id>/edit)`,
      });
    if (!agent)
      lines.push({
        ok: false,
        check: 'Agent category',
        detail: `category ${tenant.agentCategoryId} not found: copy CATEGORY_ID from Admin > Categories > Agent`,
      });
    if (bot && agent) {
      if (bot.id === agent.id)
        lines.push({
          ok: false,
          check: 'Bot and Agent categories',
          detail: 'Bot and Agent category ids are the same; they must be two sub-categories',
        });
      else if (!bot.parent_id || bot.parent_id !== agent.parent_id)
        lines.push({
          ok: false,
          check: 'Bot and Agent categories',
          detail: 'Bot and Agent must be sub-categories of one parent (e.g. Cognigy > Bot, Cognigy > Agent)',
        });
      else
        lines.push({
          ok: true,
          check: 'Bot and Agent categories',
          detail: `"${bot.name ?? bot.id}" and "${agent.name ?? agent.id}" share parent ${bot.parent_id}`,
        });
    }
  } catch (err) {
    lines.push({ ok: false, check: 'Bot and Agent categories', detail: (err as Error).message });
  }
  return lines;
}

/**
 * Seed step 7: the relay creates the Bot and Agent identities at start; the admin then makes them
 * controlled and assigns the Agent identity to agents. Read-only.
 */
async function checkIdentities(http: Http, tenant: TenantConfig): Promise<DoctorLine[]> {
  const rest = new EngageRestClient(http, tenant);
  const users = tenantIdentityUsers(tenant.sourceId);
  const lines: DoctorLine[] = [];
  for (const role of ['bot', 'agent'] as const) {
    const check = `${role === 'bot' ? 'Bot' : 'Agent'} identity`;
    try {
      const identity = await rest.identityByForeignId(users[role].id);
      if (!identity) {
        lines.push({
          ok: false,
          check,
          detail: `not in Engage yet (id ${users[role].id}): start the relay (it creates it), then check its log for "Engage identity"`,
        });
      } else if (role === 'agent' && (identity.user_ids ?? []).length === 0) {
        lines.push({
          ok: false,
          check,
          detail: 'exists but no agent uses it: Identities > Agent > Controlled identity, then assign it to agents in the Agents view',
        });
      } else {
        lines.push({
          ok: true,
          check,
          detail: `exists (${identity.id})${identity.user_ids?.length ? `, assigned to ${identity.user_ids.length} user(s)` : ''}`,
        });
      }
    } catch (err) {
      lines.push({ ok: false, check, detail: (err as Error).message });
    }
  }
  return lines;
}

/**
 * Sends a signed request with an action no source declares: Engage answers "Invalid action" only
 * after the source and signature were accepted, so nothing is created.
 */
async function checkRealtime(http: Http, tenant: TenantConfig): Promise<DoctorLine> {
  const check = 'Realtime Endpoint URL and Realtime Access Token';
  const body = JSON.stringify({ action: 'doctor.check', params: {} });
  try {
    const response = await http.post<string>(tenant.realtimeEndpointUrl, body, {
      headers: { 'Content-Type': 'application/json', [SDK_SIGNATURE_HEADER]: signSdkBody(tenant.realtimeAccessToken, body) },
    });
    const text = String(response.data ?? '');
    if (/Invalid signature/i.test(text))
      return { ok: false, check, detail: "Engage rejected the signature: RCE_REALTIME_ACCESS_TOKEN must be the source's API access token" };
    if (/Source not found/i.test(text))
      return {
        ok: false,
        check,
        detail: "Engage does not know this source: copy the Realtime Endpoint URL from the source's Implementation Details",
      };
    if (response.status === 422 && /Invalid action/i.test(text))
      return { ok: true, check, detail: `source ${tenant.sourceId} accepted our signature` };
    return { ok: false, check, detail: `unexpected answer HTTP ${response.status}` };
  } catch {
    return { ok: false, check, detail: 'cannot reach the Realtime Endpoint URL' };
  }
}

/** An inject without a session: a bad key gives 401/403, a good key a 400 validation error. */
async function checkCognigy(http: Http, tenant: TenantConfig): Promise<DoctorLine> {
  const check = 'Cognigy API key';
  try {
    const response = await http.post(`${tenant.cognigyApiBaseUrl}/new/v2.0/endpoint/inject`, '{}', {
      headers: { 'Content-Type': 'application/json', 'X-API-Key': tenant.cognigyApiKey },
    });
    if (response.status === 401 || response.status === 403)
      return { ok: false, check, detail: 'Cognigy refused COGNIGY_API_KEY (create one under My Profile > API Keys)' };
    if (response.status === 404)
      return {
        ok: false,
        check,
        detail: 'COGNIGY_API_BASE_URL has no /new/v2.0/endpoint/inject: use the API host (e.g. https://api-trial.cognigy.ai)',
      };
    if (response.status >= 500) return { ok: false, check, detail: `Cognigy answered HTTP ${response.status}` };
    return { ok: true, check, detail: 'key accepted' };
  } catch {
    return { ok: false, check, detail: 'cannot reach COGNIGY_API_BASE_URL' };
  }
}

export interface DoctorOptions {
  /** The relay's URL as Engage reaches it: the webhook must point at `<publicUrl>/handover/rce`. */
  publicUrl?: string;
}

/** Read by the doctor only (the relay itself never needs to know how Engage reaches it). */
export const DOCTOR_PUBLIC_URL_ENV = 'RELAY_PUBLIC_URL';
const publicUrlSchema = z.url({ protocol: /^https?$/ }).optional();

export function doctorOptionsFromEnv(env: NodeJS.ProcessEnv): DoctorOptions {
  const raw = env[DOCTOR_PUBLIC_URL_ENV]?.trim() || undefined;
  const parsed = publicUrlSchema.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(
      `${DOCTOR_PUBLIC_URL_ENV} is malformed: not an http(s) URL. Example: ${DOCTOR_PUBLIC_URL_ENV}=https://relay.example.com`,
    );
  return parsed.data ? { publicUrl: parsed.data } : {};
}

export async function doctorLines(config: RelayConfig, options: DoctorOptions = {}): Promise<DoctorLine[]> {
  const outbound = createOutboundHttp({ timeoutMs: 8000 });
  const lines: DoctorLine[] = [];
  try {
    for (const tenant of config.tenants) {
      const prefix = config.tenants.length > 1 ? `[${tenant.sourceId}] ` : '';
      const tenantLines = [
        ...(await checkEngageRest(outbound.client, tenant)),
        await checkRealtime(outbound.client, tenant),
        await checkClock(outbound.client, tenant, config.settings),
        ...(await checkIdentities(outbound.client, tenant)),
        ...(await checkWebhook(outbound.client, tenant, {
          multiTenant: config.tenants.length > 1,
          ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
        })),
        await checkCognigy(outbound.client, tenant),
      ];
      for (const line of tenantLines) lines.push({ ...line, check: prefix + line.check });
    }
    try {
      const store = await openStore(config.settings.storeUrl);
      try {
        await store.ping();
        lines.push({ ok: true, check: 'Store', detail: `${config.settings.storeUrl.split(':')[0]} reachable` });
        lines.push(...(await redisDoctorLines(store)));
      } finally {
        await store.close();
      }
    } catch (err) {
      lines.push({ ok: false, check: 'Store', detail: `STORE_URL not usable: ${(err as Error).message.slice(0, 120)}` });
    }
  } finally {
    outbound.close();
  }
  return lines;
}

export async function runDoctor(
  config: RelayConfig,
  out: Writable,
  options: DoctorOptions = doctorOptionsFromEnv(process.env),
): Promise<number> {
  const lines = await doctorLines(config, options);
  for (const line of lines) out.write(`${markOf(line)} ${line.check}: ${line.detail}\n`);
  const failed = lines.filter((l) => !l.ok).length;
  out.write(failed === 0 ? 'All checks passed.\n' : `${failed} check(s) need attention.\n`);
  const notes = lines.filter((l) => l.ok && l.advisory).length;
  if (notes > 0) out.write(`${notes} note(s) marked ! above: checks doctor cannot make from here, or advice.\n`);
  return failed === 0 ? 0 : 1;
}
