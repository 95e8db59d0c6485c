import type { AxiosInstance } from 'axios';
import type { RelaySettings, TenantConfig } from '../config';
import type { DoctorLine } from './doctorLine';

/**
 * The relay's clock against Engage's (the `Date` header of a REST answer, 1 s resolution): Engage
 * stamps its Source SDK calls with `time`, and the relay refuses those outside REPLAY_WINDOW_MS
 * ("Request time outside the accepted window"). A clock off by more than half the window fails;
 * a few seconds is worth a note (NTP not running).
 */
const NOTE_AFTER_MS = 5_000;

export async function checkClock(
  http: AxiosInstance,
  tenant: TenantConfig,
  settings: Pick<RelaySettings, 'replayWindowMs'>,
  now: () => number = Date.now,
): Promise<DoctorLine> {
  const check = 'Clock';
  let engageDate: string | undefined;
  const sentAt = now();
  try {
    const response = await http.get<string>(`${tenant.baseApiUrl}/users/me`, {
      headers: { Authorization: `Bearer ${tenant.apiAccessToken}`, Accept: 'application/json' },
    });
    const header: unknown = response.headers.date;
    engageDate = typeof header === 'string' ? header : undefined;
  } catch {
    return { ok: true, advisory: true, check, detail: 'cannot check: Engage did not answer' };
  }
  const engageMs = engageDate ? Date.parse(engageDate) : Number.NaN;
  if (!Number.isFinite(engageMs)) return { ok: true, advisory: true, check, detail: 'cannot check: Engage sent no Date header' };
  // The header is whole seconds, stamped between our send and its receipt.
  const receivedAt = now();
  const skewMs = engageMs <= sentAt - 1000 ? engageMs + 1000 - sentAt : engageMs > receivedAt ? engageMs - receivedAt : 0;
  const seconds = Math.round(Math.abs(skewMs) / 1000);
  const direction = skewMs > 0 ? 'behind' : 'ahead of';
  if (Math.abs(skewMs) > settings.replayWindowMs / 2)
    return {
      ok: false,
      check,
      detail: `this host's clock is about ${seconds} s ${direction} Engage's: Engage's calls risk "Request time outside the accepted window" (REPLAY_WINDOW_MS ${settings.replayWindowMs} ms); run NTP`,
    };
  if (Math.abs(skewMs) > NOTE_AFTER_MS)
    return { ok: true, advisory: true, check, detail: `this host's clock is about ${seconds} s ${direction} Engage's: is NTP running?` };
  return { ok: true, check, detail: "within a few seconds of Engage's" };
}
