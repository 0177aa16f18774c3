/**
 * Durable, time-boxed automations: "send X to R every hour, 24 times, then revoke" as a workflow of
 * `@effect/workflow`, which survives crashes (its journal is in the engine's store) and, on `@effect/cluster`,
 * runs on whichever instance owns it.
 *
 * The owner's PIN is used once, in `start`: the session key is created (encrypted under a server key, never the
 * PIN), its registration and its revoke are signed by the owner as outside executions, and the rest of the plan
 * needs nothing from the user. Each step executes with the idempotency key `automationId:step`, so a step replayed
 * after a crash re-sends its recorded payload and the chain runs it at most once.
 *
 * @since 0.1.0
 */
import { Activity, DurableClock, DurableDeferred, Workflow, WorkflowEngine } from "@effect/workflow"
import { Clock, Config, Context, Duration, Effect, Exit, Layer, Option, Redacted, Schedule, Schema } from "effect"
import { Crypto } from "./Crypto.js"
import { InvalidInput } from "./Errors.js"
import { dueTimes, allowList, type Schedule as PlanSchedule } from "./internal/automations/plan.js"
import { Presigned, presign, sendPresigned } from "./internal/payments/presign.js"
import { type AutomationRecord, State, Store, StoreError } from "./internal/automations/store.js"
import * as Webhook from "./internal/automations/webhook.js"
import * as Metrics from "./Metrics.js"
import { addOrUpdateSessionKeyCalldata, sessionKeyCalldata } from "./OutsideExecution.js"
import { Paymaster } from "./Paymaster.js"
import { Call, decode, SessionConfig, WalletData } from "./Schemas.js"
import * as Sessions from "./Sessions.js"
import { StarknetRpc } from "./StarknetRpc.js"
import * as Transactions from "./Transactions.js"

export {
  /**
   * Where automations are recorded for `status` and for webhooks.
   *
   * @since 0.1.0
   * @category tags
   */
  Store,
  /**
   * The automation store failed.
   *
   * @since 0.1.0
   * @category errors
   */
  StoreError,
  /**
   * A process-local automation store.
   *
   * @since 0.1.0
   * @category layers
   */
  layerMemory as layerStoreMemory,
  /**
   * An automation store in the SQL database the engine uses (tables `<prefix>_automations…`, created at start).
   *
   * @since 0.1.0
   * @category layers
   */
  layerSql as layerStoreSql
} from "./internal/automations/store.js"

// ---------------------------------------------------------------------------------------------------------------
// Definitions
// ---------------------------------------------------------------------------------------------------------------

/**
 * When the steps run: every `every`, `times` times (the first step once the session is registered), or at the next
 * `times` instants of a cron expression (Effect's `Cron`).
 *
 * @since 0.1.0
 * @category models
 */
export type ScheduleSpec = PlanSchedule

/**
 * One call, as the guide writes it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallInput {
  readonly contractAddress: string
  readonly entrypoint: string
  readonly calldata?: ReadonlyArray<string | number | bigint>
}

/**
 * A time-boxed automation.
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition {
  /** The automation's identity: starting it again with the same id resumes it, never duplicates it. */
  readonly automationId: string
  readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
  /** The owner's PIN, used only while `start` runs. */
  readonly pin: Sessions.Pin
  /** The calls of step `k` (0-based); evaluated for every step when the automation starts. */
  readonly calls: (step: number) => ReadonlyArray<CallInput>
  readonly schedule: ScheduleSpec
  /** Added to the plan's span for the session's validity (default 10 minutes). */
  readonly margin?: Duration.DurationInput
  /**
   * A spending policy for the session (one per token), set on chain by the owner-signed registration itself, in
   * the same outside execution: the account then refuses any step that would move more, and a step that would is
   * refused before it is signed (`SpendingLimitExceeded`), which ends the plan.
   */
  readonly spendingPolicy?: SpendingPolicy | ReadonlyArray<SpendingPolicy>
}

/**
 * A spending policy of an automation's session, as `Sessions.setSpendingPolicy` takes it (the session is the one
 * the automation creates): at most `maxPerCall` per transfer or approval of `token`, and `maxPerWindow` in total per
 * `windowSeconds` (u256 amounts in the token's raw units). The window starts when the registration is included.
 *
 * @since 0.1.0
 * @category models
 */
export type SpendingPolicy = Omit<Sessions.SpendingPolicyConfig, "sessionPublicKey">

/**
 * What `status` tells.
 *
 * @since 0.1.0
 * @category models
 */
export interface Status {
  readonly automationId: string
  readonly state: State
  readonly sessionPublicKey: string
  readonly stepsTotal: number
  readonly stepsDone: number
  /** The included transaction of each step done. */
  readonly steps: ReadonlyArray<{ readonly step: number; readonly txHash: string; readonly at: number }>
  /** When the next step is due (epoch milliseconds), while steps remain. */
  readonly nextRunAt?: number | undefined
  readonly registerTxHash?: string | undefined
  readonly revokeTxHash?: string | undefined
  readonly error?: string | undefined
}

