import { HttpApp, HttpRouter } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { it as plain } from "vitest"
import { Clock, Effect, Layer, ManagedRuntime, Redacted, type Runtime, TestClock } from "effect"
import { Devnet } from "starknet-session-keys"
import * as Automations from "starknet-session-keys/automations"
import { atRealisticTime, PIN, TestLayer, transfer } from "./helpers/lifecycle.js"

const SECRET = Redacted.make("webhook shared secret")

describe("the signed webhook receiver", () => {
  plain("refuses unsigned, wrongly signed, malformed, stale and replayed notifications; a good one resumes", async () => {
    const notified: Array<string> = []
    const fake = Layer.succeed(Automations.Automations, {
      notify: (txHash: string) => Effect.sync(() => (notified.push(txHash), true))
    } as unknown as Automations.Automations["Type"])
    const managed = ManagedRuntime.make(fake)
    const runtime = await managed.runtime()
    const app = await Effect.runPromise(HttpRouter.toHttpApp(Automations.webhookRouter({ secret: SECRET })))
    const handler = HttpApp.toWebHandlerRuntime(runtime as Runtime.Runtime<Automations.Automations>)(app as never)
    const now = Math.floor(Date.now() / 1000)
    const post = (body: string, signature?: string) =>
      handler(new Request("http://local/webhooks/transactions", {
        method: "POST",
        body,
        headers: signature !== undefined ? { "x-signature": signature } : {}
      }))
    const good = JSON.stringify({ id: "n-1", transactionHash: "0xabc", timestamp: now })
    expect((await post(good)).status).toBe(401)
    expect((await post(good, Automations.signWebhook(Redacted.make("another secret"), good))).status).toBe(401)
    // A signature of another body (one byte differs) is refused: the raw body is what is signed.
    expect((await post(good.replace("0xabc", "0xabd"), Automations.signWebhook(SECRET, good))).status).toBe(401)
    expect((await post("not json", Automations.signWebhook(SECRET, "not json"))).status).toBe(400)
    const stale = JSON.stringify({ id: "n-0", transactionHash: "0xabc", timestamp: now - 3600 })
    expect((await post(stale, Automations.signWebhook(SECRET, stale))).status).toBe(409)
    const accepted = await post(good, Automations.signWebhook(SECRET, good))
    expect(accepted.status).toBe(202)
    expect(await accepted.json()).toEqual({ resumed: true })
    expect((await post(good, Automations.signWebhook(SECRET, good))).status).toBe(409)
    expect(notified).toEqual(["0xabc"])
    await managed.dispose()
  })

  it.effect("a notification ends the engine's wait at once: with 30-minute polling the plan ends well within one poll interval", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10_000n } })
      const started = yield* Automations.start({
        automationId: "notified",
        wallet,
        pin: PIN,
        calls: () => [transfer(10n)],
        schedule: { every: "1 minute", times: 1 }
      })
      const t0 = yield* Clock.currentTimeMillis
      // Each wait on a transaction ends when its notification arrives (the devnet closes a block every 2 seconds).
      const notifyPending = Effect.gen(function*() {
        const status = yield* Automations.status("notified")
        const hashes = [status.registerTxHash, status.revokeTxHash, ...(yield* devnet.transactions).map((t) => t.hash)]
        for (const hash of hashes) if (hash !== undefined) { const r = yield* Effect.flatMap(Automations.Automations, (a) => a.notify(hash)); void r }
      })
      // Each second of the clock leaves the plan a moment of real time too (its keys are derived off the event loop),
      // so a loaded machine moves the clock no further than an idle one would need.
      const realPause = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 50)))
      for (let i = 0; i < 600; i++) {
        yield* TestClock.adjust("1 second")
        yield* notifyPending
        yield* realPause
        if ((yield* Automations.status("notified")).state === "completed") break
      }
      const status = yield* Automations.status("notified")
      expect(status.state).toBe("completed")
      expect(status.stepsDone).toBe(1)
      expect(status.sessionPublicKey).toBe(started.sessionPublicKey)
      // Polling alone would take 30 minutes per wait (three waits): well under one of them proves the notifications.
      expect((yield* Clock.currentTimeMillis) - t0).toBeLessThan(10 * 60_000)
    }).pipe(
      Effect.provide(
        Automations.layer({ serverKey: Redacted.make("k"), pollInterval: "30 minutes", inclusionTimeout: "10 hours" }).pipe(
          Layer.provide([Automations.layerEngineMemory, Automations.layerStoreMemory]),
          Layer.provideMerge(TestLayer())
        )
      )
    ))
})
