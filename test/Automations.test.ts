import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schedule, TestClock } from "effect"
import { Devnet, Sessions, Transactions } from "starknet-session-keys"
import * as Automations from "starknet-session-keys/automations"
import { atRealisticTime, PIN, RECIPIENT, TestLayer, transfer, USDC, withBlocks } from "./helpers/lifecycle.js"

const SERVER_KEY = Redacted.make("automation-server-key")

const AutomationsTest = Automations.layer({ serverKey: SERVER_KEY, pollInterval: "1 second" }).pipe(
  Layer.provide([Automations.layerEngineMemory, Automations.layerStoreMemory]),
  Layer.provideMerge(TestLayer())
)

/** Gives up on a transaction after 10 seconds. */
const ShortTimeout = Automations.layer({ serverKey: SERVER_KEY, pollInterval: "1 second", inclusionTimeout: "10 seconds" }).pipe(
  Layer.provide([Automations.layerEngineMemory, Automations.layerStoreMemory]),
  Layer.provideMerge(TestLayer())
)

/** Moves time until the devnet holds more than `before` transactions (the next one is submitted). */
const submittedAfter = (before: number) =>
  withBlocks(
    Effect.flatMap(Devnet.Devnet, (devnet) => devnet.transactions).pipe(
      Effect.filterOrFail((txs) => txs.length > before, () => "not yet"),
      Effect.retry(Schedule.spaced("1 second"))
    ),
    120
  )

