/** How a contract call or a transaction fails on the devnet's chain. */
import { encodeShortString } from "../internal/crypto/felt.js"
import { BYTE_ARRAY_MAGIC } from "../internal/transport/reason.js"

/**
 * A panic: its reason, raised as a short string (`assert(..., 'reason')`) or as a `ByteArray` (`panic!("...")`),
 * which the sequencer formats differently.
 */
export class Revert {
  constructor(readonly reason: string, readonly kind: "shortString" | "byteArray" = "shortString") {}
}

/**
 * The sequencer refuses a transaction whose validation fails: it changes nothing and is never executed. `code` is
 * RPC 0.9's: 52 (`INVALID_TRANSACTION_NONCE`) for a nonce that is not the account's next, else 55
 * (`VALIDATION_FAILURE`).
 */
export class Rejected {
  /** `panic`: the account's own panic in `__validate__`, when that is why. */
  constructor(readonly reason: string, readonly code: 52 | 55 = 55, readonly panic?: string) {}
}

const ENTRYPOINT_FAILED = encodeShortString("ENTRYPOINT_FAILED")

/**
 * A failed call's panic data as a trace shows it in the call's `result`: the reason (a short string, or
 * `BYTE_ARRAY_MAGIC` and the serialized `ByteArray`), then the `ENTRYPOINT_FAILED` the failed call appends.
 */
export const panicData = (revert: Revert): ReadonlyArray<bigint> => {
  if (revert.kind === "shortString" && revert.reason.length <= 31 && /^[\x20-\x7e]*$/.test(revert.reason)) {
    return [encodeShortString(revert.reason), ENTRYPOINT_FAILED]
  }
  const bytes = new TextEncoder().encode(revert.reason)
  const words: Array<bigint> = []
  let i = 0
  for (; i + 31 <= bytes.length; i += 31) words.push(BigInt("0x" + Buffer.from(bytes.subarray(i, i + 31)).toString("hex")))
  const rest = bytes.subarray(i)
  const pending = rest.length === 0 ? 0n : BigInt("0x" + Buffer.from(rest).toString("hex"))
  return [BYTE_ARRAY_MAGIC, BigInt(words.length), ...words, pending, BigInt(rest.length), ENTRYPOINT_FAILED]
}
