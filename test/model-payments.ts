/**
 * A model-based property of exactly-once payments: random interleavings of payments under idempotency keys, lost
 * answers, 503s, transactions held until they revert, revokes, re-registrations, the app's retries with the same
 * key and an attacker replaying every payload it has seen. Whatever happens, once every key is resolved from the
 * chain, the recipient holds exactly the sum of the keys resolved `Executed`. Used by the test suite (a small
 * sample) and by `npm run bench` (more sequences).
 */
import { Effect, Either, FastCheck as fc, Fiber, Layer, TestClock } from "effect"
import { Crypto, Devnet, Ledger, OutsideExecution, Sessions, STARKNET_CONTRACTS } from "starknet-session-keys"

const PIN = "8642"
const USDC = STARKNET_CONTRACTS.USDC.contractAddress
const RECIPIENT = "0xbeef"
const KEYS = 4
/** Each key pays its own power of two, so that a payment made twice never looks like another key's. */
const amountOf = (key: number) => 1n << BigInt(key)

export type Fault = "none" | "lost" | "503" | "lost+503" | "hold" | "lost+hold"

export type Op =
  | { readonly op: "pay"; readonly key: number; readonly fault: Fault; readonly hold: number }
  | { readonly op: "revoke" }
  | { readonly op: "register"; readonly wait: boolean }
  | { readonly op: "advance"; readonly seconds: number }
  | { readonly op: "replay" }

export const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant("pay" as const),
      key: fc.integer({ min: 0, max: KEYS - 1 }),
      fault: fc.constantFrom<Fault>("none", "lost", "503", "lost+503", "hold", "lost+hold"),
      hold: fc.integer({ min: 1, max: 14 })
    })
  },
  { weight: 1, arbitrary: fc.constant({ op: "revoke" as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("register" as const), wait: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("advance" as const), seconds: fc.integer({ min: 1, max: 15 }) }) },
  { weight: 2, arbitrary: fc.constant({ op: "replay" as const }) }
)

export const sequenceArbitrary = fc.array(opArbitrary, { minLength: 3, maxLength: 10 })

/** Runs an effect while the TestClock moves a second at a time (blocks close as time passes). */
const withBlocks = <A, E, R>(effect: Effect.Effect<A, E, R>, maxSeconds = 900) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < maxSeconds; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") break
      yield* TestClock.adjust("1 second")
    }
    return yield* Fiber.join(fiber)
  })

/** What the sequences run so far exercised (printed by the bench). */
export const stats = { sequences: 0, executed: 0, notExecuted: 0, unrecorded: 0, outcomeUnknown: 0, livePayloads: 0, refusals: 0 }

const show = (ops: ReadonlyArray<Op>) => JSON.stringify(ops)