describe("Automations on the in-memory workflow engine (TestClock)", () => {
  it.effect("every minute, 3 times, then revoked: 3 transfers, 3 distinct hashes, the session gone", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10_000_000n } })
      const started = yield* Automations.start({
        automationId: "rebalance-1",
        wallet,
        pin: PIN,
        calls: (k) => [transfer(1000n + BigInt(k))],
        schedule: { every: "1 minute", times: 3 }
      })
      expect(started.state).toBe("registering")
      expect(started.stepsTotal).toBe(3)
      const outcome = yield* withBlocks(Automations.awaitEnd("rebalance-1"), 900)
      expect(outcome).toEqual({ state: "completed", stepsDone: 3 })
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(1000n + 1001n + 1002n)
      const status = yield* Automations.status("rebalance-1")
      expect(status.state).toBe("completed")
      expect(status.steps.map((s) => s.step)).toEqual([0, 1, 2])
      expect(new Set(status.steps.map((s) => s.txHash)).size).toBe(3)
      expect(status.revokeTxHash).toBeDefined()
      expect(status.nextRunAt).toBeUndefined()
      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: started.sessionPublicKey })
      expect(data.validUntil).toBe(0)
    }).pipe(Effect.provide(AutomationsTest)))

  it.effect("a wallet funded for 2 of 3 steps: the third is failed (its transfer cannot run), not a payment; 2 transfers, the session revoked", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 2_000n } })
      const started = yield* Automations.start({
        automationId: "underfunded",
        wallet,
        pin: PIN,
        calls: () => [transfer(1_000n)],
        schedule: { every: "1 minute", times: 3 }
      })
      const outcome = yield* withBlocks(Automations.awaitEnd("underfunded"), 900)
      expect(outcome).toMatchObject({ state: "failed", stepsDone: 2, errorTag: "CallWouldFail" })
      expect(outcome.error).toMatch(/step 3\/3/)
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(2_000n)
      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: started.sessionPublicKey })
      expect(data.validUntil).toBe(0)
    }).pipe(Effect.provide(AutomationsTest)))

  it.effect("cancel after the first step: no step starts after it, the session is revoked", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10_000_000n } })
      const started = yield* Automations.start({
        automationId: "cancel-me",
        wallet,
        pin: PIN,
        calls: () => [transfer(500n)],
        schedule: { every: "10 minutes", times: 5 }
      })
      const firstDone = Automations.status("cancel-me").pipe(
        Effect.filterOrFail((s) => s.stepsDone === 1, () => "not yet"),
        Effect.retry(Schedule.spaced("1 second"))
      )
      const afterOne = yield* withBlocks(firstDone, 300)
      expect(afterOne.nextRunAt).toBeGreaterThan(afterOne.steps[0]!.at)
      yield* Automations.cancel("cancel-me")
      const outcome = yield* withBlocks(Automations.awaitEnd("cancel-me"), 300)
      expect(outcome).toEqual({ state: "cancelled", stepsDone: 1 })
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(500n)
      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: started.sessionPublicKey })
      expect(data.validUntil).toBe(0)
      expect((yield* Automations.status("cancel-me")).state).toBe("cancelled")
    }).pipe(Effect.provide(AutomationsTest)))

  it.effect("a step the chain refuses ends the plan: the steps before stand, the session is revoked", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10_000n } })
      const started = yield* Automations.start({
        automationId: "runs-dry",
        wallet,
        pin: PIN,
        // The third step calls a blocklisted entrypoint: the session's rules refuse it whatever its allow-list.
        calls: (k) => (k < 2 ? [transfer(1_000n)] : [{ contractAddress: USDC, entrypoint: "upgrade", calldata: ["0x1"] }]),
        schedule: { every: "1 minute", times: 3 }
      })
      const outcome = yield* withBlocks(Automations.awaitEnd("runs-dry"), 600)
      expect(outcome.state).toBe("failed")
      expect(outcome.stepsDone).toBe(2)
      expect(outcome.error).toMatch(/step 3\/3: ForbiddenCall/)
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(2_000n)
      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: started.sessionPublicKey })
      expect(data.validUntil).toBe(0)
    }).pipe(Effect.provide(AutomationsTest)))

  it.effect("a spending policy set by the registration bounds the plan: the step over the window is refused (SpendingLimitExceeded), the session revoked", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10_000_000n } })
      const started = yield* Automations.start({
        automationId: "bounded",
        wallet,
        pin: PIN,
        calls: () => [transfer(1_000n)],
        schedule: { every: "1 minute", times: 3 },
        // Two steps fit in the window, the third does not.
        spendingPolicy: { token: USDC, maxPerCall: 1_000n, maxPerWindow: 2_000n, windowSeconds: 3_600 }
      })
      const sessionPublicKey = started.sessionPublicKey
      const registered = Automations.status("bounded").pipe(
        Effect.filterOrFail((s) => s.state !== "registering", () => "not yet"),
        Effect.retry(Schedule.spaced("1 second"))
      )
      expect((yield* withBlocks(registered, 300)).state).toBe("running")
      // Set on chain with the registration, in the same owner-signed outside execution (one transaction).
      const set = yield* Sessions.getSpendingPolicy({ walletAddress: wallet.publicKey, sessionPublicKey, token: USDC })
      expect(set).toMatchObject({ maxPerCall: 1_000n, maxPerWindow: 2_000n, windowSeconds: 3_600, spentInWindow: 0n })
      expect((yield* devnet.transactions).length).toBe(1)

      const outcome = yield* withBlocks(Automations.awaitEnd("bounded"), 600)
      expect(outcome.state).toBe("failed")
      expect(outcome.stepsDone).toBe(2)
      expect(outcome.errorTag).toBe("SpendingLimitExceeded")
      expect(outcome.error).toMatch(/^step 3\/3: SpendingLimitExceeded/)
      // The recipient got what the policy allowed, the chain counted it, the session is gone.
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(2_000n)
      const after = yield* Sessions.getSpendingPolicy({ walletAddress: wallet.publicKey, sessionPublicKey, token: USDC })
      expect(after.spentInWindow).toBe(2_000n)
      expect(after.remainingInWindow).toBe(0n)
      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey })
      expect(data.validUntil).toBe(0)
      const status = yield* Automations.status("bounded")
      expect(status.state).toBe("failed")
      expect(status.steps.map((s) => s.step)).toEqual([0, 1])
      expect(status.revokeTxHash).toBeDefined()
      // Registration, two steps, the revoke: the refused step was never submitted.
      expect((yield* devnet.transactions).length).toBe(4)
    }).pipe(Effect.provide(AutomationsTest)))

  describe("a step not final within the inclusion timeout is decided from the chain after the revoke, never guessed", () => {
    /** Starts a one-step plan and moves time until its session is registered (the plan is running). */
    const running = (automationId: string) =>
      Effect.gen(function*() {
        yield* atRealisticTime
        const devnet = yield* Devnet.Devnet
        const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10_000_000n } })
        const started = yield* Automations.start({ automationId, wallet, pin: PIN, calls: () => [transfer(700n)], schedule: { every: "1 minute", times: 1 } })
        yield* withBlocks(
          Automations.status(automationId).pipe(Effect.filterOrFail((s) => s.state === "running", () => "not yet"), Effect.retry(Schedule.spaced("1 second"))),
          120
        )
        return { devnet, wallet, started }
      })

    it.effect("included late (after the timeout, before the plan ends): counted as done, the payment reported", () =>
      Effect.gen(function*() {
        const { devnet } = yield* running("late-step")
        // Every transaction from here is held 8 blocks (16 s): the step lands after its 10 s timeout; the revoke
        // after it is not final in time either.
        yield* devnet.setFaults({ holdBlocks: 8 })
        const outcome = yield* withBlocks(Automations.awaitEnd("late-step"), 300)
        expect(outcome.stepsDone).toBe(1)
        expect(outcome.state).toBe("failed")
        expect(outcome.error).toMatch(/step 1\/1 0x[0-9a-f]+: included after the inclusion timeout/)
        expect(outcome.error).toMatch(/revoke not final in time/)
        expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(700n)
        expect((yield* Automations.status("late-step")).steps.map((s) => s.step)).toEqual([0])
      }).pipe(Effect.provide(ShortTimeout)))

    it.effect("still held when the plan ends and the revoke not landed either: the outcome says unknown and names the transaction", () =>
      Effect.gen(function*() {
        const { devnet } = yield* running("open-step")
        yield* devnet.setFaults({ holdBlocks: 30 })
        const outcome = yield* withBlocks(Automations.awaitEnd("open-step"), 300)
        expect(outcome).toMatchObject({ state: "failed", stepsDone: 0 })
        expect(outcome.error).toMatch(/outcome unknown: not final within the inclusion timeout, and the session could still run it/)
        expect(outcome.unresolvedTxHash).toMatch(/^0x[0-9a-f]+$/)
        // The chain decides later: here the step lands before the revoke, and the hash named finds it.
        yield* devnet.clearFaults
        const receipt = yield* withBlocks(Transactions.wait(outcome.unresolvedTxHash!, { schedule: Schedule.spaced("1 second") }), 300)
        expect(receipt.executionStatus).toBe("SUCCEEDED")
        expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(700n)
      }).pipe(Effect.provide(ShortTimeout)))

    it.effect("held past the revoke: not executed (the revoked session can no longer run it), and it never moves money", () =>
      Effect.gen(function*() {
        const { devnet } = yield* running("stuck-step")
        const before = (yield* devnet.transactions).length
        yield* devnet.setFaults({ holdBlocks: 1_000 })
        // Once the step's transaction is in the pool, new ones are no longer held: the revoke lands at once.
        yield* submittedAfter(before)
        yield* devnet.clearFaults
        const outcome = yield* withBlocks(Automations.awaitEnd("stuck-step"), 300)
        expect(outcome).toMatchObject({ state: "failed", stepsDone: 0 })
        expect(outcome.error).toMatch(/step 1\/1 0x[0-9a-f]+: not included within the inclusion timeout, and it can no longer run/)
        expect(outcome.unresolvedTxHash).toBeUndefined()
        // Its block comes: it reverts, nothing moves.
        yield* TestClock.adjust("1 hour")
        yield* devnet.mineBlock
        expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(0n)
      }).pipe(Effect.provide(ShortTimeout)))
  })

  describe("a registration not final within the inclusion timeout is waited for until its window is over on chain", () => {
    /** Starts a one-step plan whose registration is held `holdBlocks` blocks, then lets later transactions through. */
    const heldRegistration = (automationId: string, holdBlocks: number) =>
      Effect.gen(function*() {
        yield* atRealisticTime
        const devnet = yield* Devnet.Devnet
        const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10_000_000n } })
        const before = (yield* devnet.transactions).length
        yield* devnet.setFaults({ holdBlocks })
        const started = yield* Automations.start({ automationId, wallet, pin: PIN, calls: () => [transfer(900n)], schedule: { every: "1 minute", times: 1 } })
        yield* submittedAfter(before)
        yield* devnet.clearFaults
        return { devnet, wallet, started }
      })

    it.effect("included late (a minute, within its window): the plan runs, and the session is revoked at its end", () =>
      Effect.gen(function*() {
        const { devnet, wallet, started } = yield* heldRegistration("late-registration", 30)
        const outcome = yield* withBlocks(Automations.awaitEnd("late-registration"), 900)
        expect(outcome).toEqual({ state: "completed", stepsDone: 1 })
        expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(900n)
        const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: started.sessionPublicKey })
        expect(data.validUntil).toBe(0)
      }).pipe(Effect.provide(ShortTimeout)))

    it.effect("held past its window: failed, the session was never registered, and its late block registers nothing", () =>
      Effect.gen(function*() {
        const { devnet, wallet, started } = yield* heldRegistration("lost-registration", 1_000)
        const outcome = yield* withBlocks(Automations.awaitEnd("lost-registration"), 1_200)
        expect(outcome).toMatchObject({ state: "failed", stepsDone: 0 })
        expect(outcome.error).toMatch(/registration 0x[0-9a-f]+ not included within its window: the session was never registered/)
        expect(outcome.unresolvedTxHash).toBeUndefined()
        // Its block comes: past its window, the registration reverts.
        yield* TestClock.adjust("1 hour")
        yield* devnet.mineBlock
        const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: started.sessionPublicKey })
        expect(data.validUntil).toBe(0)
        expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(0n)
      }).pipe(Effect.provide(ShortTimeout)))
  })

  it.effect("bad definitions are typed errors, nothing is signed", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
      const base = { automationId: "bad", wallet, pin: PIN, calls: () => [transfer(1n)] }
      const times = yield* Effect.flip(Automations.start({ ...base, schedule: { every: "1 minute", times: 0 } }))
      expect(times).toMatchObject({ _tag: "InvalidInput", path: "schedule.times" })
      const cron = yield* Effect.flip(Automations.start({ ...base, schedule: { cron: "not a cron", times: 2 } }))
      expect(cron).toMatchObject({ _tag: "InvalidInput", path: "schedule.cron" })
      const thrown = yield* Effect.flip(Automations.start({ ...base, calls: () => { throw new Error("boom") }, schedule: { every: "1 minute", times: 1 } }))
      expect(thrown).toMatchObject({ _tag: "InvalidInput", path: "calls(0)" })
      const policy = yield* Effect.flip(Automations.start({
        ...base,
        schedule: { every: "1 minute", times: 1 },
        spendingPolicy: { token: USDC, maxPerCall: 10n, maxPerWindow: 5n, windowSeconds: 60 }
      }))
      expect(policy).toMatchObject({ _tag: "InvalidInput", path: "spendingPolicy.maxPerCall", code: "INVALID_SPENDING_POLICY" })
      const second = yield* Effect.flip(Automations.start({
        ...base,
        schedule: { every: "1 minute", times: 1 },
        spendingPolicy: [{ token: USDC, maxPerCall: 1n, maxPerWindow: 5n, windowSeconds: 60 }, { token: "nope", maxPerCall: 1n, maxPerWindow: 5n, windowSeconds: 60 }]
      }))
      expect(second).toMatchObject({ _tag: "InvalidInput", path: "spendingPolicy.1.token" })
      expect(yield* devnet.transactions).toEqual([])
      const pin = yield* Effect.flip(Automations.start({ ...base, pin: "wrong", schedule: { every: "1 minute", times: 1 } }))
      expect(pin._tag).toBe("InvalidPin")
      expect(yield* Effect.flip(Automations.status("bad"))).toMatchObject({ _tag: "AutomationNotFound" })
    }).pipe(Effect.provide(AutomationsTest)))
})

