/**
 * SNIP-29 error 156's `data` as real paymasters send it: a `CONTRACT_EXECUTION_ERROR_INNER`
 * (`@starknet-io/starknet-types-09`, `snip-29/errors` and `api/components`), a chain of
 * `{ contract_address, class_hash, selector, error }` frames from the relayer's `__execute__` down to the
 * account's `execute_from_outside_v2`, whose `error` is the sequencer-formatted panic data: each felt as hex with
 * its short string quoted, a `ByteArray` panic as its double-quoted text, then the `ENTRYPOINT_FAILED` the failed
 * call appends, e.g. `(0x5365… ('Session: unauthorized selector'), 0x454e… ('ENTRYPOINT_FAILED'))`.
 */
import { encodeShortString, toHex } from "../../internal/crypto/felt.js"
import { SESSION_ACCOUNT_CLASS_HASH } from "../abi.js"
import { selectorOf } from "../../Schemas.js"

/**
 * How the served paymaster shapes error 156's `data`: `nested` frames, `wrapped` in `{ execution_error }`, the
 * reason alone (`flat`), or `avnu`: `{ execution_error: string }`, the string AVNU's paymaster sends
 * (avnu-labs/paymaster: `paymaster-rpc` `ExecutionError { execution_error: ContractExecutionError }` holding a
 * `Message` made of `paymaster-execution`'s `"execution error {0}"` around `paymaster-starknet`'s
 * `"Execution error {0:?}"`, the Rust `Debug` of starknet-rs's `ContractExecutionError`).
 */
export type ExecutionErrorShape = "nested" | "wrapped" | "flat" | "avnu"

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

/** Rust's `Debug` of a `str`: double-quoted, with `"`, `\\` and control characters escaped (`'` is not). */
export const rustDebugString = (text: string): string =>
  `"${
    text.replace(/[\\"\n\r\t]|[\u0000-\u001f\u007f]/g, (c) =>
      c === "\\" ? "\\\\" : c === "\"" ? "\\\"" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : `\\u{${c.charCodeAt(0).toString(16)}}`)
  }"`

interface Frame {
  readonly contract_address: string
  readonly class_hash: string
  readonly selector: string
  readonly error: Frame | string
}

/**
 * The Rust `Debug` of starknet-rs's `ContractExecutionError` (`#[derive(Debug)]`: `Nested(InnerContractExecutionError
 * { contract_address, class_hash, selector, error })` or `Message("…")`; a `Felt` shows as minimal lowercase hex,
 * starknet-types-core `impl Debug for Felt`).
 */
export const rustDebugOf = (error: Frame | string): string =>
  typeof error === "string"
    ? `Message(${rustDebugString(error)})`
    : `Nested(InnerContractExecutionError { contract_address: ${toHex(BigInt(error.contract_address))}, class_hash: ${
      toHex(BigInt(error.class_hash))
    }, selector: ${toHex(BigInt(error.selector))}, error: ${rustDebugOf(error.error)} })`

/** AVNU's `data` for a 156 that is a message, not a simulated revert (`Tx already sent`, `invalid time bounds`). */
export const avnuMessageData = (text: string) => ({ execution_error: text })

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
  if (shape === "avnu") return { execution_error: `execution error Execution error ${rustDebugOf(nested)}` }
  return shape === "wrapped" ? { execution_error: nested } : nested
}
