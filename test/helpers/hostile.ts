/**
 * Hostile requests for the served devnet: random JSON and shapes built to hurt a parser or a decoder (deep
 * nesting, wide arrays, long strings, numbers past every limit, prototype keys, malformed bodies), addressed to
 * every JSON-RPC method and every REST route. Seeded: a run can be played again. Used by the fuzz test (a few
 * thousand) and by `npm run bench -- fuzz` (100,000).
 */

import { Effect } from "effect"
import { Devnet } from "starknet-session-keys"
import { adminMethods } from "../../src/devnet/server/admin.js"
import { paymasterMethods } from "../../src/devnet/server/paymaster.js"
import { starknetMethods } from "../../src/devnet/server/starknet.js"

/** The names of every method the served devnet answers, from its own tables (src/devnet/server). */
export const servedMethods: Effect.Effect<ReadonlyArray<string>> = Effect.gen(function*() {
  const starknet = yield* starknetMethods
  const pm = yield* paymasterMethods({ executionErrorShape: "nested", relayer: 1n })
  const admin = yield* adminMethods([])
  return [...Object.keys(starknet), ...Object.keys(pm), ...Object.keys(admin)]
}).pipe(Effect.provide(Devnet.layer({})))

/** Methods left out of the fuzz: they change the devnet's time or faults for every request after them. */
const STATEFUL = new Set(["devnet_advanceTime", "devnet_setFaults"])

export const REST_PATHS = ["/v1/transactions/prepare-typed-data", "/v1/transactions/execute-sponsored-transaction", "/v1/nope", "/v1/"] as const

export interface HostileRequest {
  readonly path: string
  readonly method: "POST" | "GET"
  readonly body: string
}

/** mulberry32: a small seeded generator. */
export const random = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const generator = (seed: number, served: ReadonlyArray<string>) => {
  const rnd = random(seed)
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1))
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[int(0, xs.length - 1)]!
  const methods = [...served.filter((m) => !STATEFUL.has(m)), "nope_unknown"]

  const scalars = [
    "0", "-1", "1e999", "-1e999", "1e-400", "0.5", "-0", "9007199254740993", "340282366920938463463374607431768211457",
    "\"\"", "\"0x\"", "\"0x-1\"", "\"-0x1\"", "\"0b1\"", "\"0o7\"", "\"1e3\"", "\" 0x1\"", "\"0x1 \"", "\"NaN\"", "\"Infinity\"",
    `"0x${"f".repeat(64)}"`, `"0x${"f".repeat(65)}"`, `"0x1${"0".repeat(76)}"`, `"${"9".repeat(78)}"`, "\"latest\"", "\"pre_confirmed\"",
    "\"__proto__\"", "\"constructor\"", "\"\\u0000\"", "\"\\ud800\"", "\"💥\"", "true", "false", "null", "[]", "{}",
    "{\"block_number\":-1}", "{\"block_hash\":\"0x1\"}", "{\"block_number\":1e308}", "\"USDC\"", "\"ETH\""
  ]
  const keys = [
    "__proto__", "constructor", "prototype", "toString", "contract_address", "entry_point_selector", "calldata", "block_id",
    "request", "transaction", "transaction_hash", "user_address", "typed_data", "signature", "calls", "to", "selector",
    "parameters", "fee_mode", "mode", "time_bounds", "invoke", "token", "to", "amount", "account", "encryptKey", "fund",
    "keyFormat", "publicKey", "typedData", "userSignature", "isSessionSignature", "accountClassHash", "walletType", ""
  ]

  /** A small random JSON value of weird leaves. */
  const value = (depth: number): string => {
    const r = rnd()
    if (depth > 4 || r < 0.45) return pick(scalars)
    if (r < 0.7) return `[${Array.from({ length: int(0, 5) }, () => value(depth + 1)).join(",")}]`
    return `{${Array.from({ length: int(0, 5) }, () => `${JSON.stringify(pick(keys))}:${value(depth + 1)}`).join(",")}}`
  }
  const deep = () => {
    const n = int(32, rnd() < 0.9 ? 600 : 8_000)
    const inner = rnd() < 0.5 ? "" : pick(scalars)
    return rnd() < 0.5 ? "[".repeat(n) + inner + "]".repeat(n) : "{\"a\":".repeat(n) + (inner || "1") + "}".repeat(n)
  }
  const wide = () => `[${"0,".repeat(int(100, rnd() < 0.98 ? 12_000 : 600_000))}0]`
  const longString = () => JSON.stringify("0x" + "1".repeat(int(100, rnd() < 0.98 ? 10_000 : 1_200_000)))
  const hostileValue = (): string => {
    const r = rnd()
    if (r < 0.25) return deep()
    if (r < 0.35) return wide()
    if (r < 0.45) return longString()
    return value(0)
  }
  /** Params: positional, named, or a valid-looking shape with a hostile value somewhere inside. */
  const params = (): string => {
    const r = rnd()
    if (r < 0.3) return `[${Array.from({ length: int(0, 4) }, hostileValue).join(",")}]`
    if (r < 0.6) return `{${Array.from({ length: int(0, 4) }, () => `${JSON.stringify(pick(keys))}:${hostileValue()}`).join(",")}}`
    if (r < 0.8) {
      return `{"request":{"contract_address":${hostileValue()},"entry_point_selector":"0x1","calldata":${hostileValue()}},"block_id":${hostileValue()},"contract_address":${hostileValue()}}`
    }
    return hostileValue()
  }
  const rpcEntry = () => {
    const id = pick(["1", "\"x\"", "null", "1e999", "[1]", "{}", "-7"])
    return `{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(pick(methods))},"params":${params()}}`
  }
  const malformed = () => {
    const good = rpcEntry()
    const r = rnd()
    if (r < 0.3) return good.slice(0, int(0, good.length - 1))
    if (r < 0.5) return Array.from({ length: int(0, 200) }, () => String.fromCharCode(int(0, 0x7f))).join("")
    if (r < 0.7) return "[".repeat(int(10, 20_000))
    return `"${"\\".repeat(int(1, 1000))}`
  }

  return (): HostileRequest => {
    const r = rnd()
    if (r < 0.6) return { path: "/", method: "POST", body: rpcEntry() }
    if (r < 0.7) return { path: "/", method: "POST", body: `[${Array.from({ length: int(0, 8) }, rpcEntry).join(",")}]` }
    if (r < 0.8) return { path: "/", method: "POST", body: malformed() }
    const path = pick(REST_PATHS)
    if (r < 0.82) return { path, method: "GET", body: "" }
    const body = rnd() < 0.2 ? malformed() : `{"publicKey":${hostileValue()},"calls":${hostileValue()},"typedData":${hostileValue()},"userSignature":${hostileValue()},"accountClassHash":${hostileValue()}}`
    return { path, method: "POST", body }
  }
}
