import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
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
})
