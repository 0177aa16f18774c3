/**
 * The check of server-built typed data before it is signed: it must say what was asked.
 */
import { Either } from "effect"
import { TypedDataMismatch } from "../../Errors.js"
import { typedDataScalar, toHex } from "../crypto/felt.js"
import {
  fromTypedData,
  type OutsideCall,
  type OutsideExecution,
  type OutsideExecutionTypedData
} from "../../OutsideExecution.js"
import { ANY_CALLER } from "../../Constants.js"

export interface Expected {
  readonly chainId: string
  readonly calls: ReadonlyArray<OutsideCall>
  /** The validity asked for, seconds. */
  readonly validity: number
  /** The library's clocks, seconds: the latest block's timestamp and the wall clock. */
  readonly clocks: { readonly block: number; readonly wall: number }
  /** How far a paymaster's clock may differ from ours, seconds. */
  readonly tolerance: number
  /** A relayer the user pinned: then the caller must be it (or any caller). */
  readonly relayer?: string | undefined
  /**
   * Whether the paymaster was able to take the window asked for. When not (an API without time bounds), the
   * window it chose may last up to `NO_BOUNDS_CAP` (or `validity`, if longer).
   */
  readonly boundsAsked?: boolean
}

/** How long a window chosen by a paymaster that takes no bounds may stay open: 10 minutes. */
export const NO_BOUNDS_CAP = 600

const mismatch = (field: string, expected: unknown, actual: unknown) =>
  Either.left(new TypedDataMismatch({ field, expected: String(expected), actual: String(actual) }))

const same = (a: string | bigint | number, b: string | bigint | number) => {
  try {
    return typedDataScalar(typeof a === "number" ? BigInt(a) : a) === typedDataScalar(typeof b === "number" ? BigInt(b) : b)
  } catch {
    return false
  }
}

/** The outside execution the typed data describes, when it says exactly what was asked. */
export const checkTypedData = (
  td: OutsideExecutionTypedData,
  expected: Expected
): Either.Either<OutsideExecution, TypedDataMismatch> => {
  const domain = td.domain
  if (domain.name !== "Account.execute_from_outside") return mismatch("domain.name", "Account.execute_from_outside", domain.name)
  if (!same(domain.version, 2)) return mismatch("domain.version", 2, domain.version)
  if (!same(domain.revision, 1)) return mismatch("domain.revision", 1, domain.revision)
  if (!same(domain.chainId, expected.chainId)) return mismatch("domain.chainId", expected.chainId, domain.chainId)
  let parsed: OutsideExecution
  try {
    parsed = fromTypedData(td).outsideExecution
  } catch (error) {
    return mismatch("message", "felts", error instanceof Error ? error.message : "unparseable value")
  }
  const caller = BigInt(parsed.caller)
  if (expected.relayer !== undefined) {
    const open = caller === 0n || caller === BigInt(ANY_CALLER)
    if (!open && caller !== BigInt(expected.relayer)) return mismatch("message.Caller", expected.relayer, parsed.caller)
  }
  if (parsed.calls.length !== expected.calls.length) {
    return mismatch("message.Calls.length", expected.calls.length, parsed.calls.length)
  }
  for (const [i, want] of expected.calls.entries()) {
    const got = parsed.calls[i]!
    if (BigInt(got.to) !== BigInt(want.to)) return mismatch(`message.Calls.${i}.To`, want.to, got.to)
    if (BigInt(got.selector) !== BigInt(want.selector)) {
      return mismatch(`message.Calls.${i}.Selector`, want.selector, got.selector)
    }
    if (got.calldata.length !== want.calldata.length) {
      return mismatch(`message.Calls.${i}.Calldata.length`, want.calldata.length, got.calldata.length)
    }
    for (const [j, felt] of want.calldata.entries()) {
      if (BigInt(got.calldata[j]!) !== BigInt(felt)) {
        return mismatch(`message.Calls.${i}.Calldata.${j}`, felt, got.calldata[j])
      }
    }
  }
  // The paymaster may set the window from its own clock. Accepted: a window that opens no later than `tolerance`
  // after the later of our clocks, is still open at both, closes no later than `validity + tolerance` after the
  // later one, and is open no longer than `validity + tolerance`. The window is what decides when an unexecuted
  // payload is dead, so it must be short and known.
  const after = parsed.executeAfter
  const before = parsed.executeBefore
  const latest = BigInt(Math.max(expected.clocks.block, expected.clocks.wall))
  const tolerance = BigInt(expected.tolerance)
  const validity = BigInt(expected.boundsAsked === false ? Math.max(expected.validity, NO_BOUNDS_CAP) : expected.validity)
  if (before <= latest) return mismatch("message.Execute Before", `after ${latest} (still open)`, before)
  if (after > latest + tolerance) {
    return mismatch("message.Execute After", `at most ${latest + tolerance} (opens within ${tolerance} s)`, after)
  }
  if (before > latest + validity + tolerance) {
    return mismatch("message.Execute Before", `at most ${latest + validity + tolerance} (open at most ${validity} s)`, before)
  }
  if (before - after > validity + tolerance) {
    return mismatch("message.window", `at most ${validity + tolerance} seconds`, `${before - after} seconds`)
  }
  return Either.right({ ...parsed, caller: toHex(caller) as OutsideExecution["caller"] })
}
