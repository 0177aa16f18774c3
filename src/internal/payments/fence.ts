/**
 * The fence an owner change that can revive refused payloads sets on its session (`Ledger.fence`): how long it
 * holds (`fenceSpan`), and an execute's wait for the change to be decided before its payload is sent (`awaitFence`).
 */
import { Clock, Duration, Effect, Schedule } from "effect"
import type { LedgerError } from "../../Errors.js"
import { Ledger, type Payment } from "../../Ledger.js"
import type { Options } from "../../Sessions.js"
import type { StarknetRpc } from "../../StarknetRpc.js"
import * as Transactions from "../../Transactions.js"
import { windowOptions } from "../sessions/lifecycle.js"
import { type Look, lookAt } from "./resolve.js"

/** How long a fence holds at most: the longest window an owner change's payload may get, and a margin. */
export const fenceSpan = (options: Options) =>
  Effect.map(windowOptions(options), ({ tolerance, validity }) => (Math.max(validity, 600) + tolerance + 60) * 1000)

/** How often an execute looks again at an owner change it waits for before it is recorded. */
const FENCE_POLL = Duration.millis(500)

/**
 * Before a new payload of a session is sent: an owner change of that session in progress (a fence) is waited out
 * until the chain decides it, so a payload refused now can never be revived by it a moment later.
 */
export const awaitFence = (payment: Payment, options: Options): Effect.Effect<void, LedgerError, StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const session = { wallet: payment.wallet, sessionPublicKey: payment.sessionPublicKey }
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const fence = yield* ledger.fenceOf(session, now)
      if (fence === undefined) return
      const change = yield* ledger.payment(payment.wallet, fence.idempotencyKey)
      if (change === undefined) {
        // Not recorded yet (being built), or its process stopped before: the fence lapses at its `until`.
        yield* Effect.sleep(Duration.min(FENCE_POLL, Duration.millis(Math.max(1, fence.until - now))))
        continue
      }
      if (change.status !== "executed" && change.status !== "not-executed") {
        yield* Effect.logDebug("an owner change of the session is in flight; waiting for the chain to decide it before sending")
        const budget = Duration.seconds(Math.max(0, change.executeBefore - Math.floor(now / 1000)) + 120)
        // Decided once its nonce is used on the state the network executes on (pre-confirmed will do: the payload
        // sent next executes after it), or its window has closed unused.
        const look = yield* lookAt(change, options.retry).pipe(
          Effect.orElseSucceed((): Look => "open"),
          Effect.repeat({ schedule: Transactions.defaultPolling.pipe(Schedule.upTo(budget)), until: (l) => l !== "open" })
        )
        if (look === "open") continue
      }
      yield* ledger.clearFence(session, fence.idempotencyKey)
    }
  })
