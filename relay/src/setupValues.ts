import { z } from 'zod';

/**
 * Setup values in the forms admins copy them (seed steps 2, 3 and 6), normalised, and values that can
 * never work refused with an example of the right form. Error messages never repeat the value.
 */

const ENGAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A category id, or the admin page it was copied from (`…/admin/categories/<id>/edit`, seed step 2):
 * the id is taken out of the URL.
 */
export const categoryIdSchema = z
  .string()
  .trim()
  .min(1)
  .transform((value, ctx) => {
    const fromAdminUrl = /\/admin\/categories\/([A-Za-z0-9_-]+)(?:\/edit)?\/?(?:[?#].*)?$/.exec(value)?.[1];
    const id = fromAdminUrl ?? value;
    if (!ENGAGE_ID.test(id)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a category id (e.g. 5f1c00000000000000000c03), or the URL of its admin page …/admin/categories/<id>/edit',
      });
      return z.NEVER;
    }
    return id;
  });

function withScheme(value: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
}

function parseHttpUrl(value: string): URL | null {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : null;
  } catch {
    return null;
  }
}

/** Engage app hosts whose REST API lives on the same name with `api` added (requests.md, seed step 6). */
const ENGAGE_APP_HOST = /^([^.]+)\.(engagement\.dimelo\.com|digital\.ringcentral\.com)$/i;

/**
 * Engage's REST base: `acme.api.engagement.dimelo.com` (the seed's form), `https://…` and `https://…/1.0`
 * all become `https://host/1.0`: every REST path is under `/1.0` (docs/basics/requests.md).
 */
export const baseApiUrlSchema = z
  .string()
  .trim()
  .min(1)
  .transform((value, ctx) => {
    const example = 'e.g. acme.api.engagement.dimelo.com or https://acme.api.engagement.dimelo.com/1.0';
    const url = parseHttpUrl(withScheme(value));
    if (!url || url.search || url.hash || url.username || url.password) {
      ctx.addIssue({ code: 'custom', message: `must be the Engage API host, ${example}` });
      return z.NEVER;
    }
    const app = ENGAGE_APP_HOST.exec(url.hostname);
    if (app) {
      ctx.addIssue({
        code: 'custom',
        message: `is the Engage app host; the API host has "api" added: <account>.api.${app[2]?.toLowerCase() ?? ''} (${example})`,
      });
      return z.NEVER;
    }
    const path = url.pathname.replace(/\/+$/, '');
    if (path !== '' && path !== '/1.0') {
      ctx.addIssue({ code: 'custom', message: `must be the API host with nothing after it but /1.0, ${example}` });
      return z.NEVER;
    }
    return `${url.protocol}//${url.host}/1.0`;
  });

/** Cognigy's API host only: the relay appends `/new/v2.0/endpoint/inject|notify` itself. */
export const cognigyApiBaseUrlSchema = z
  .string()
  .trim()
  .min(1)
  .transform((value, ctx) => {
    const url = parseHttpUrl(value);
    if (!url || url.pathname.replace(/\/+$/, '') !== '' || url.search || url.hash) {
      ctx.addIssue({ code: 'custom', message: 'must be the Cognigy API host without a path, e.g. https://api-trial.cognigy.ai' });
      return z.NEVER;
    }
    return `${url.protocol}//${url.host}`;
  });

/**
 * The source's Realtime Endpoint URL (Implementation Details): `https://<account>.<host>/realtime/sdk/<source id>`
 * (send-api.md). The source id names the tenant, so anything else is refused.
 */
export const realtimeEndpointUrlSchema = z
  .string()
  .trim()
  .min(1)
  .transform((value, ctx) => {
    const url = parseHttpUrl(value);
    const sourceId = url ? /^\/realtime\/sdk\/([A-Za-z0-9_-]{1,64})\/?$/.exec(url.pathname)?.[1] : undefined;
    if (!url || !sourceId || url.search || url.hash) {
      ctx.addIssue({
        code: 'custom',
        message:
          "must end with the source id, e.g. https://acme.engagement.dimelo.com/realtime/sdk/5f1c00000000000000000d01 (the source's Implementation Details)",
      });
      return z.NEVER;
    }
    return { url: `${url.protocol}//${url.host}/realtime/sdk/${sourceId}`, sourceId };
  });
