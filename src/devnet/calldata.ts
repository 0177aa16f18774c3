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
  let at = 0
  kinds.forEach((kind, i) => {
    const fail = () => new Revert(`Failed to deserialize param #${i + 1}`)
    const next = () => {
      const v = cd[at++]
      if (v === undefined) throw fail()
      return v
    }
    switch (kind) {
      case "felt":
        return void out.push(next())
      case "u32":
      case "u64": {
        const v = next()
        if (v > (kind === "u32" ? 0xffffffffn : U64_MAX)) throw fail()
        return void out.push(v)
      }
      case "u256": {
        const [low, high] = [next(), next()]
        if (low > U128_MAX || high > U128_MAX) throw fail()
        return void out.push((high << 128n) | low)
      }
      case "felts": {
        const n = next()
        if (n > BigInt(cd.length - at)) throw fail()
        const items = cd.slice(at, at + Number(n))
        at += Number(n)
        return void out.push(items)
      }
      case "calls": {
        const parsed = parseCallArray(cd, at)
        if (parsed === undefined) throw fail()
        at = parsed.end
        return void out.push(parsed.calls)
      }
      case "outside": {
        // `OutsideExecution { caller, nonce, execute_after: u64, execute_before: u64, calls: Span<Call> }`.
        const [caller, nonce, executeAfter, executeBefore] = [next(), next(), next(), next()]
        if (caller >= ADDRESS_BOUND || executeAfter > U64_MAX || executeBefore > U64_MAX) throw fail()
        const parsed = parseCallArray(cd, at)
        if (parsed === undefined) throw fail()
        at = parsed.end
        return void out.push({ caller, nonce, executeAfter, executeBefore, calls: parsed.calls })
      }
    }
  })
  if (at < cd.length) throw new Revert("Input too long for arguments")
  return out as never
}

/** `Array<Span<felt252>>`, the results of a multicall (an empty span for a call that failed). */
export const serializeResults = (results: ReadonlyArray<ReadonlyArray<bigint>>): Array<bigint> =>
  [BigInt(results.length), ...results.flatMap((r) => [BigInt(r.length), ...r])]
