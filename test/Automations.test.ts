import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schedule } from "effect"
import { Devnet, Sessions } from "starknet-session-keys"
import * as Automations from "starknet-session-keys/automations"
import { atRealisticTime, PIN, RECIPIENT, TestLayer, transfer, USDC, withBlocks } from "./helpers/lifecycle.js"

const SERVER_KEY = Redacted.make("automation-server-key")

const AutomationsTest = Automations.layer({ serverKey: SERVER_KEY, pollInterval: "1 second" }).pipe(
  Layer.provide([Automations.layerEngineMemory, Automations.layerStoreMemory]),
  Layer.provideMerge(TestLayer())
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
      const pin = yield* Effect.flip(Automations.start({ ...base, pin: "wrong", schedule: { every: "1 minute", times: 1 } }))
      expect(pin._tag).toBe("InvalidPin")
      expect(yield* Effect.flip(Automations.status("bad"))).toMatchObject({ _tag: "AutomationNotFound" })
    }).pipe(Effect.provide(AutomationsTest)))
})

