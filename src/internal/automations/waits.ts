/**
 * What the workflow waits on, and how: the durable clock (a wait a cancel or a webhook notification can end early),
 * a transaction followed until it is final, a registration's window, and the outcome of a step that was not final in
 * time, read once the session can no longer run it.
 */
import { Activity, DurableClock, DurableDeferred } from "@effect/workflow"
import { Duration, Effect, Option, type Schedule, Schema } from "effect"
import * as Sessions from "../../Sessions.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import * as Transactions from "../../Transactions.js"
import { CLOCK_TOLERANCE_SECONDS, REGISTER_WINDOW_SECONDS } from "./plan.js"
import { EngineOptions } from "./settings.js"
import { storeOp } from "./store.js"

/** Completed by `cancel`: every later wait of the workflow ends at once. */
export const CancelRequested = DurableDeferred.make("cancel")

/** Completed by a webhook notification for a transaction the workflow waits on (its `i`-th wait). */
export const txNotified = (txHash: string, i: number) => DurableDeferred.make(`tx/${BigInt(txHash).toString(16)}/${i}`)

const TxState = Schema.Union(
  Schema.TaggedStruct("Pending", {}),
  Schema.TaggedStruct("Succeeded", {}),
  Schema.TaggedStruct("Reverted", { reason: Schema.String })
)
type TxState = typeof TxState.Type

/** Sleeps until `dueAt` on the durable clock, unless a cancel or a notification ends the wait first. */
export const durableWait = (
  name: string,
  millis: number,
  ends: { readonly cancellable?: boolean; readonly notified?: DurableDeferred.DurableDeferred<typeof Schema.Void> | undefined } = {}
) =>
  DurableDeferred.raceAll({
    name,
    success: Schema.Literal("due", "cancelled", "notified"),
    error: Schema.Never,
    effects: [
      DurableClock.sleep({ name, duration: Duration.millis(Math.max(1, millis)), inMemoryThreshold: Duration.zero }).pipe(
        Effect.as("due" as const)
      ),
      ...(ends.cancellable === true ? [DurableDeferred.await(CancelRequested).pipe(Effect.as("cancelled" as const))] : []),
      ...(ends.notified !== undefined ? [DurableDeferred.await(ends.notified).pipe(Effect.as("notified" as const))] : [])
    ]
  })

/** How a followed transaction ended: final, or not final within the inclusion timeout (its outcome still open). */
export type Final = { readonly _tag: "Succeeded" } | { readonly _tag: "Reverted"; readonly reason: string } | { readonly _tag: "Unresolved" }
export const whyNot = (f: Exclude<Final, { _tag: "Succeeded" }>) => f._tag === "Reverted" ? f.reason : "not final in time"

/**
 * Follows a transaction until it is final, reading its status in activities and waiting on the durable clock
 * between reads (a webhook notification ends a wait early).
 */
export const followTx = (automationId: string, executionId: string, name: string, txHash: string) =>
  Effect.gen(function*() {
    const options = yield* EngineOptions
    for (let i = 0; i < options.polls; i++) {
      const state: TxState = yield* Activity.make({
        name: `${name}/status/${i}`,
        success: TxState,
        execute: Transactions.getStatus(txHash, { retry: options.retry }).pipe(
          // Only a final status decides: an outcome in the block being built (PRE_CONFIRMED) can still change.
          Effect.map((status): TxState =>
            !Transactions.isFinal(status)
              ? { _tag: "Pending" }
              : status.finalityStatus === "REJECTED"
              ? { _tag: "Reverted", reason: "rejected" }
              : status.executionStatus === "REVERTED"
              ? { _tag: "Reverted", reason: "reverted" }
              : { _tag: "Succeeded" }
          ),
          // Not seen yet, or the node is away: look again later.
          Effect.catchAll(() => Effect.succeed<TxState>({ _tag: "Pending" }))
        )
      })
      if (state._tag !== "Pending") {
        yield* Activity.make({ name: `${name}/unwait`, execute: storeOp((store) => store.removeWaiter(txHash)) })
        return state as Final
      }
      // Each wait has its own deferred, named in the store: a notification ends the wait in progress, and one that
      // came too early (the node had not seen the transaction final yet) leaves the next wait to the next one.
      const notified = txNotified(txHash, i)
      yield* Activity.make({
        name: `${name}/waiter/${i}`,
        execute: storeOp((store) => store.addWaiter(txHash, { automationId, executionId, deferred: notified.name }))
      })
      yield* durableWait(`${name}/poll/${i}`, options.pollMillis, { notified })
    }
    return { _tag: "Unresolved" } as Final
  })

