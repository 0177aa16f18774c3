/**
 * The check of server-built typed data before it is signed: it must say what was asked.
 */
import { Either } from "effect"
import { TypedDataMismatch } from "../Errors.js"
import { typedDataScalar, toHex } from "./felt.js"
import {
  fromTypedData,
  type OutsideCall,
  type OutsideExecution,
  type OutsideExecutionTypedData
} from "../OutsideExecution.js"
import { ANY_CALLER } from "../Constants.js"

export interface Expected {
  readonly chainId: string
  readonly calls: ReadonlyArray<OutsideCall>
  /** The window asked for, seconds. */
  readonly executeAfter: number
  readonly executeBefore: number
  /** Block time now, seconds: the window must be open. */
  readonly now: number
  /** A relayer the user pinned: then the caller must be it (or any caller). */
  readonly relayer?: string | undefined
  /**
   * Whether the paymaster was able to take the window asked for. When it was, the window must lie inside it;
   * when not (an API without time bounds), it must be open now and no longer than asked.
   */
  readonly boundsAsked?: boolean
}

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
  const after = parsed.executeAfter
  const before = parsed.executeBefore
  if (expected.boundsAsked === false) {
    const asked = BigInt(expected.executeBefore - expected.executeAfter)
    if (before - after > asked) return mismatch("message.window", `at most ${asked} seconds`, `${before - after} seconds`)
  } else {
    if (after < BigInt(expected.executeAfter)) {
      return mismatch("message.Execute After", `>= ${expected.executeAfter}`, after)
    }
    if (before > BigInt(expected.executeBefore)) {
      return mismatch("message.Execute Before", `<= ${expected.executeBefore}`, before)
    }
  }
  if (!(after < BigInt(expected.now) + 1n) || !(BigInt(expected.now) < before)) {
    return mismatch("message.window", `open at ${expected.now}`, `${after}..${before}`)
  }
  return Either.right({ ...parsed, caller: toHex(caller) as OutsideExecution["caller"] })
}
