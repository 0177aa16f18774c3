/** Recognising, in a relayer's transaction, the outside execution a payload became. */
import { SELECTORS } from "../../Constants.js"

const EXECUTE_FROM_OUTSIDE = BigInt(SELECTORS.execute_from_outside_v2)

const felt = (text: string | undefined): bigint | undefined => {
  if (text === undefined) return undefined
  try {
    return BigInt(text)
  } catch {
    return undefined
  }
}

/**
 * Whether a relayer's invoke calldata carries the outside execution of `wallet` with `nonce`: a call to the wallet's
 * `execute_from_outside_v2` whose `OutsideExecution` (`caller, nonce, …`) has that nonce. Liberal in the layout, since
 * paymasters differ in how they relay:
 * - a serialised Cairo 1 `Call` anywhere in the calldata (`to, selector, calldata_len, caller, nonce, …`): the relayer's
 *   own SNIP-6 multicall, or a forwarder that takes the user's call as an argument (AVNU's `execute_sponsored` and
 *   `execute`);
 * - a Cairo 0 account's multicall (`[n, (to, selector, data_offset, data_len)*, calldata_len, calldata…]`).
 * The receipt still decides: only a transaction that succeeded counts.
 */
export const carries = (calldata: ReadonlyArray<string>, wallet: bigint, nonce: bigint): boolean => {
  const values = calldata.map(felt)
  const n = values[0]
  const cairo0Base = n !== undefined && n > 0n && n < BigInt(values.length) ? 2 + 4 * Number(n) : undefined
  for (let i = 0; i + 1 < values.length; i++) {
    if (values[i] !== wallet || values[i + 1] !== EXECUTE_FROM_OUTSIDE) continue
    // Cairo 1: (to, selector, calldata_len, caller, nonce, …)
    if (values[i + 4] === nonce) return true
    // Cairo 0: an entry (to, selector, data_offset, data_len) of the call array, its data after the array.
    if (cairo0Base !== undefined && i >= 1 && i < cairo0Base - 1 && (i - 1) % 4 === 0) {
      const offset = values[i + 2]
      if (offset !== undefined && offset < BigInt(values.length) && values[cairo0Base + Number(offset) + 1] === nonce) return true
    }
  }
  return false
}