/** The chain's latest block, transient faults retried. */
export const latestBlock = (retry: Schedule.Schedule<unknown, unknown>) =>
  Effect.flatMap(StarknetRpc, (rpc) => Transactions.retryTransient(rpc.latestBlock, retry))

/** Reads whether the session is registered as planned, or revoked. */
export const sessionState = (wallet: string, sessionPublicKey: string, retry: Schedule.Schedule<unknown, unknown>) =>
  Sessions.getSessionData({ walletAddress: wallet, sessionPublicKey }, { retry }).pipe(
    Effect.map((data) => data.validUntil)
  )

/** The longest wait between two looks at a registration's window. */
const WINDOW_WAIT_SECONDS = 30

/**
 * After a registration not final within the inclusion timeout: waits on the durable clock, each wait up to
 * `WINDOW_WAIT_SECONDS` or what is left of the window, until the session reads as registered (`registered`) or the latest block is
 * past the registration's `executeBefore` and, read after it, the session is not registered (`closed`: the
 * registration can no longer run). `unknown` if the chain's clock does not get there within the bound on waits.
 */
export const awaitRegistrationWindow = (wallet: string, sessionPublicKey: string, executeBefore: number) =>
  Effect.gen(function*() {
    const options = yield* EngineOptions
    const maxWaits = options.polls + Math.ceil((REGISTER_WINDOW_SECONDS + CLOCK_TOLERANCE_SECONDS) * 1000 / options.pollMillis)
    for (let i = 0; i < maxWaits; i++) {
      const seen = yield* Activity.make({
        name: `register/window/${i}`,
        success: Schema.Union(
          Schema.TaggedStruct("Registered", {}),
          Schema.TaggedStruct("Closed", {}),
          Schema.TaggedStruct("Open", { remainingSeconds: Schema.Number })
        ),
        execute: Effect.gen(function*() {
          const block = yield* latestBlock(options.retry)
          // Read after the block: a registration not seen by then is past its window for good.
          const validUntil = yield* sessionState(wallet, sessionPublicKey, options.retry)
          if (validUntil !== 0) return { _tag: "Registered" as const }
          return block.timestamp >= executeBefore
            ? { _tag: "Closed" as const }
            : { _tag: "Open" as const, remainingSeconds: executeBefore - block.timestamp }
        }).pipe(
          // The node is away: look again later.
          Effect.catchAll(() => Effect.succeed({ _tag: "Open" as const, remainingSeconds: WINDOW_WAIT_SECONDS }))
        )
      })
      if (seen._tag === "Registered") return "registered" as const
      if (seen._tag === "Closed") return "closed" as const
      yield* durableWait(
        `register/window/wait/${i}`,
        Math.max(options.pollMillis, Math.min(WINDOW_WAIT_SECONDS, seen.remainingSeconds) * 1000)
      )
    }
    return "unknown" as const
  })

/**
 * The outcome of a step whose transaction was not final in time, read once the plan's revoke is done: `executed` if
 * the chain shows it succeeded; `not-executed` if it reverted, or if the session is gone (revoked, or expired at the
 * latest block) and, read after that, it has not succeeded (it can no longer run); otherwise `unknown`.
 */
export const settleStep = (wallet: string, sessionPublicKey: string, txHash: string, retry: Schedule.Schedule<unknown, unknown>) =>
  Effect.gen(function*() {
    const block = yield* latestBlock(retry)
    const validUntil = yield* sessionState(wallet, sessionPublicKey, retry)
    const gone = validUntil === 0 || block.timestamp >= validUntil
    // Read after the session was seen gone: a transaction not included by then can only revert.
    const status = yield* Transactions.getStatus(txHash, { retry }).pipe(
      Effect.map(Option.some),
      Effect.catchTag("TransactionNotFound", () => Effect.succeed(Option.none()))
    )
    if (Option.isSome(status) && Transactions.isFinal(status.value)) {
      return status.value.finalityStatus !== "REJECTED" && status.value.executionStatus === "SUCCEEDED" ? "executed" as const : "not-executed" as const
    }
    return gone ? "not-executed" as const : "unknown" as const
  }).pipe(Effect.catchAll(() => Effect.succeed("unknown" as const)))
