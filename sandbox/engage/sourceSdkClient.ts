import { SDK_SIGNATURE_HEADER, signSdkBody, verifySdkSignature } from '../../relay/src/engage/sdkSignature';
import { headerValue, type OutboundHttp } from './httpClient';
import type { SourceCallRecord } from './state';
import { isoSeconds } from './util';

/**
 * Engage → source Base URI calls (request-response.md): POST of compact UTF-8 JSON
 * `{action, params, time}` (no params for implementation.info), signed with the source's API access
 * token over the exact bytes sent; the response must carry a valid signature of its own body.
 */

export interface SourceCallResult {
  /** 2xx with a valid response signature. Callers still check the body. */
  ok: boolean;
  status: number | null;
  responseBody: string | null;
  responseSignatureValid: boolean;
  /** Parsed JSON body when it was JSON. */
  json: unknown;
  error: string | null;
}

export interface SourceSdkClientOptions {
  baseUri: () => string | undefined;
  realtimeAccessToken: string;
  http: OutboundHttp;
  clock: () => Date;
  timeoutMs: number;
  record: (call: SourceCallRecord) => void;
}

export class SourceSdkClient {
  constructor(private readonly options: SourceSdkClientOptions) {}

  /** Builds the exact request bytes; exported for the documented test vector. */
  requestBody(action: string, params: Record<string, unknown> | undefined, time: Date): string {
    // Key order as Engage sends it: action, params, time.
    const envelope = params === undefined ? { action, time: isoSeconds(time) } : { action, params, time: isoSeconds(time) };
    return JSON.stringify(envelope);
  }

  async call(action: string, params?: Record<string, unknown>): Promise<SourceCallResult> {
    const baseUri = this.options.baseUri();
    if (!baseUri) throw new Error('the source has no Base URI (setSourceBaseUri first)');
    const body = this.requestBody(action, params, this.options.clock());
    const signature = signSdkBody(this.options.realtimeAccessToken, body);
    const started = Date.now();
    let result: SourceCallResult;
    try {
      const response = await this.options.http.request({
        method: 'POST',
        url: baseUri,
        headers: { 'content-type': 'application/json', [SDK_SIGNATURE_HEADER]: signature },
        body: Buffer.from(body, 'utf8'),
        timeoutMs: this.options.timeoutMs,
      });
      const responseSignatureValid = verifySdkSignature(
        [this.options.realtimeAccessToken],
        response.body,
        headerValue(response.headers, SDK_SIGNATURE_HEADER),
      );
      const responseBody = response.body.toString('utf8');
      const is2xx = response.status >= 200 && response.status < 300;
      const error = !is2xx
        ? `HTTP ${response.status}`
        : responseSignatureValid
          ? null
          : `response ${SDK_SIGNATURE_HEADER} missing or invalid`;
      result = {
        ok: error === null,
        status: response.status,
        responseBody,
        responseSignatureValid,
        json: parseJson(responseBody),
        error,
      };
    } catch (err) {
      result = {
        ok: false,
        status: null,
        responseBody: null,
        responseSignatureValid: false,
        json: undefined,
        error: (err as Error).message,
      };
    }
    this.options.record({
      at: new Date(started).toISOString(),
      action,
      requestBody: body,
      requestSignature: signature,
      status: result.status,
      responseBody: result.responseBody,
      responseSignatureValid: result.responseSignatureValid,
      error: result.error,
      durationMs: Date.now() - started,
    });
    return result;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
