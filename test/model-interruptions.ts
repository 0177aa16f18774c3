/**
 * A model-based property of reserved calls under interruptions: random sequences of executes on a session of 1 to
 * 3 calls, each interrupted at a random point (before its build, while the paymaster builds, once it is recorded,
 * once the paymaster has run it and before its answer arrives) or let through, some held past their window by the
 * chain, with time moving between them. Whatever happens:
 * - nothing we sent is refused by the chain for the session's count: a payload our count ruled out is never sent
 *   (the only reverts allowed are windows that closed while a transaction was held);
 * - once every window has closed, the calls reserved are at most the calls the chain can still run: an execute is
 *   refused with `MaxCallsExceeded` exactly when the chain's count is spent, and runs otherwise, without a resolve.
 * Used by the test suite (a small sample) and by `npm run bench -- interruptions` (more sequences).
 */
import { Effect, Either, FastCheck as fc, Fiber, Layer, TestClock } from "effect"
import { Crypto, Devnet, Paymaster, Sessions, STARKNET_CONTRACTS } from "starknet-session-keys"

const PIN = "4711"
const USDC = STARKNET_CONTRACTS.USDC.contractAddress
const RECIPIENT = "0xfeed"
const VALIDITY = 10

export type Op =
  | {
    readonly op: "execute"
    /** Scheduler turns (then clock steps of 50 ms) before the interruption; `undefined`: not interrupted. */
    readonly interruptAfter: number | undefined
    /** The paymaster's answer arrives this long after it ran the payload. */
    readonly answerDelayMs: number
    /** Held this many blocks before inclusion (past its 10-second window from 12 on). */
    readonly hold: number
  }
  | { readonly op: "advance"; readonly seconds: number }

export const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("execute" as const),
      interruptAfter: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined, freq: 3 }),
      answerDelayMs: fc.constantFrom(0, 0, 500, 2000),
      hold: fc.constantFrom(0, 0, 0, 2, 14)
    })
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("advance" as const), seconds: fc.integer({ min: 1, max: 15 }) }) }
)

export const sequenceArbitrary = fc.record({
  maxCalls: fc.integer({ min: 1, max: 3 }),
  ops: fc.array(opArbitrary, { minLength: 2, maxLength: 8 })
})

/** Runs an effect while the TestClock moves a second at a time (blocks close as time passes). */
const withBlocks = <A, E, R>(effect: Effect.Effect<A, E, R>, maxSeconds = 300) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < maxSeconds; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") break
      yield* TestClock.adjust("1 second")
    }
    return yield* Fiber.join(fiber)
  })

/** What the sequences run so far exercised (printed by the bench). */
export const stats = { sequences: 0, executes: 0, interrupted: 0, refusedMaxCalls: 0, windowReverts: 0 }

/** Plays one sequence; dies at the first broken promise, naming it. */
export const runSequence = (input: { readonly maxCalls: number; readonly ops: ReadonlyArray<Op> }) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const show = JSON.stringify(input)
    const fail = (what: string) => Effect.dieMessage(`${what} (sequence: ${show})`)
    const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
    const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 6 * 3600 })
    const sessionConfig = { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: input.maxCalls }
    yield* withBlocks(Sessions.registerAndWait({ encryptKey: PIN, wallet, session, sessionConfig })).pipe(Effect.orDie)
    const registration = new Set((yield* devnet.transactions).map((t) => t.hash))
    stats.sequences++
    let answerDelayMs = 0
    // The paymaster as deployed: it runs the payload, then its answer takes a while to arrive.
    const slowAnswer = Layer.effect(
      Paymaster.Paymaster,
      Effect.map(Paymaster.Paymaster, (pm) => ({
        ...pm,
        executeTransaction: (request: Parameters<typeof pm.executeTransaction>[0]) =>
          Effect.tap(pm.executeTransaction(request), () => Effect.sleep(`${answerDelayMs} millis`))
      }))
    )
    const execute = Sessions.execute(
      { encryptKey: PIN, wallet, session, calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: [RECIPIENT, 1n, 0n] }] },
      { validity: `${VALIDITY} seconds` }
    ).pipe(Effect.provide(slowAnswer))

    const checkSent = Effect.gen(function*() {
      for (const tx of yield* devnet.transactions) {
        if (registration.has(tx.hash) || tx.status.executionStatus !== "REVERTED") continue
        const reason = tx.status.revertReason ?? ""
        if (!/execute_before/.test(reason)) return yield* fail(`a payload the session's count ruled out was sent: reverted ${reason}`)
      }
    })

    for (const op of input.ops) {
      if (op.op === "advance") {
        yield* TestClock.adjust(`${op.seconds} seconds`)
        continue
      }
      stats.executes++
      answerDelayMs = op.answerDelayMs
      yield* devnet.setFaults({ holdBlocks: op.hold, faultMethods: ["paymaster_executeTransaction"] })
      if (op.interruptAfter === undefined) {
        const result = yield* withBlocks(Effect.either(execute))
        if (Either.isLeft(result) && result.left._tag === "MaxCallsExceeded") stats.refusedMaxCalls++
        else if (Either.isLeft(result)) return yield* fail(`an execute failed: ${result.left._tag} ${result.left.message}`)
      } else {
        const fiber = yield* Effect.fork(execute)
        for (let i = 0; i < op.interruptAfter; i++) yield* Effect.yieldNow()
        for (let i = 0; i < op.interruptAfter % 7 && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust("50 millis")
        yield* Fiber.interrupt(fiber)
        stats.interrupted++
      }
      yield* devnet.clearFaults
      yield* checkSent
    }

    // Every window closes, every held transaction lands.
    yield* withBlocks(Effect.sleep(`${VALIDITY + 30} seconds`))
    yield* checkSent
    const [, , callsUsed] = yield* devnet.sessionData(wallet.publicKey, session.publicKey)
    const used = Number(callsUsed)
    for (const tx of yield* devnet.transactions) if (tx.status.executionStatus === "REVERTED") stats.windowReverts++
    answerDelayMs = 0
    const last = yield* withBlocks(Effect.either(execute))
    if (used >= input.maxCalls) {
      if (Either.isRight(last) || last.left._tag !== "MaxCallsExceeded") {
        return yield* fail(`the chain's ${used} of ${input.maxCalls} calls are spent, yet the execute was not refused MaxCallsExceeded`)
      }
    } else if (Either.isLeft(last)) {
      return yield* fail(`the chain has ${input.maxCalls - used} calls left, all windows closed, yet the execute failed: ${last.left._tag} ${last.left.message}`)
    }
    yield* withBlocks(Effect.sleep("5 seconds"))
    yield* checkSent
  })

export const InterruptionsLayer = () =>
  Layer.mergeAll(Devnet.layer({ blockTime: "1 second" }), Crypto.layerDeterministic("interruptions"), Sessions.layer)
