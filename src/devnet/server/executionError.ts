/**
 * SNIP-29 error 156's `data` as real paymasters send it: a `CONTRACT_EXECUTION_ERROR_INNER`
 * (`@starknet-io/starknet-types-09`, `snip-29/errors` and `api/components`), a chain of
 * `{ contract_address, class_hash, selector, error }` frames from the relayer's `__execute__` down to the
 * account's `execute_from_outside_v2`, whose `error` is the sequencer-formatted panic data: each felt as hex with
 * its short string quoted, a `ByteArray` panic as its double-quoted text, then the `ENTRYPOINT_FAILED` the failed
 * call appends, e.g. `(0x5365… ('Session: unauthorized selector'), 0x454e… ('ENTRYPOINT_FAILED'))`.
 */
import { encodeShortString, toHex } from "../../internal/felt.js"
import { SESSION_ACCOUNT_CLASS_HASH } from "../abi.js"
import { selectorOf } from "../../Schemas.js"

/** How the served paymaster shapes error 156's `data`. */
export type ExecutionErrorShape = "nested" | "wrapped" | "flat"

/** The devnet's relayer account class (its own; the relayer is not an account of the devnet's chain). */
export const RELAYER_CLASS_HASH = 0x5e1a7e5000000000000000000000000000000000000000000000000000000001n

/** Reasons the contract raises with `panic!` (a `ByteArray`), per the reference source; the rest are short strings. */
const BYTE_ARRAY_REASONS = new Set(["Spending: invalid amount"])

const shortString = (text: string) => `${toHex(encodeShortString(text))} ('${text}')`

/** The panic data of a failed call, formatted as the sequencer formats it. */
export const formatPanic = (reason: string): string => {
  const head = BYTE_ARRAY_REASONS.has(reason) || reason.length > 31 || /[^\x20-\x7e]/.test(reason)
    ? JSON.stringify(reason)
    : shortString(reason)
  return `(${head}, ${shortString("ENTRYPOINT_FAILED")})`
}

export const executionErrorData = (
  shape: ExecutionErrorShape,
  reason: string,
  frame: { readonly relayer: bigint; readonly account: bigint }
): unknown => {
  if (shape === "flat") return reason
  const nested = {
    contract_address: toHex(frame.relayer),
    class_hash: toHex(RELAYER_CLASS_HASH),
    selector: selectorOf("__execute__"),
    error: {
      contract_address: toHex(frame.account),
      class_hash: toHex(SESSION_ACCOUNT_CLASS_HASH),
      selector: selectorOf("execute_from_outside_v2"),
      error: formatPanic(reason)
    }
  }
  return shape === "wrapped" ? { execution_error: nested } : nested
}
