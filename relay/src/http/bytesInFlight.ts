/** Why a body may not be received now. */
export type BudgetRefusal = 'address' | 'total';

/** Bodies up to this size are "small": the part of the total budget kept for them is theirs alone. */
export const SMALL_BODY_BYTES = 64 * 1024;
/** Share of the total budget large bodies may not take (so small, everyday calls still get in). */
const SMALL_RESERVE_SHARE = 1 / 8;

/**
 * Request-body bytes being received, per client address and in total. A request reserves its
 * declared Content-Length (or the route's limit when chunked) before a byte of its body is read
 * and releases it when the body is in or the request ends; a request that does not fit is refused
 * without reading (429). So 2,000 stalled 1 MiB uploads from one address hold at most the
 * per-address budget, and the relay's memory is bounded by the total whatever the number of
 * addresses. Large bodies may fill only 7/8 of the total: when many addresses stall large
 * uploads, the everyday calls (an agent reply, a status request: a few KB) still get in.
 */
export class BytesInFlight {
  private readonly byAddress = new Map<string, number>();
  private total = 0;
  private readonly largeCap: number;

  constructor(
    private readonly perAddress: number,
    private readonly overall: number,
  ) {
    this.largeCap = overall - Math.floor(overall * SMALL_RESERVE_SHARE);
  }

  /** Reserves `bytes` for `address`; returns a release function (idempotent), or why not. */
  reserve(address: string, bytes: number): { release: () => void } | { refused: BudgetRefusal } {
    const held = this.byAddress.get(address) ?? 0;
    if (held + bytes > this.perAddress) return { refused: 'address' };
    const cap = bytes <= SMALL_BODY_BYTES ? this.overall : this.largeCap;
    if (this.total + bytes > cap) return { refused: 'total' };
    this.byAddress.set(address, held + bytes);
    this.total += bytes;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.total -= bytes;
        const left = (this.byAddress.get(address) ?? bytes) - bytes;
        if (left <= 0) this.byAddress.delete(address);
        else this.byAddress.set(address, left);
      },
    };
  }

  get bytesHeld(): number {
    return this.total;
  }

  get addressesHeld(): number {
    return this.byAddress.size;
  }
}
