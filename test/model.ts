/**
 * A plain model of the session rules, and a runner that plays random operation sequences on the devnet and on the
 * model side by side. Used by the test suite (a small sample) and by `npm run bench` (10,000 sequences).
 */
import { Effect, FastCheck as fc, Layer, TestClock } from "effect"
import { Constants, Crypto, Devnet, Sessions } from "starknet-session-keys"
import * as keystore from "../src/internal/crypto/keystore.js"
import { call, nextBlock, register as registerRaw, sessionKey, submit, USDC, viewCall, whileBlocks } from "./helpers/chain.js"

const PIN = "1357"
const RECIPIENTS = ["0xa1", "0xa2"] as const
const ENTRYPOINTS = ["transfer", "approve", "get_contract_info"] as const

export type CallSpec =
  | { readonly kind: "transfer"; readonly to: 0 | 1; readonly amount: bigint }
  | { readonly kind: "approve"; readonly amount: bigint }
  | { readonly kind: "self" }
  | { readonly kind: "blocked" }

export type Op =
  | {
    readonly op: "register"
    readonly key: 0 | 1
    readonly duration: number
    readonly maxCalls: number
    readonly allowed: ReadonlyArray<number>
    /** By the owner's own transaction, not through Sessions: this process's ledger does not learn the allow-list. */
    readonly raw: boolean
  }
  | { readonly op: "execute"; readonly key: 0 | 1; readonly calls: ReadonlyArray<CallSpec> }
  | { readonly op: "revoke"; readonly key: 0 | 1 }
  | { readonly op: "advance"; readonly seconds: number }
  | { readonly op: "policy"; readonly key: 0 | 1; readonly maxPerCall: bigint; readonly maxPerWindow: bigint; readonly windowSeconds: number }
  | { readonly op: "unpolicy"; readonly key: 0 | 1 }

const callSpec: fc.Arbitrary<CallSpec> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant("transfer" as const), to: fc.constantFrom(0 as const, 1 as const), amount: fc.bigInt({ min: 1n, max: 400n }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("approve" as const), amount: fc.bigInt({ min: 0n, max: 100n }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "self" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "blocked" as const }) }
)

