/** A transport-agnostic response: protocol handlers return these, app.ts writes them. */
export interface PlainResponse {
  status: number;
  contentType: 'application/json' | 'text/plain';
  body: string;
  headers?: Record<string, string>;
  /** One-line reason for rejections, for the log (never contains secrets). */
  rejection?: string;
}

export function textResponse(status: number, body: string): PlainResponse {
  return { status, contentType: 'text/plain', body, ...(status >= 400 ? { rejection: body } : {}) };
}

export function jsonResponse(status: number, value: unknown, headers?: Record<string, string>): PlainResponse {
  return { status, contentType: 'application/json', body: JSON.stringify(value), ...(headers ? { headers } : {}) };
}

export function jsonError(status: number, code: string, message: string, field?: string): PlainResponse {
  return { ...jsonResponse(status, { error: { code, message, ...(field ? { field } : {}) } }), rejection: `${code}: ${message}` };
}