/** Plays one sequence; dies at the first broken promise, naming it. */
export const runSequence = (ops: ReadonlyArray<Op>) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const ledger = yield* Ledger.Ledger
    const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
    const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 6 * 3600 })
    const sessionConfig = { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 1000 }
    yield* withBlocks(Sessions.registerAndWait({ encryptKey: PIN, wallet, session, sessionConfig })).pipe(Effect.orDie)
    const fail = (what: string) => Effect.dieMessage(`${what} (ops: ${show(ops)})`)
    const used = new Set<number>()
    stats.sequences++
    const pay = (key: number) =>
      Sessions.execute(
        { encryptKey: PIN, wallet, session, calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: [RECIPIENT, amountOf(key), 0n] }] },
        { idempotencyKey: `pay-${key}`, validity: "10 seconds" }
      )
    for (const op of ops) {
      switch (op.op) {
        case "pay": {
          used.add(op.key)
          const lost = op.fault.startsWith("lost")
          const hold = op.fault.endsWith("hold") ? op.hold : 0
          yield* devnet.setFaults({
            faultMethods: ["paymaster_executeTransaction"],
            holdBlocks: hold,
            ...(lost ? { dropNext: 1, dropWhen: "after" as const } : {}),
            ...(op.fault === "503" ? { failNext: 3 + op.hold } : {})
          })
          const fiber = yield* Effect.fork(Effect.either(pay(op.key)))
          if (op.fault === "lost+503") {
            // Once the first attempt went through (its answer lost), every retry meets a 503.
            for (let i = 0; i < 1000 && ((yield* devnet.faults).dropNext ?? 0) > 0 && (yield* Fiber.poll(fiber))._tag === "None"; i++) {
              yield* TestClock.adjust("10 millis")
            }
            yield* devnet.setFaults({ failNext: 1000 })
          }
          const result = yield* withBlocks(Fiber.join(fiber))
          yield* devnet.clearFaults
          if (Either.isLeft(result)) {
            if (result.left._tag === "OutcomeUnknown") stats.outcomeUnknown++
            else stats.refusals++
          }
          if (Either.isLeft(result) && result.left._tag === "PaymasterError" && result.left.transient) {
            return yield* fail(`a payment ended with a transient error: ${result.left.message}`)
          }
          break
        }
        case "revoke": {
          yield* withBlocks(Effect.either(Sessions.revokeAndWait({ encryptKey: PIN, wallet, sessionPublicKey: session.publicKey })))
          break
        }
        case "register": {
          const registered = yield* withBlocks(
            Effect.either(Sessions.registerAndWait({ encryptKey: PIN, wallet, session, sessionConfig }, { waitForLivePayloads: op.wait }))
          )
          if (Either.isLeft(registered) && registered.left._tag === "LivePayloads") stats.livePayloads++
          if (Either.isLeft(registered) && registered.left._tag !== "LivePayloads") {
            return yield* fail(`register failed: ${registered.left._tag} ${registered.left.message}`)
          }
          if (Either.isLeft(registered) && op.wait) return yield* fail("register with waitForLivePayloads was refused")
          break
        }
        case "advance": {
          yield* TestClock.adjust(`${op.seconds} seconds`)
          break
        }
        case "replay": {
          // Anyone who has seen a payload (the paymaster, or the chain once it reverted) may submit it again.
          for (const key of used) {
            const payment = yield* ledger.payment(wallet.publicKey, `pay-${key}`)
            if (payment === undefined) continue
            const { outsideExecution } = OutsideExecution.fromTypedData(payment.typedData)
            yield* devnet.submitOutside(wallet.publicKey, OutsideExecution.executeFromOutsideCalldata(outsideExecution, payment.signature))
          }
          yield* devnet.mineBlock
          break
        }
      }
    }
    // Every key resolved from the chain; then the books must balance.
    yield* devnet.clearFaults
    let expected = 0n
    for (const key of used) {
      const outcome = yield* withBlocks(Effect.either(Sessions.resolve({ wallet: wallet.publicKey, idempotencyKey: `pay-${key}` })))
      if (Either.isLeft(outcome)) {
        // A key whose payment was refused before anything was signed has no record: nothing moved for it.
        if (outcome.left._tag === "InvalidInput") {
          stats.unrecorded++
          continue
        }
        return yield* fail(`key ${key} not resolved: ${outcome.left._tag}`)
      }
      const resolved = outcome.right
      if (resolved._tag === "NotExecuted") stats.notExecuted++
      if (resolved._tag === "Executed") {
        expected += amountOf(key)
        stats.executed++
        const tx = (yield* devnet.transactions).find((t) => t.hash === resolved.transactionHash)
        if (tx?.status.executionStatus !== "SUCCEEDED") {
          const txs = (yield* devnet.transactions).map((t) => `${t.hash.slice(0, 10)} ${t.status.finalityStatus}/${t.status.executionStatus ?? "-"}${t.status.revertReason ? ` (${t.status.revertReason})` : ""}`)
          return yield* fail(`key ${key} resolved Executed with ${resolved.transactionHash.slice(0, 10)}, a transaction that did not succeed (the devnet's transactions: ${txs.join("; ")})`)
        }
      }
    }
    // Replays after resolution change nothing: executed nonces are used, dead windows closed.
    for (const key of used) {
      const payment = yield* ledger.payment(wallet.publicKey, `pay-${key}`)
      if (payment === undefined) continue
      const { outsideExecution } = OutsideExecution.fromTypedData(payment.typedData)
      yield* devnet.submitOutside(wallet.publicKey, OutsideExecution.executeFromOutsideCalldata(outsideExecution, payment.signature))
    }
    yield* devnet.mineBlock
    const balance = yield* devnet.balanceOf(USDC, RECIPIENT)
    if (balance !== expected) return yield* fail(`recipient holds ${balance}, the keys resolved Executed sum to ${expected}`)
  })

export const PaymentsLayer = () =>
  Layer.mergeAll(Devnet.layer({ blockTime: "1 second" }), Crypto.layerDeterministic("payments"), Sessions.layer)