/**
 * The automation asked for is not known to the store.
 *
 * @since 0.1.0
 * @category errors
 */
export class AutomationNotFound extends Schema.TaggedError<AutomationNotFound>()("AutomationNotFound", {
  automationId: Schema.String
}) {
  override get message() {
    return `no automation ${this.automationId}`
  }
}

/**
 * How the automation ended.
 *
 * @since 0.1.0
 * @category models
 */
export const Outcome = Schema.Struct({
  state: Schema.Literal("completed", "cancelled", "failed", "expired"),
  stepsDone: Schema.Number,
  error: Schema.optional(Schema.String),
  /** The `_tag` of the typed error that refused a step for good (e.g. `SpendingLimitExceeded`), when one did. */
  errorTag: Schema.optional(Schema.String),
  /**
   * A transaction whose outcome is not known: a step's, not final within `inclusionTimeout` while the session could
   * still run it when the plan ended (its revoke did not land); or the registration's, when the chain's clock did not
   * reach the end of its window within the waits. Look it up with `Transactions.wait`.
   */
  unresolvedTxHash: Schema.optional(Schema.String)
})
/** @since 0.1.0 */
export type Outcome = typeof Outcome.Type

// ---------------------------------------------------------------------------------------------------------------
// The workflow
// ---------------------------------------------------------------------------------------------------------------

const CallEncoded = Schema.Struct({
  contractAddress: Schema.String,
  entrypoint: Schema.String,
  calldata: Schema.Array(Schema.String)
})

const Payload = Schema.Struct({
  automationId: Schema.String,
  wallet: Schema.Struct({ publicKey: Schema.String, encryptedPrivateKey: Schema.String }),
  session: Schema.Struct({ publicKey: Schema.String, encryptedPrivateKey: Schema.String, validUntil: Schema.Number }),
  steps: Schema.Array(Schema.Struct({ dueAt: Schema.Number, calls: Schema.Array(CallEncoded) })),
  register: Presigned,
  revoke: Presigned,
  /** The spending policies the registration sets (amounts as decimal strings), read back once it is included. */
  policies: Schema.optional(Schema.Array(Schema.Struct({
    token: Schema.String,
    maxPerCall: Schema.String,
    maxPerWindow: Schema.String,
    windowSeconds: Schema.String
  })))
})

/**
 * The durable workflow behind every automation (registered by `layer`).
 *
 * @since 0.1.0
 * @category workflows
 */
export const AutomationWorkflow = Workflow.make({
  name: "starknet-session-keys/Automation",
  payload: Payload,
  idempotencyKey: (payload) => payload.automationId,
  success: Outcome
})

/** Completed by `cancel`: every later wait of the workflow ends at once. */
const CancelRequested = DurableDeferred.make("cancel")

/** Completed by a webhook notification for a transaction the workflow waits on (its `i`-th wait). */
const txNotified = (txHash: string, i: number) => DurableDeferred.make(`tx/${BigInt(txHash).toString(16)}/${i}`)

/**
 * The engine's settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Encrypts the session keys at rest (never the user's PIN). */
  readonly serverKey: Redacted.Redacted<string>
  /** How often a pending transaction is looked at (default 2 seconds); a webhook notification ends a wait early. */
  readonly pollInterval?: Duration.DurationInput
  /** How long a step's transaction may take to be final before the step fails (default 10 minutes). */
  readonly inclusionTimeout?: Duration.DurationInput
  /** Retries of transient RPC and paymaster faults inside one step. */
  readonly retry?: Schedule.Schedule<unknown, unknown>
}

class EngineOptions extends Context.Tag("starknet-session-keys/Automations/EngineOptions")<
  EngineOptions,
  { readonly serverKey: Redacted.Redacted<string>; readonly pollMillis: number; readonly polls: number; readonly retry: Schedule.Schedule<unknown, unknown> }
>() {}

const StepResult = Schema.Union(
  Schema.TaggedStruct("Sent", { txHash: Schema.String }),
  Schema.TaggedStruct("Refused", { reason: Schema.String, tag: Schema.optional(Schema.String) })
)

const TxState = Schema.Union(
  Schema.TaggedStruct("Pending", {}),
  Schema.TaggedStruct("Succeeded", {}),
  Schema.TaggedStruct("Reverted", { reason: Schema.String })
)
type TxState = typeof TxState.Type

const reasonOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? `${(error as { _tag?: string })._tag ?? "Error"}: ${error.message}`
    : String(error)

/** Store writes inside activities: retried, then a defect (the activity reruns after a restart). */
const storeOp = <A>(f: (store: Store["Type"]) => Effect.Effect<A, StoreError>) =>
  Effect.flatMap(Store, f).pipe(
    Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.compose(Schedule.recurs(5)))),
    Effect.orDie
  )