export const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("register" as const),
      key: fc.constantFrom(0 as const, 1 as const),
      duration: fc.integer({ min: 5, max: 120 }),
      maxCalls: fc.integer({ min: 1, max: 4 }),
      allowed: fc.oneof(fc.constant([] as Array<number>), fc.subarray([0, 1, 2])),
      raw: fc.boolean()
    })
  },
  { weight: 8, arbitrary: fc.record({ op: fc.constant("execute" as const), key: fc.constantFrom(0 as const, 1 as const), calls: fc.array(callSpec, { minLength: 1, maxLength: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("revoke" as const), key: fc.constantFrom(0 as const, 1 as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("advance" as const), seconds: fc.integer({ min: 1, max: 90 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("policy" as const),
      key: fc.constantFrom(0 as const, 1 as const),
      maxPerCall: fc.bigInt({ min: 0n, max: 400n }),
      maxPerWindow: fc.bigInt({ min: 400n, max: 900n }),
      windowSeconds: fc.integer({ min: 5, max: 60 })
    })
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("unpolicy" as const), key: fc.constantFrom(0 as const, 1 as const) }) }
)

export const sequenceArbitrary = fc.array(opArbitrary, { minLength: 4, maxLength: 14 })

interface ModelSession {
  validUntil: bigint
  maxCalls: bigint
  callsUsed: bigint
  allowed: Set<string>
}

interface ModelPolicy {
  maxPerCall: bigint
  maxPerWindow: bigint
  windowSeconds: bigint
  spent: bigint
  windowStart: bigint
}

/** The rules, written plainly from the spec, independent of the devnet's code. */
class Model {
  sessions = new Map<number, ModelSession>()
  /** USDC policies by session. */
  policies = new Map<number, ModelPolicy>()
  balances = new Map<string, bigint>()
  constructor(readonly wallet: string, funds: bigint) {
    this.balances.set(wallet, funds)
  }
  allows(key: number, calls: ReadonlyArray<{ to: string; entrypoint: string }>, now: bigint): boolean {
    const s = this.sessions.get(key)
    if (s === undefined || s.validUntil === 0n || now > s.validUntil || s.callsUsed >= s.maxCalls) return false
    if (calls.some((c) => (Constants.BLOCKLISTED_ENTRYPOINTS as ReadonlyArray<string>).includes(c.entrypoint))) return false
    if (s.allowed.size === 0) return !calls.some((c) => BigInt(c.to) === BigInt(this.wallet))
    return calls.every((c) => s.allowed.has(c.entrypoint))
  }
  /** The spending rule over the calls at `now`: the refusal, or the policy after them. */
  spending(key: number, specs: ReadonlyArray<CallSpec>, now: bigint): { refusal?: string; after?: ModelPolicy } {
    const p = this.policies.get(key)
    if (p === undefined || p.maxPerWindow === 0n) return {}
    let { spent, windowStart } = p
    for (const spec of specs) {
      if (spec.kind !== "transfer" && spec.kind !== "approve") continue
      if (spec.amount > p.maxPerCall) return { refusal: "Spending: exceeds per-call" }
      if (now >= windowStart + p.windowSeconds) {
        spent = 0n
        windowStart = now
      }
      if (spent + spec.amount > p.maxPerWindow) return { refusal: "Spending: exceeds window limit" }
      spent += spec.amount
    }
    return { after: { ...p, spent, windowStart } }
  }
  execute(key: number, specs: ReadonlyArray<CallSpec>, now: bigint) {
    this.sessions.get(key)!.callsUsed++
    const { after } = this.spending(key, specs, now)
    if (after !== undefined) this.policies.set(key, after)
    for (const spec of specs) {
      if (spec.kind !== "transfer") continue
      const from = this.balances.get(this.wallet) ?? 0n
      if (from < spec.amount) continue // non-atomic: this call fails alone
      const to = RECIPIENTS[spec.to]
      this.balances.set(this.wallet, from - spec.amount)
      this.balances.set(to, (this.balances.get(to) ?? 0n) + spec.amount)
    }
  }
}

const toCall = (wallet: string, spec: CallSpec) => {
  switch (spec.kind) {
    case "transfer":
      return { to: USDC as string, entrypoint: "transfer", calldata: [RECIPIENTS[spec.to], spec.amount, 0n] as Array<bigint | string> }
    case "approve":
      return { to: USDC as string, entrypoint: "approve", calldata: [RECIPIENTS[0], spec.amount, 0n] as Array<bigint | string> }
    case "self":
      return { to: wallet, entrypoint: "get_contract_info", calldata: [] as Array<bigint | string> }
    case "blocked":
      return { to: USDC as string, entrypoint: "upgrade", calldata: [1n] as Array<bigint | string> }
  }
}

const refusalCategory = (error: { readonly _tag: string; readonly limit?: string }) =>
  error._tag === "NotRegistered"
    ? "Session: valid_until exceeded"
    : error._tag === "SpendingLimitExceeded"
    ? (error.limit === "perCall" ? "Spending: exceeds per-call" : "Spending: exceeds window limit")
    : "Session: unauthorized selector"

/**
 * Plays one sequence on a fresh devnet and the model; fails (dies) at the first disagreement, naming it.
 * Also checks that `Sessions.preflight`'s verdict equals the devnet's own verdict for every execute.
 */
export const runSequence = (ops: ReadonlyArray<Op>) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const funds = 1_000n
    const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: funds } })
    const model = new Model(wallet.publicKey, funds)
    const keys = [sessionKey(0x5e551n), sessionKey(0x5e552n)]
    const signedUntil = new Map<number, bigint>()
    const fail = (what: string) => Effect.dieMessage(`model and devnet disagree: ${what} (ops: ${JSON.stringify(ops, (_, v) => typeof v === "bigint" ? `${v}n` : v)})`)
    yield* nextBlock
    for (const op of ops) {
      const now = BigInt(yield* devnet.blockTimestamp)
      switch (op.op) {
        case "advance": {
          yield* TestClock.adjust(`${op.seconds} seconds`)
          break
        }
        case "register": {
          const validUntil = now + BigInt(op.duration)
          const allowed = op.allowed.map((i) => ENTRYPOINTS[i]!)
          if (op.raw) {
            yield* registerRaw(wallet.publicKey, { key: keystore.decryptLegacy(wallet.encryptedPrivateKey, PIN) }, keys[op.key]!.publicKey, validUntil, BigInt(op.maxCalls), allowed)
          } else {
            yield* whileBlocks(Sessions.registerAndWait({
              encryptKey: PIN,
              wallet,
              sessionConfig: { sessionPublicKey: keys[op.key]!.publicKey, validUntil: Number(validUntil), maxCalls: op.maxCalls, allowedEntrypoints: allowed }
            })).pipe(Effect.orDie)
          }
          model.sessions.set(op.key, { validUntil, maxCalls: BigInt(op.maxCalls), callsUsed: 0n, allowed: new Set(allowed) })
          signedUntil.set(op.key, validUntil)
          break
        }
        case "revoke": {
          yield* whileBlocks(Sessions.revokeAndWait({ encryptKey: PIN, wallet, sessionPublicKey: keys[op.key]!.publicKey }))
            .pipe(Effect.orDie)
          model.sessions.set(op.key, { validUntil: 0n, maxCalls: 0n, callsUsed: 0n, allowed: new Set() })
          break
        }
        case "execute": {
          const calls = op.calls.map((spec) => toCall(wallet.publicKey, spec))
          const key = keys[op.key]!
          const verdict = yield* Effect.either(Sessions.preflight({
            walletAddress: wallet.publicKey,
            sessionPublicKey: key.publicKey,
            calls: calls.map((c) => ({ contractAddress: c.to, entrypoint: c.entrypoint, calldata: c.calldata.map(String) }))
          }))
          const validUntil = signedUntil.get(op.key) ?? now + 60n
          const result = yield* submit(wallet.publicKey, calls.map((c) => call(c.to, c.entrypoint, c.calldata)), { key: key.key, session: { validUntil } })
          if ((verdict._tag === "Right") !== result.ok) {
            return yield* fail(`preflight ${verdict._tag === "Right" ? "accepts" : verdict.left._tag} but the devnet ${result.ok ? "accepts" : result.reason}`)
          }
          if (verdict._tag === "Left" && refusalCategory(verdict.left) !== result.reason) {
            return yield* fail(`preflight ${verdict.left._tag} but the devnet says ${result.reason}`)
          }
          yield* nextBlock
          const included = BigInt(yield* devnet.blockTimestamp)
          const modelAccepts = model.allows(op.key, calls, included) && model.spending(op.key, op.calls, included).refusal === undefined
          const chainAccepts = result.ok &&
            (yield* devnet.transactions).find((t) => t.hash === result.txHash)?.status.executionStatus === "SUCCEEDED"
          if (modelAccepts !== chainAccepts) return yield* fail(`model ${modelAccepts} vs chain ${chainAccepts} for execute`)
          if (modelAccepts) model.execute(op.key, op.calls, included)
          break
        }
        case "policy": {
          const config = { sessionPublicKey: keys[op.key]!.publicKey, token: USDC, maxPerCall: op.maxPerCall, maxPerWindow: op.maxPerWindow, windowSeconds: op.windowSeconds }
          yield* whileBlocks(Sessions.setSpendingPolicyAndWait({ encryptKey: PIN, wallet, spendingPolicyConfig: config })).pipe(Effect.orDie)
          // The window starts at inclusion: the model takes the chain's start once it knows it lies in the wait.
          const windowStart = (yield* Sessions.getSpendingPolicy({ walletAddress: wallet.publicKey, sessionPublicKey: config.sessionPublicKey, token: USDC }).pipe(Effect.orDie)).windowStart
          const after = BigInt(yield* devnet.blockTimestamp)
          if (BigInt(windowStart) < now || BigInt(windowStart) > after) return yield* fail(`window start ${windowStart} outside [${now}, ${after}]`)
          model.policies.set(op.key, { maxPerCall: op.maxPerCall, maxPerWindow: op.maxPerWindow, windowSeconds: BigInt(op.windowSeconds), spent: 0n, windowStart: BigInt(windowStart) })
          break
        }
        case "unpolicy": {
          yield* whileBlocks(Sessions.removeSpendingPolicyAndWait({ encryptKey: PIN, wallet, sessionPublicKey: keys[op.key]!.publicKey, token: USDC }))
            .pipe(Effect.orDie)
          model.policies.set(op.key, { maxPerCall: 0n, maxPerWindow: 0n, windowSeconds: 0n, spent: 0n, windowStart: 0n })
          break
        }
      }
      // After every step: session data and balances agree.
      for (const [i, key] of keys.entries()) {
        const chain = yield* devnet.sessionData(wallet.publicKey, key.publicKey)
        const m = model.sessions.get(i)
        const expected = m === undefined ? [0n, 0n, 0n, 0n] : [m.validUntil, m.maxCalls, m.callsUsed, BigInt(m.allowed.size)]
        if (chain.join() !== expected.join()) return yield* fail(`session ${i}: chain [${chain}] model [${expected}]`)
        const policy = (yield* viewCall(wallet.publicKey, "get_spending_policy", [key.publicKey, USDC]).pipe(Effect.orDie)).map(BigInt)
        const p = model.policies.get(i)
        const modelPolicy = p === undefined ? [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n] : [p.maxPerCall, 0n, p.maxPerWindow, 0n, p.windowSeconds, p.spent, 0n, p.windowStart]
        if (policy.join() !== modelPolicy.join()) return yield* fail(`policy ${i}: chain [${policy}] model [${modelPolicy}]`)
      }
      for (const address of [wallet.publicKey, ...RECIPIENTS]) {
        const chain = yield* devnet.balanceOf(USDC, address)
        if (chain !== (model.balances.get(address) ?? 0n)) return yield* fail(`balance of ${address}: ${chain} vs ${model.balances.get(address)}`)
      }
    }
  })

export const ModelLayer = Layer.mergeAll(Devnet.layer({ blockTime: "1 second" }), Crypto.layerDeterministic("model"), Sessions.layer)

