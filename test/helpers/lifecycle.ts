/** Shared helpers for lifecycle tests on the embedded devnet under TestClock. */
import { Effect, Fiber, Layer, TestClock } from "effect"
import { Crypto, Devnet, Sessions, STARKNET_CONTRACTS } from "starknet-session-keys"

export const PIN = "735911"
export const USDC = STARKNET_CONTRACTS.USDC.contractAddress
export const RECIPIENT = "0x7e0c1e4"

/** Devnet + deterministic keys + a ledger, fresh per test. */
export const TestLayer = (options: Devnet.DevnetOptions = {}) =>
  Layer.mergeAll(Devnet.layer({ blockTime: "2 seconds", ...options }), Crypto.layerDeterministic("lifecycle-tests"), Sessions.layer)

/**
 * Runs an effect that waits on blocks, moving the TestClock forward a second at a time until it ends
 * (blocks close as time passes).
 */
export const withBlocks = <A, E, R>(effect: Effect.Effect<A, E, R>, maxSeconds = 600) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < maxSeconds; i++) {
      const done = yield* Fiber.poll(fiber)
      if (done._tag === "Some") break
      yield* TestClock.adjust("1 second")
    }
    return yield* Fiber.join(fiber)
  })

/** Starts the TestClock at a realistic date so timestamps look like Starknet's. */
export const atRealisticTime = TestClock.setTime(Date.UTC(2026, 0, 1))

export const transfer = (amount: bigint, to = RECIPIENT) => ({
  contractAddress: USDC,
  entrypoint: "transfer",
  calldata: [to, "0x" + amount.toString(16), "0x0"]
})

/** A funded wallet with a registered session. */
export const registeredSession = (config: { readonly maxCalls?: number; readonly allowedEntrypoints?: ReadonlyArray<string>; readonly durationSeconds?: number } = {}) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10_000_000n } })
    const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: config.durationSeconds ?? 3600 })
    yield* withBlocks(Sessions.registerAndWait({
      encryptKey: PIN,
      wallet,
      session,
      sessionConfig: {
        sessionPublicKey: session.publicKey,
        validUntil: session.validUntil,
        maxCalls: config.maxCalls ?? 5,
        allowedEntrypoints: config.allowedEntrypoints ?? []
      }
    }))
    return { devnet, wallet, session }
  })

/** Lets a forked fiber run until the devnet has used up the injected drop (the first attempt was carried out). */
export const untilDropped = (devnet: Devnet.DevnetHandle) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      if (((yield* devnet.faults).dropNext ?? 0) === 0) return
      yield* TestClock.adjust("10 millis")
    }
    throw new Error("the submission never reached the devnet")
  })

/** A funded wallet with `count` registered sessions. */
export const walletWithSessions = (count: number, maxCalls = 10) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10_000_000n } })
    const sessions = []
    for (let i = 0; i < count; i++) {
      const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 4 * 3600 })
      yield* withBlocks(Sessions.registerAndWait({
        encryptKey: PIN,
        wallet,
        session,
        sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls, allowedEntrypoints: [] }
      }))
      sessions.push(session)
    }
    return { devnet, wallet, sessions }
  })