/** Sleeps until `dueAt` on the durable clock, unless a cancel or a notification ends the wait first. */
const durableWait = (
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

/**
 * Follows a transaction until it is final, reading its status in activities and waiting on the durable clock
 * between reads (a webhook notification ends a wait early). `cancellable`: a cancel ends the wait too.
 */
/** How a followed transaction ended: final, or not final within the inclusion timeout (its outcome still open). */
type Final = { readonly _tag: "Succeeded" } | { readonly _tag: "Reverted"; readonly reason: string } | { readonly _tag: "Unresolved" }
const whyNot = (f: Exclude<Final, { _tag: "Succeeded" }>) => f._tag === "Reverted" ? f.reason : "not final in time"

const followTx = (automationId: string, executionId: string, name: string, txHash: string) =>
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
const latestBlock = (retry: Schedule.Schedule<unknown, unknown>) =>
  Effect.flatMap(StarknetRpc, (rpc) => Transactions.retryTransient(rpc.latestBlock, retry))

/** Reads whether the session is registered as planned, or revoked. */
const sessionState = (wallet: string, sessionPublicKey: string, retry: Schedule.Schedule<unknown, unknown>) =>
  Sessions.getSessionData({ walletAddress: wallet, sessionPublicKey }, { retry }).pipe(
    Effect.map((data) => data.validUntil)
  )

/**
 * Step `k`: one execute under the idempotency key `automationId:k`. Replayed after a crash, it re-sends the payload
 * recorded for that key (the chain runs it at most once). An outcome not known yet is looked at again on the
 * durable clock, with the same key, until the chain decides.
 */
const executeStep = (payload: typeof Payload.Type, k: number) =>
  Effect.gen(function*() {
    const options = yield* EngineOptions
    const step = payload.steps[k]!
    const idempotencyKey = `${payload.automationId}:${k}`
    for (let attempt = 0; attempt < options.polls; attempt++) {
      const result = yield* Activity.make({
        name: attempt === 0 ? `step/${k}` : `step/${k}/again/${attempt}`,
        success: Schema.Union(StepResult, Schema.TaggedStruct("Unknown", { reason: Schema.String })),
        execute: Sessions.execute(
          { encryptKey: options.serverKey, wallet: payload.wallet, session: payload.session, calls: step.calls },
          { retry: options.retry, idempotencyKey }
        ).pipe(
          Effect.map((txHash) => ({ _tag: "Sent" as const, txHash })),
          Effect.catchAll((error) =>
            Effect.succeed(
              // Faults of the ledger or the node leave the payment as it was: the same key decides it later.
              error._tag === "OutcomeUnknown" || error._tag === "LedgerError" || error._tag === "RpcError" ||
                (error._tag === "PaymasterError" && error.revertReason === undefined)
                ? { _tag: "Unknown" as const, reason: reasonOf(error) }
                : { _tag: "Refused" as const, reason: reasonOf(error), tag: error._tag }
            )
          )
        )
      })
      if (result._tag !== "Unknown") return result
      yield* Effect.logDebug(`step ${k + 1}: outcome not known yet`, result.reason)
      yield* durableWait(`step/${k}/again/${attempt}`, options.pollMillis).pipe(Effect.asVoid)
    }
    return { _tag: "Refused" as const, reason: "the outcome stayed unknown" }
  })

const recordOf = (payload: typeof Payload.Type, executionId: string) => ({
  automationId: payload.automationId,
  executionId,
  wallet: payload.wallet.publicKey,
  sessionPublicKey: payload.session.publicKey,
  dueAt: payload.steps.map((s) => s.dueAt),
  state: "registering" as const,
  createdAt: payload.steps[0]?.dueAt ?? 0
})

const workflowLayer = AutomationWorkflow.toLayer((payload, executionId) =>
  Effect.gen(function*() {
    const options = yield* EngineOptions
    const id = payload.automationId
    const wallet = payload.wallet.publicKey
    const N = payload.steps.length
    const setState = (name: string, patch: Parameters<Store["Type"]["update"]>[1]) =>
      Activity.make({ name, execute: storeOp((store) => store.update(id, patch)) })

    yield* Activity.make({ name: "record", execute: storeOp((store) => store.create(recordOf(payload, executionId))).pipe(Effect.asVoid) })

    // 1. The owner-signed registration, signed at start, is sent once (its nonce refuses a second copy).
    const registration = yield* Activity.make({
      name: "register/send",
      success: Schema.Union(StepResult, Schema.TaggedStruct("Duplicate", {})),
      execute: sendPresigned(wallet as never, payload.register, options.retry).pipe(
        Effect.tap((sent) => sent._tag === "Sent" ? storeOp((store) => store.update(id, { registerTxHash: sent.txHash })) : Effect.void),
        Effect.catchAll((error) => Effect.succeed({ _tag: "Refused" as const, reason: reasonOf(error) }))
      )
    })
    const end = (outcome: Outcome) => setState("end", { state: outcome.state, ...(outcome.error !== undefined ? { error: outcome.error } : {}) }).pipe(Effect.as(outcome))
    if (registration._tag === "Refused") return yield* end({ state: "failed", stepsDone: 0, error: `registration refused: ${registration.reason}` })

    // 2. Wait for it through the durable clock.
    if (registration._tag === "Sent") {
      const included = yield* followTx(id, executionId, "register", registration.txHash)
      if (included._tag === "Reverted") return yield* end({ state: "failed", stepsDone: 0, error: `registration ${included.reason}` })
      if (included._tag === "Unresolved") {
        // Not final in time, it can still land (leaving a session registered that nothing would revoke): wait until
        // the chain shows it registered, or its window over (it can no longer run).
        const decided = yield* awaitRegistrationWindow(wallet, payload.session.publicKey, payload.register.executeBefore)
        if (decided === "unknown") {
          return yield* end({
            state: "failed",
            stepsDone: 0,
            error: `registration ${registration.txHash}: outcome unknown: not final, and its window is not over on chain`,
            unresolvedTxHash: registration.txHash
          })
        }
        if (decided === "closed") {
          return yield* end({
            state: "failed",
            stepsDone: 0,
            error: `registration ${registration.txHash} not included within its window: the session was never registered`
          })
        }
      }
    }
    const registeredUntil = yield* Activity.make({
      name: "register/check",
      success: Schema.Number,
      execute: sessionState(wallet, payload.session.publicKey, options.retry).pipe(
        // Registered from here: the ledger knows the allow-list and counts the session from zero.
        Effect.tap((validUntil) =>
          validUntil === payload.session.validUntil
            ? Effect.flatMap(Sessions.Ledger, (ledger) =>
              ledger.resetSession(
                { wallet: wallet as never, sessionPublicKey: payload.session.publicKey as never },
                allowList(payload.steps.map((s) => s.calls.map((c) => ({ ...c, calldata: c.calldata as never }))) as never)
              ))
            : Effect.void
        ),
        Effect.orDie
      )
    })
    if (registeredUntil !== payload.session.validUntil) {
      return yield* end({ state: "failed", stepsDone: 0, error: "the session is not registered as planned" })
    }
    // The registration's calls run non-atomically: a policy the account did not set (no spending extension) leaves
    // the session registered without its bound, so the plan does not run and the session is revoked.
    const unset = payload.policies === undefined || payload.policies.length === 0 ? [] : yield* Activity.make({
      name: "register/policies",
      success: Schema.Array(Schema.String),
      execute: Effect.forEach(payload.policies, (p) =>
        Sessions.getSpendingPolicy({ walletAddress: wallet, sessionPublicKey: payload.session.publicKey, token: p.token }, { retry: options.retry }).pipe(
          Effect.map((read) =>
            read.maxPerCall === BigInt(p.maxPerCall) && read.maxPerWindow === BigInt(p.maxPerWindow) &&
              BigInt(read.windowSeconds) === BigInt(p.windowSeconds)
              ? []
              : [p.token]
          )
        )).pipe(Effect.map((tokens) => tokens.flat()), Effect.orDie)
    })

    // 3. The steps, each when due.
    let stepsDone = 0
    // A step whose transaction was not final within the inclusion timeout: decided after the revoke (below).
    let unsettled: { readonly k: number; readonly txHash: string } | undefined
    let outcome: Outcome | undefined = unset.length === 0
      ? undefined
      : { state: "failed", stepsDone: 0, error: `the spending policy of ${unset.join(", ")} is not set as planned` }
    if (outcome === undefined) yield* setState("running", { state: "running" })
    for (let k = 0; k < N && outcome === undefined; k++) {
      const step = payload.steps[k]!
      const now = yield* Clock.currentTimeMillis
      const woke = yield* durableWait(`due/${k}`, step.dueAt - now, { cancellable: true })
      if (woke === "cancelled") {
        outcome = { state: "cancelled", stepsDone }
        break
      }
      const sent = yield* executeStep(payload, k)
      if (sent._tag === "Refused") {
        yield* Metrics.automationStep("refused")
        outcome = { state: "failed", stepsDone, error: `step ${k + 1}/${N}: ${sent.reason}`, ...(sent.tag !== undefined ? { errorTag: sent.tag } : {}) }
        break
      }
      const included = yield* followTx(id, executionId, `step/${k}`, sent.txHash)
      if (included._tag !== "Succeeded") {
        if (included._tag === "Unresolved") unsettled = { k, txHash: sent.txHash }
        yield* Metrics.automationStep(included._tag === "Unresolved" ? "unknown" : "failed")
        outcome = { state: "failed", stepsDone, error: `step ${k + 1}/${N} ${sent.txHash}: ${whyNot(included)}` }
        break
      }
      // SUCCEEDED does not prove the step paid: the account catches a failing call (its funds gone since the
      // simulation, say). The payment's calls are checked; one that moved nothing fails the step.
      const ran = yield* Activity.make({
        name: `step/${k}/calls`,
        success: Schema.Union(Schema.TaggedStruct("Ran", {}), Schema.TaggedStruct("CallFailed", { reason: Schema.String })),
        execute: Sessions.resolve({ wallet, idempotencyKey: `${id}:${k}` }, undefined, { retry: options.retry }).pipe(
          Effect.as({ _tag: "Ran" as const }),
          Effect.catchTag("CallFailed", (e) => Effect.succeed({ _tag: "CallFailed" as const, reason: e.message })),
          // A payment the chain executed whose calls could not be read stays counted, as its status says.
          Effect.catchAll((e) => Effect.as(Effect.logWarning("the calls of an executed step could not be checked", e), { _tag: "Ran" as const }))
        )
      })
      if (ran._tag === "CallFailed") {
        yield* Metrics.automationStep("failed")
        outcome = { state: "failed", stepsDone, error: `step ${k + 1}/${N} ${sent.txHash}: ${ran.reason}`, errorTag: "CallFailed" }
        break
      }
      yield* Activity.make({
        name: `step/${k}/record`,
        execute: Effect.flatMap(Clock.currentTimeMillis, (at) =>
          Effect.zipLeft(storeOp((store) => store.recordStep(id, { step: k, txHash: sent.txHash, at })), Metrics.automationStep("done")))
      })
      stepsDone++
    }
    outcome ??= { state: "completed", stepsDone }

    // 4. The presigned revoke, then wait until the chain shows the session gone.
    yield* setState("revoking", { state: "revoking" })
    const revoke = yield* Activity.make({
      name: "revoke/send",
      success: Schema.Union(StepResult, Schema.TaggedStruct("Duplicate", {}), Schema.TaggedStruct("Late", {})),
      execute: Effect.gen(function*() {
        const block = yield* latestBlock(options.retry)
        // Past its window the revoke cannot run, and the session has expired on chain anyway.
        if (block.timestamp + 1 >= payload.revoke.executeBefore) return { _tag: "Late" as const }
        const sentRevoke = yield* sendPresigned(wallet as never, payload.revoke, options.retry)
        if (sentRevoke._tag === "Sent") yield* storeOp((store) => store.update(id, { revokeTxHash: sentRevoke.txHash }))
        return sentRevoke
      }).pipe(Effect.catchAll((error) => Effect.succeed({ _tag: "Refused" as const, reason: reasonOf(error) })))
    })
    // A step not final in time is decided once the session can no longer run it (revoked, or expired): its status
    // then says whether it ran. While the session could still run it, its outcome is unknown, and said so.
    const finish = (o: Outcome, revokeError?: string) =>
      Effect.gen(function*() {
        const errors = (stepError: string | undefined) => [stepError, revokeError].filter(Boolean).join("; ") || undefined
        if (unsettled === undefined) {
          const error = errors(o.error)
          return yield* end({ ...o, ...(error !== undefined ? { error } : {}) })
        }
        const { k, txHash } = unsettled
        const label = `step ${k + 1}/${N} ${txHash}`
        const settled = yield* Activity.make({
          name: `step/${k}/settle`,
          success: Schema.Literal("executed", "not-executed", "unknown"),
          execute: settleStep(wallet, payload.session.publicKey, txHash, options.retry)
        })
        if (settled === "executed") {
          yield* Activity.make({
            name: `step/${k}/record`,
            execute: Effect.flatMap(Clock.currentTimeMillis, (at) => storeOp((store) => store.recordStep(id, { step: k, txHash, at })))
          })
          return yield* end({ ...o, stepsDone: o.stepsDone + 1, error: errors(`${label}: included after the inclusion timeout; the plan stopped there`)! })
        }
        if (settled === "not-executed") {
          return yield* end({ ...o, error: errors(`${label}: not included within the inclusion timeout, and it can no longer run (the session is revoked or expired)`)! })
        }
        return yield* end({
          ...o,
          error: errors(`${label}: outcome unknown: not final within the inclusion timeout, and the session could still run it`)!,
          unresolvedTxHash: txHash
        })
      })
    if (revoke._tag === "Late") return yield* finish({ ...outcome, state: outcome.state === "completed" ? "expired" : outcome.state })
    if (revoke._tag === "Refused") return yield* finish({ ...outcome, state: "failed" }, `revoke refused: ${revoke.reason}`)
    if (revoke._tag === "Sent") {
      const included = yield* followTx(id, executionId, "revoke", revoke.txHash)
      if (included._tag !== "Succeeded") return yield* finish({ ...outcome, state: "failed" }, `revoke ${whyNot(included)}`)
    }
    return yield* finish(outcome)
  })
)

/**
 * After a registration not final within the inclusion timeout: waits on the durable clock, each wait up to
 * `WINDOW_WAIT_SECONDS` or what is left of the window, until the session reads as registered (`registered`) or the latest block is
 * past the registration's `executeBefore` and, read after it, the session is not registered (`closed`: the
 * registration can no longer run). `unknown` if the chain's clock does not get there within the bound on waits.
 */
/** The longest wait between two looks at a registration's window. */
const WINDOW_WAIT_SECONDS = 30

const awaitRegistrationWindow = (wallet: string, sessionPublicKey: string, executeBefore: number) =>
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
const settleStep = (wallet: string, sessionPublicKey: string, txHash: string, retry: Schedule.Schedule<unknown, unknown>) =>
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

// ---------------------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------------------

/**
 * Every failure of `start`.
 *
 * @since 0.1.0
 * @category errors
 */
export type StartError = Sessions.SubmitError | StoreError

/**
 * Starts, reads and cancels automations.
 *
 * @since 0.1.0
 * @category tags
 */
export class Automations extends Context.Tag("starknet-session-keys/Automations")<
  Automations,
  {
    /**
     * Creates the session key, signs its registration and its revoke with the owner's key, records the automation
     * and starts its workflow. Starting an automation id already known returns its status and signs nothing.
     */
    readonly start: (definition: Definition) => Effect.Effect<Status, StartError>
    readonly status: (automationId: string) => Effect.Effect<Status, AutomationNotFound | StoreError>
    /** Asks the automation to stop: no step starts after this; the session is revoked. */
    readonly cancel: (automationId: string) => Effect.Effect<void, AutomationNotFound | StoreError>
    /** Waits until the automation has ended (revoked, expired or failed). */
    readonly await: (automationId: string) => Effect.Effect<Outcome, AutomationNotFound | StoreError>
    /** Ends a wait on this transaction early, when an automation follows it (what webhooks call). */
    readonly notify: (txHash: string) => Effect.Effect<boolean, StoreError>
  }
>() {}

const toStatus = (r: AutomationRecord): Status => {
  const stepsDone = r.steps.length
  const live = r.state === "registering" || r.state === "running"
  return {
    automationId: r.automationId,
    state: r.state,
    sessionPublicKey: r.sessionPublicKey,
    stepsTotal: r.dueAt.length,
    stepsDone,
    steps: r.steps,
    nextRunAt: live && !r.cancelRequested ? r.dueAt[stepsDone] : undefined,
    registerTxHash: r.registerTxHash,
    revokeTxHash: r.revokeTxHash,
    error: r.error
  }
}

const DEFAULT_MARGIN = Duration.minutes(10)
/** How far the paymaster's clock may differ from the chain's, as for any sponsored submission. */
const CLOCK_TOLERANCE_SECONDS = 60

/** A policy's refusal, at its place in the definition. */
const policyError = <E>(error: E, at: string): E => {
  if (!(error instanceof InvalidInput)) return error
  const path = error.path.replace(/^spendingPolicyConfig/, at)
  return new InvalidInput({ ...error, path, issues: error.issues.map((i) => ({ ...i, path: i.path.replace(/^spendingPolicyConfig/, at) })) }) as E
}
/** A registration not on chain within this is never going to be. */
const REGISTER_WINDOW_SECONDS = 10 * 60

const make = Effect.gen(function*() {
  const options = yield* EngineOptions
  const store = yield* Store
  const engine = yield* WorkflowEngine.WorkflowEngine
  const context = yield* Effect.context<Crypto | Paymaster | StarknetRpc | Sessions.Ledger>()
  const withEngine = <A, E>(effect: Effect.Effect<A, E, WorkflowEngine.WorkflowEngine>) =>
    Effect.provideService(effect, WorkflowEngine.WorkflowEngine, engine)

  const found = (automationId: string) =>
    Effect.flatMap(store.get(automationId), (r) => r === undefined ? Effect.fail(new AutomationNotFound({ automationId })) : Effect.succeed(r))

  const start = (definition: Definition): Effect.Effect<Status, StartError> =>
    Effect.gen(function*() {
      if (typeof definition.automationId !== "string" || definition.automationId.length === 0 || definition.automationId.length > 200) {
        const rule = "automationId must be a non-empty string of at most 200 characters"
        return yield* new InvalidInput({ path: "automationId", rule, issues: [{ path: "automationId", rule }] })
      }
      const existing = yield* store.get(definition.automationId)
      // Known already: its workflow runs (or has run) on its own plan; nothing is signed again.
      if (existing !== undefined) return toStatus(existing)
      const wallet = yield* decode(WalletData, "wallet")(definition.wallet)
      const pin = Redacted.isRedacted(definition.pin) ? definition.pin : Redacted.make(definition.pin)
      const nowMillis = yield* Clock.currentTimeMillis
      const due = yield* dueTimes(definition.schedule, nowMillis)
      const steps: Array<ReadonlyArray<Call>> = []
      for (let k = 0; k < due.length; k++) {
        const raw = yield* Effect.try({
          try: () => definition.calls(k),
          catch: (error) => {
            const rule = `calls(${k}) threw: ${error instanceof Error ? error.message : String(error)}`
            return new InvalidInput({ path: `calls(${k})`, rule, issues: [{ path: `calls(${k})`, rule }] })
          }
        })
        steps.push(yield* decode(Schema.Array(Call).pipe(Schema.minItems(1)), `calls(${k})`)(raw))
      }
      const rpc = yield* StarknetRpc
      const block = yield* Transactions.retryTransient(rpc.latestBlock, options.retry)
      const margin = Duration.toSeconds(Duration.decode(definition.margin ?? DEFAULT_MARGIN))
      const spanSeconds = Math.ceil((due[due.length - 1]! - nowMillis) / 1000)
      const validUntil = block.timestamp + spanSeconds + Math.ceil(margin)
      const session = yield* Sessions.createSessionKey({ encryptKey: options.serverKey, durationSeconds: validUntil - Math.floor(nowMillis / 1000) })
      const config = yield* decode(SessionConfig, "sessionConfig")({
        sessionPublicKey: session.publicKey,
        validUntil,
        maxCalls: due.length,
        allowedEntrypoints: allowList(steps)
      })
      const registerBefore = block.timestamp + REGISTER_WINDOW_SECONDS
      const policyInputs: ReadonlyArray<SpendingPolicy> = definition.spendingPolicy === undefined
        ? []
        : Array.isArray(definition.spendingPolicy)
        ? definition.spendingPolicy
        : [definition.spendingPolicy as SpendingPolicy]
      const policies = yield* Effect.forEach(policyInputs, (policy, i) =>
        Sessions.spendingPolicyCalldata(
          { ...policy, sessionPublicKey: session.publicKey },
          // The policy's window starts when the registration is included: at the latest at its end.
          Effect.succeed(registerBefore + CLOCK_TOLERANCE_SECONDS)
        ).pipe(Effect.mapError((error) => policyError(error, policyInputs.length > 1 ? `spendingPolicy.${i}` : "spendingPolicy"))))
      const register = yield* presign(
        wallet,
        pin,
        [
          { contractAddress: wallet.publicKey, entrypoint: "add_or_update_session_key", calldata: addOrUpdateSessionKeyCalldata(config) },
          // The policies in the same owner-signed outside execution: the session is never registered unbounded.
          ...policies.map((p) => ({ contractAddress: wallet.publicKey, entrypoint: "set_spending_policy", calldata: p.calldata }))
        ],
        { now: block.timestamp, executeBefore: registerBefore },
        options.retry
      )
      const revoke = yield* presign(
        wallet,
        pin,
        [{ contractAddress: wallet.publicKey, entrypoint: "revoke_session_key", calldata: sessionKeyCalldata(config.sessionPublicKey) }],
        { now: block.timestamp, executeBefore: validUntil },
        options.retry
      )
      const payload = {
        automationId: definition.automationId,
        wallet: { publicKey: wallet.publicKey, encryptedPrivateKey: wallet.encryptedPrivateKey },
        session: { publicKey: session.publicKey, encryptedPrivateKey: session.encryptedPrivateKey, validUntil },
        steps: steps.map((calls, k) => ({
          dueAt: due[k]!,
          calls: calls.map((c) => ({ contractAddress: c.contractAddress, entrypoint: c.entrypoint, calldata: [...c.calldata] }))
        })),
        register,
        revoke,
        ...(policies.length > 0
          ? {
            policies: policies.map((p) => ({
              token: p.token,
              maxPerCall: String(p.maxPerCall),
              maxPerWindow: String(p.maxPerWindow),
              windowSeconds: String(p.windowSeconds)
            }))
          }
          : {})
      }
      const executionId = yield* withEngine(AutomationWorkflow.execute(payload, { discard: true }))
      // The workflow records itself too (first activity), so a start that dies here is still seen; whichever
      // writes first, the record is the same.
      yield* store.create(recordOf(payload, executionId))
      return toStatus((yield* found(definition.automationId).pipe(Effect.orDie)))
    }).pipe(Effect.provide(context), Effect.withSpan("Automations.start", { attributes: { automationId: definition.automationId } }))

  const status = (automationId: string) => Effect.map(found(automationId), toStatus)

  const cancel = (automationId: string) =>
    Effect.gen(function*() {
      const record = yield* found(automationId)
      yield* store.update(automationId, { cancelRequested: true })
      const token = DurableDeferred.tokenFromExecutionId(CancelRequested, { workflow: AutomationWorkflow, executionId: record.executionId })
      yield* withEngine(DurableDeferred.done(CancelRequested, { token, exit: Exit.void }))
    })

  const awaitEnd = (automationId: string) =>
    Effect.gen(function*() {
      const record = yield* found(automationId)
      return yield* withEngine(AutomationWorkflow.poll(record.executionId)).pipe(
        Effect.flatMap((result) =>
          result !== undefined && result._tag === "Complete" && Exit.isSuccess(result.exit)
            ? Effect.succeed(result.exit.value)
            : Effect.fail("pending" as const)
        ),
        Effect.retry(Schedule.spaced(Duration.millis(options.pollMillis))),
        Effect.orDie
      )
    })

  const notify = (txHash: string) =>
    Effect.gen(function*() {
      const waiter = yield* store.waiterOf(txHash)
      if (waiter === undefined) return false
      const deferred = DurableDeferred.make(waiter.deferred)
      const token = DurableDeferred.tokenFromExecutionId(deferred, { workflow: AutomationWorkflow, executionId: waiter.executionId })
      yield* withEngine(DurableDeferred.done(deferred, { token, exit: Exit.void }))
      return true
    })

  return Automations.of({ start, status, cancel, await: awaitEnd, notify })
})

const engineOptions = (options: Options) =>
  Layer.succeed(EngineOptions, {
    serverKey: options.serverKey,
    pollMillis: Math.max(1, Duration.toMillis(Duration.decode(options.pollInterval ?? "2 seconds"))),
    polls: Math.max(
      1,
      Math.ceil(
        Duration.toMillis(Duration.decode(options.inclusionTimeout ?? "10 minutes")) /
          Math.max(1, Duration.toMillis(Duration.decode(options.pollInterval ?? "2 seconds")))
      )
    ),
    retry: options.retry ?? Transactions.defaultRetry
  })

/**
 * The automations engine on the `WorkflowEngine` given (in memory, or `@effect/cluster` on SQL): registers the
 * workflow and provides `Automations`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<Automations, never, WorkflowEngine.WorkflowEngine | Store | Crypto | Paymaster | StarknetRpc | Sessions.Ledger> =>
  Layer.effect(Automations, make).pipe(Layer.provideMerge(workflowLayer), Layer.provide(engineOptions(options)))

/**
 * `layer` with the server key from `AUTOMATION_SERVER_KEY`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "serverKey"> = {}
) => Layer.unwrapEffect(Effect.map(Config.redacted("AUTOMATION_SERVER_KEY"), (serverKey) => layer({ ...options, serverKey })))

/**
 * The in-memory workflow engine and store, for tests and one-process use (nothing survives a restart).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerEngineMemory: Layer.Layer<WorkflowEngine.WorkflowEngine> = WorkflowEngine.layerMemory

/**
 * @since 0.1.0
 * @category accessors
 */
export const start = (definition: Definition) => Effect.flatMap(Automations, (a) => a.start(definition))
/**
 * @since 0.1.0
 * @category accessors
 */
export const status = (automationId: string) => Effect.flatMap(Automations, (a) => a.status(automationId))
/**
 * @since 0.1.0
 * @category accessors
 */
export const cancel = (automationId: string) => Effect.flatMap(Automations, (a) => a.cancel(automationId))
/**
 * @since 0.1.0
 * @category accessors
 */
export const awaitEnd = (automationId: string) => Effect.flatMap(Automations, (a) => a.await(automationId))


// ---------------------------------------------------------------------------------------------------------------
// Persistence
// ---------------------------------------------------------------------------------------------------------------

export {
  /**
   * PGlite on a data directory, served on 127.0.0.1 (a free port) by `@electric-sql/pglite-socket`, with an
   * `@effect/sql-pg` pool on it: the embedded database.
   *
   * @since 0.1.0
   * @category layers
   */
  layerPglite,
  /**
   * A real Postgres through `@effect/sql-pg`.
   *
   * @since 0.1.0
   * @category layers
   */
  layerPostgres,
  /**
   * `DATABASE_URL` when set, else PGlite in `AUTOMATION_DATA_DIR` (default `./.automations`).
   *
   * @since 0.1.0
   * @category layers
   */
  layerFromConfig as layerDatabaseConfig,
  /**
   * The `@effect/cluster` workflow engine on the SQL database, one runner: durable across restarts.
   *
   * @since 0.1.0
   * @category layers
   */
  layerEngineSingle,
  /**
   * The `@effect/cluster` workflow engine as one of several runners on one Postgres (`SqlMessageStorage`,
   * `SqlRunnerStorage`, runners talking over sockets at `runnerAddress`): each automation is owned by the runner
   * holding its shard, and moves to another runner when that one dies. Needs `@effect/platform-node`.
   *
   * @since 0.1.0
   * @category layers
   */
  layerEngineCluster,
  /**
   * Where a runner listens, and how the other runners reach it.
   *
   * @since 0.1.0
   * @category models
   */
  type RunnerAddressInput
} from "./internal/automations/database.js"

export {
  /**
   * The `Ledger` (idempotency records, reservations) in the SQL database, shared by every instance on it.
   *
   * @since 0.1.0
   * @category layers
   */
  layerSql as layerLedgerSql,
  /**
   * Builds the SQL `Ledger`.
   *
   * @since 0.1.0
   * @category constructors
   */
  makeSql as makeLedgerSql
} from "./internal/automations/ledger-sql.js"

// ---------------------------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------------------------

/**
 * Options of the webhook receiver.
 *
 * @since 0.1.0
 * @category models
 */
export type WebhookOptions = Webhook.WebhookOptions

/**
 * A signed webhook receiver (`HttpRouter`): `POST /webhooks/transactions` with `x-signature: sha256=<hex
 * HMAC-SHA256 of the raw body>` and the body `{ id, transactionHash, timestamp }` resumes at once the automation
 * waiting on that transaction. Unsigned or wrongly signed (401), malformed (400), stale or replayed (409)
 * notifications are refused. Polling stays the fallback.
 *
 * @since 0.1.0
 * @category webhooks
 */
export const webhookRouter = (options: WebhookOptions) =>
  Webhook.router(options, (txHash) => Effect.flatMap(Automations, (a) => a.notify(txHash)))

/**
 * Signs a notification body as a sender does (for senders written with this library, and tests).
 *
 * @since 0.1.0
 * @category webhooks
 */
export const signWebhook: (secret: Redacted.Redacted<string>, body: string | Uint8Array) => string = Webhook.sign
