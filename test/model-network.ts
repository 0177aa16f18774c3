/**
 * A model-based property of the library's verdicts on the devnet's `network` profile (the pre-confirmed block, a
 * paymaster-sent hash unknown for half a second, `latest` lagging the closed block, AVNU's duplicate filter and
 * errors): random sequences of payments (some whose call fails inside the account's multicall, some sent without
 * the simulation, some whose answer is lost), revokes, re-registrations and spending-policy changes, in which the
 * app waits only until the status says SUCCEEDED (or REVERTED) between steps, as the guide does. Whatever happens:
 * - every read after a status the library reported agrees with it (a registration reported SUCCEEDED reads active);
 * - no payment is booked that moved nothing (a failing call is `CallWouldFail` before signing, or `CallFailed`
 *   after, never `Executed`);
 * - none moves twice: once every key is resolved from the chain, the recipient holds exactly the sum of the keys
 *   resolved `Executed`.
 * Used by the test suite (a small sample) and by `npm run bench -- network-model` (more sequences, steps counted).
 */
import { Effect, Either, FastCheck as fc, Fiber, Layer, TestClock } from "effect"
import { Crypto, Devnet, Sessions, STARKNET_CONTRACTS, Transactions } from "starknet-session-keys"

const PIN = "9753"
const USDC = STARKNET_CONTRACTS.USDC.contractAddress
const RECIPIENT = "0xfeed"
const KEYS = 4
/** Each key pays its own power of two, so that a payment made twice never looks like another key's. */
const amountOf = (key: number) => 1n << BigInt(key)
/** Far above the wallet's balance: the token refuses it, the account catches the refusal. */
const TOO_MUCH = 10n ** 15n

export type Op =
  | { readonly op: "pay"; readonly key: number; readonly failing: boolean; readonly skip: boolean; readonly lost: boolean }
  | { readonly op: "revoke" }
  | { readonly op: "register" }
  | { readonly op: "policy"; readonly max: number }
  | { readonly op: "advance"; readonly seconds: number }

export const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant("pay" as const),
      key: fc.integer({ min: 0, max: KEYS - 1 }),
      failing: fc.boolean(),
      skip: fc.boolean(),
      lost: fc.boolean()
    })
  },
  { weight: 1, arbitrary: fc.constant({ op: "revoke" as const }) },
  { weight: 2, arbitrary: fc.constant({ op: "register" as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("policy" as const), max: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("advance" as const), seconds: fc.integer({ min: 1, max: 40 }) }) }
)

export const sequenceArbitrary = fc.array(opArbitrary, { minLength: 3, maxLength: 10 })

/** Runs an effect while the TestClock moves a quarter second at a time (blocks close as time passes). */
const withBlocks = <A, E, R>(effect: Effect.Effect<A, E, R>, maxSteps = 4000) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < maxSteps; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") break
      yield* TestClock.adjust("250 millis")
    }
    return yield* Fiber.join(fiber)
  })

/** What the sequences run so far exercised (printed by the bench). */
export const stats = {
  sequences: 0,
  steps: 0,
  executed: 0,
  notExecuted: 0,
  callWouldFail: 0,
  callFailed: 0,
  unrecorded: 0,
  refusals: 0
}

const show = (ops: ReadonlyArray<Op>) => JSON.stringify(ops)

