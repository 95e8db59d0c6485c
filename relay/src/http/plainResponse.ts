/** A transport-agnostic response: protocol handlers return these, app.ts writes them. */
export interface PlainResponse {
  status: number;
  contentType: 'application/json' | 'text/plain';
  body: string;
  headers?: Record<string, string>;
  /** One-line reason for rejections, for the log (never contains secrets). */
  rejection?: string;
}

/** The Content-Type header a PlainResponse is sent with (UTF-8 always). */
export const CONTENT_TYPE_HEADER: Record<PlainResponse['contentType'], string> = {
  'application/json': 'application/json; charset=utf-8',
  'text/plain': 'text/plain; charset=utf-8',
};

export function textResponse(status: number, body: string): PlainResponse {
  return { status, contentType: 'text/plain', body, ...(status >= 400 ? { rejection: body } : {}) };
}

export function jsonResponse(status: number, value: unknown, headers?: Record<string, string>): PlainResponse {
  return { status, contentType: 'application/json', body: JSON.stringify(value), ...(headers ? { headers } : {}) };
}

/** Adds Retry-After (whole seconds, at least 1) to a 429. */
export function withRetryAfter(response: PlainResponse, waitMs: number): PlainResponse {
  return { ...response, headers: { ...response.headers, 'Retry-After': String(Math.max(1, Math.ceil(waitMs / 1000))) } };
}

/** Per-tenant admission: 0 = go ahead, otherwise ms until the tenant may send again. */
export type TenantAdmission = (tenantId: string) => number;

export function jsonError(status: number, code: string, message: string, field?: string): PlainResponse {
  return { ...jsonResponse(status, { error: { code, message, ...(field ? { field } : {}) } }), rejection: `${code}: ${message}` };
}
