/**
 * Calldata as Cairo reads and writes it: the generated wrappers' deserialization (with their exact panics), a
 * serialized `Array<Call>`, a multicall's results.
 */
import { type OutsideCall, parseCallArray } from "../OutsideExecution.js"
import { ADDRESS_BOUND, U128_MAX, U64_MAX } from "../internal/crypto/felt.js"
import { Revert } from "./revert.js"

/** `Array<Call>` serialized as an account's `__execute__` reads it. */
export const serializeCalls = (calls: ReadonlyArray<OutsideCall>): Array<bigint> => [
  BigInt(calls.length),
  ...calls.flatMap((c) => [BigInt(c.to), BigInt(c.selector), BigInt(c.calldata.length), ...c.calldata.map(BigInt)])
]

export const split = (v: bigint) => [v & U128_MAX, v >> 128n]

type Param = "felt" | "u32" | "u64" | "u256" | "felts" | "calls" | "outside"
interface OutsideParam {
  readonly caller: bigint
  readonly nonce: bigint
  readonly executeAfter: bigint
  readonly executeBefore: bigint
  readonly calls: ReadonlyArray<OutsideCall>
}
type ParamValue<P extends Param> = P extends "felts" ? Array<bigint>
  : P extends "calls" ? ReadonlyArray<OutsideCall>
  : P extends "outside" ? OutsideParam
  : bigint
/**
 * Reads an entrypoint's calldata as Cairo's generated wrapper does, with its exact panics:
 * `Failed to deserialize param #N` for a missing or out-of-range value, `Input too long for arguments` for extra felts.
 */
export const params = <const P extends ReadonlyArray<Param>>(cd: ReadonlyArray<bigint>, kinds: P): { -readonly [K in keyof P]: ParamValue<P[K]> } => {
  const out: Array<unknown> = []
  // A plain loop over a cursor: this runs for every call the devnet executes.
  const cursor = { at: 0 }
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i]!
    switch (kind) {
      case "felt":
        out.push(next(cd, cursor, i))
        break
      case "u32":
      case "u64": {
        const v = next(cd, cursor, i)
        if (v > (kind === "u32" ? 0xffffffffn : U64_MAX)) throw failAt(i)
        out.push(v)
        break
      }
      case "u256": {
        const low = next(cd, cursor, i)
        const high = next(cd, cursor, i)
        if (low > U128_MAX || high > U128_MAX) throw failAt(i)
        out.push((high << 128n) | low)
        break
      }
      case "felts": {
        const n = next(cd, cursor, i)
        if (n > BigInt(cd.length - cursor.at)) throw failAt(i)
        out.push(cd.slice(cursor.at, cursor.at + Number(n)))
        cursor.at += Number(n)
        break
      }
      case "calls": {
        const parsed = parseCallArray(cd, cursor.at)
        if (parsed === undefined) throw failAt(i)
        cursor.at = parsed.end
        out.push(parsed.calls)
        break
      }
      case "outside": {
        // `OutsideExecution { caller, nonce, execute_after: u64, execute_before: u64, calls: Span<Call> }`.
        const caller = next(cd, cursor, i)
        const nonce = next(cd, cursor, i)
        const executeAfter = next(cd, cursor, i)
        const executeBefore = next(cd, cursor, i)
        if (caller >= ADDRESS_BOUND || executeAfter > U64_MAX || executeBefore > U64_MAX) throw failAt(i)
        const parsed = parseCallArray(cd, cursor.at)
        if (parsed === undefined) throw failAt(i)
        cursor.at = parsed.end
        out.push({ caller, nonce, executeAfter, executeBefore, calls: parsed.calls })
        break
      }
    }
  }
  if (cursor.at < cd.length) throw new Revert("Input too long for arguments")
  return out as never
}

const failAt = (i: number) => new Revert(`Failed to deserialize param #${i + 1}`)
/** The felt at the cursor, which moves past it; the wrapper's panic for param `i` when there is none. */
const next = (cd: ReadonlyArray<bigint>, cursor: { at: number }, i: number): bigint => {
  const v = cd[cursor.at++]
  if (v === undefined) throw failAt(i)
  return v
}

/** `Array<Span<felt252>>`, the results of a multicall (an empty span for a call that failed). */
export const serializeResults = (results: ReadonlyArray<ReadonlyArray<bigint>>): Array<bigint> => {
  const out = [BigInt(results.length)]
  for (const r of results) {
    out.push(BigInt(r.length))
    for (const v of r) out.push(v)
  }
  return out
}