/** Plays one sequence; dies at the first broken promise, naming it. */
export const runSequence = (ops: ReadonlyArray<Op>) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const fail = (what: string) => Effect.dieMessage(`${what} (ops: ${show(ops)})`)
    const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
    const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 6 * 3600 })
    const sessionConfig = { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 1000 }
    const read = Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
    /** The guide's wait: until the status has an outcome (SUCCEEDED or REVERTED, pre-confirmed will do). */
    const untilOutcome = (hash: string) =>
      withBlocks(Transactions.wait(hash, { until: "pre_confirmed", timeout: "10 minutes" })).pipe(Effect.either)
    const register = Effect.gen(function*() {
      const sent = yield* withBlocks(Sessions.register({ encryptKey: PIN, wallet, session, sessionConfig }, { waitForLivePayloads: true })).pipe(Effect.either)
      if (Either.isLeft(sent)) return yield* fail(`register failed: ${sent.left._tag} ${sent.left.message}`)
      const outcome = yield* untilOutcome(sent.right)
      if (Either.isRight(outcome)) {
        // Reported SUCCEEDED: the reads after it say so.
        const data = yield* read.pipe(Effect.orDie)
        if (!data.isActive) return yield* fail("a registration reported SUCCEEDED reads inactive")
      }
    })
    yield* register
    stats.sequences++
    const used = new Set<number>()
    const failing = new Set<number>()
    const hashes = new Set<string>()
    for (const op of ops) {
      stats.steps++
      switch (op.op) {
        case "pay": {
          // A key names one payment: the calls of its first pay are the ones every later pay under it asks.
          if (!used.has(op.key) && op.failing) failing.add(op.key)
          used.add(op.key)
          const amount = failing.has(op.key) ? TOO_MUCH : amountOf(op.key)
          const calls = [{ contractAddress: USDC, entrypoint: "transfer", calldata: [RECIPIENT, amount.toString(), "0"] }]
          if (op.lost) yield* devnet.setFaults({ faultMethods: ["paymaster_executeTransaction"], dropNext: 1, dropWhen: "after" })
          const sent = yield* withBlocks(
            Sessions.execute({ encryptKey: PIN, wallet, session, calls }, { idempotencyKey: `pay-${op.key}`, skipSimulation: op.skip, validity: "1 minute" })
          ).pipe(Effect.either)
          yield* devnet.clearFaults
          if (Either.isLeft(sent)) {
            const tag = sent.left._tag
            if (tag === "CallWouldFail") {
              stats.callWouldFail++
              if (!failing.has(op.key)) return yield* fail(`a payment that moves its amount was refused as CallWouldFail`)
            } else if (tag === "CallFailed") stats.callFailed++
            else stats.refusals++
            break
          }
          const fresh = !hashes.has(sent.right)
          hashes.add(sent.right)
          const outcome = yield* untilOutcome(sent.right)
          // A key already paid answers its first transaction's hash (a re-registration since may have reset the count).
          if (fresh && Either.isRight(outcome) && outcome.right.executionStatus === "SUCCEEDED") {
            // Reported SUCCEEDED: the session's count already shows it.
            const data = yield* read.pipe(Effect.orDie)
            if (data.callsUsed === 0 && data.isActive) return yield* fail("an execute reported SUCCEEDED, and the session reads no call used")
          }
          break
        }
        case "revoke": {
          const sent = yield* withBlocks(Sessions.revoke({ encryptKey: PIN, wallet, sessionPublicKey: session.publicKey })).pipe(Effect.either)
          if (Either.isRight(sent)) {
            const outcome = yield* untilOutcome(sent.right)
            if (Either.isRight(outcome) && (yield* read.pipe(Effect.orDie)).isActive) return yield* fail("a revoke reported SUCCEEDED reads active")
          }
          break
        }
        case "register": {
          yield* register
          break
        }
        case "policy": {
          const sent = yield* withBlocks(Sessions.setSpendingPolicy({
            encryptKey: PIN,
            wallet,
            spendingPolicyConfig: { sessionPublicKey: session.publicKey, token: USDC, maxPerCall: BigInt(op.max), maxPerWindow: BigInt(op.max) * 4n, windowSeconds: 3600 }
          }, { waitForLivePayloads: true })).pipe(Effect.either)
          if (Either.isRight(sent)) yield* untilOutcome(sent.right)
          break
        }
        case "advance": {
          yield* TestClock.adjust(`${op.seconds} seconds`)
          break
        }
      }
    }
    // Every key resolved from the chain; then the books must balance.
    let expected = 0n
    for (const key of used) {
      const outcome = yield* withBlocks(Effect.either(Sessions.resolve({ wallet: wallet.publicKey, idempotencyKey: `pay-${key}` })))
      if (Either.isLeft(outcome)) {
        const tag = outcome.left._tag
        // Refused before anything was signed (the simulation, the preflight, the policy): no record, nothing moved.
        if (tag === "InvalidInput") {
          stats.unrecorded++
          continue
        }
        if (tag === "CallFailed") {
          if (!failing.has(key)) return yield* fail(`key ${key}, whose transfer can run, resolved CallFailed`)
          continue
        }
        return yield* fail(`key ${key} not resolved: ${tag}`)
      }
      const resolved = outcome.right
      if (resolved._tag === "NotExecuted") stats.notExecuted++
      if (resolved._tag === "Executed") {
        if (failing.has(key)) return yield* fail(`key ${key}, whose transfer cannot run, was booked Executed`)
        expected += amountOf(key)
        stats.executed++
      }
    }
    yield* withBlocks(Effect.sleep("10 seconds"))
    const balance = yield* devnet.balanceOf(USDC, RECIPIENT)
    if (balance !== expected) return yield* fail(`recipient holds ${balance}, the keys resolved Executed sum to ${expected}`)
  })

export const NetworkLayer = () =>
  Layer.mergeAll(Devnet.layer({ blockTime: "2 seconds", profile: "network" }), Crypto.layerDeterministic("network-model"), Sessions.layer)
