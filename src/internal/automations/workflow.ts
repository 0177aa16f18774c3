/**
 * The durable workflow behind every automation, top-down: the registration signed at start, sent once and followed
 * until final (its window awaited when it was not final in time), read back with its spending policies; each step
 * when due; the revoke; the outcome, a step that was not final in time decided once the session can no longer run
 * it. Activity names are the keys of the engine's journal: a run resumed after a restart finds its work by them.
 */
import { Activity, Workflow } from "@effect/workflow"
import { Clock, Effect, Schema } from "effect"
import * as Metrics from "../../Metrics.js"
import * as Sessions from "../../Sessions.js"
import { sendPresigned } from "../payments/presign.js"
import { allowList, Payload } from "./plan.js"
import { EngineOptions } from "./settings.js"
import { type Patch, recordOf, storeOp } from "./store.js"
import { awaitRegistrationWindow, durableWait, followTx, latestBlock, sessionState, settleStep, whyNot } from "./waits.js"

/** How the automation ended (`Automations.Outcome`). */
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
export type Outcome = typeof Outcome.Type

/** The durable workflow behind every automation (`Automations.AutomationWorkflow`). */
export const AutomationWorkflow = Workflow.make({
  name: "starknet-session-keys/Automation",
  payload: Payload,
  idempotencyKey: (payload) => payload.automationId,
  success: Outcome
})

const StepResult = Schema.Union(
  Schema.TaggedStruct("Sent", { txHash: Schema.String }),
  Schema.TaggedStruct("Refused", { reason: Schema.String, tag: Schema.optional(Schema.String) })
)

const reasonOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? `${(error as { _tag?: string })._tag ?? "Error"}: ${error.message}`
    : String(error)

/** One run of the workflow: its plan and where the engine runs it. */
interface Run {
  readonly payload: Payload
  readonly executionId: string
  readonly id: string
  readonly wallet: string
  /** The number of steps. */
  readonly N: number
}

/** A step whose transaction was not final within the inclusion timeout: decided after the revoke. */
type Unsettled = { readonly k: number; readonly txHash: string } | undefined

const setState = (run: Run, name: string, patch: Patch) =>
  Activity.make({ name, execute: storeOp((store) => store.update(run.id, patch)) })

const end = (run: Run, outcome: Outcome) =>
  setState(run, "end", { state: outcome.state, ...(outcome.error !== undefined ? { error: outcome.error } : {}) }).pipe(Effect.as(outcome))

export const workflowLayer = AutomationWorkflow.toLayer((payload, executionId) =>
  Effect.gen(function*() {
    const run: Run = { payload, executionId, id: payload.automationId, wallet: payload.wallet.publicKey, N: payload.steps.length }
    yield* Activity.make({ name: "record", execute: storeOp((store) => store.create(recordOf(payload, executionId))).pipe(Effect.asVoid) })
    const failed = yield* register(run)
    if (failed !== undefined) return failed
    const unset = yield* policiesUnset(run)
    const { outcome, unsettled } = yield* runSteps(
      run,
      unset.length === 0 ? undefined : { state: "failed", stepsDone: 0, error: `the spending policy of ${unset.join(", ")} is not set as planned` }
    )
    return yield* revoke(run, outcome, unsettled)
  })
)

/**
 * 1. The owner-signed registration, signed at start, is sent once (its nonce refuses a second copy), then waited for
 * through the durable clock and read back. The outcome, ended, when the session is not registered as planned.
 */
const register = (run: Run) =>
  Effect.gen(function*() {
    const options = yield* EngineOptions
    const { payload, wallet } = run
    const registration = yield* Activity.make({
      name: "register/send",
      success: Schema.Union(StepResult, Schema.TaggedStruct("Duplicate", {})),
      execute: sendPresigned(wallet as never, payload.register, options.retry).pipe(
        Effect.tap((sent) => sent._tag === "Sent" ? storeOp((store) => store.update(run.id, { registerTxHash: sent.txHash })) : Effect.void),
        Effect.catchAll((error) => Effect.succeed({ _tag: "Refused" as const, reason: reasonOf(error) }))
      )
    })
    if (registration._tag === "Refused") return yield* end(run, { state: "failed", stepsDone: 0, error: `registration refused: ${registration.reason}` })
    if (registration._tag === "Sent") {
      const failed = yield* awaitRegistration(run, registration.txHash)
      if (failed !== undefined) return failed
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
      return yield* end(run, { state: "failed", stepsDone: 0, error: "the session is not registered as planned" })
    }
    return undefined
  })

/** 2. The registration sent, followed until final. The outcome, ended, when it did not register the session. */
const awaitRegistration = (run: Run, txHash: string) =>
  Effect.gen(function*() {
    const included = yield* followTx(run.id, run.executionId, "register", txHash)
    if (included._tag === "Reverted") return yield* end(run, { state: "failed", stepsDone: 0, error: `registration ${included.reason}` })
    if (included._tag === "Unresolved") {
      // Not final in time, it can still land (leaving a session registered that nothing would revoke): wait until
      // the chain shows it registered, or its window over (it can no longer run).
      const decided = yield* awaitRegistrationWindow(run.wallet, run.payload.session.publicKey, run.payload.register.executeBefore)
      if (decided === "unknown") {
        return yield* end(run, {
          state: "failed",
          stepsDone: 0,
          error: `registration ${txHash}: outcome unknown: not final, and its window is not over on chain`,
          unresolvedTxHash: txHash
        })
      }
      if (decided === "closed") {
        return yield* end(run, {
          state: "failed",
          stepsDone: 0,
          error: `registration ${txHash} not included within its window: the session was never registered`
        })
      }
    }
    return undefined
  })

/**
 * The tokens whose spending policy the account did not set as planned. The registration's calls run non-atomically:
 * a policy the account did not set (no spending extension) leaves the session registered without its bound, so the
 * plan does not run and the session is revoked.
 */
const policiesUnset = (run: Run) =>
  Effect.gen(function*() {
    const options = yield* EngineOptions
    const { payload, wallet } = run
    if (payload.policies === undefined || payload.policies.length === 0) return []
    return yield* Activity.make({
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
  })

/**
 * 3. The steps, each when due, unless `failed` already ended the plan: until one fails, a cancel, or the last. A
 * step's transaction not final within the inclusion timeout is `unsettled`, decided after the revoke.
 */
const runSteps = (run: Run, failed: Outcome | undefined) =>
  Effect.gen(function*() {
    const { payload, id, N } = run
    let stepsDone = 0
    let unsettled: Unsettled
    let outcome: Outcome | undefined = failed
    if (outcome === undefined) yield* setState(run, "running", { state: "running" })
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
      const included = yield* followTx(id, run.executionId, `step/${k}`, sent.txHash)
      if (included._tag !== "Succeeded") {
        if (included._tag === "Unresolved") unsettled = { k, txHash: sent.txHash }
        yield* Metrics.automationStep(included._tag === "Unresolved" ? "unknown" : "failed")
        outcome = { state: "failed", stepsDone, error: `step ${k + 1}/${N} ${sent.txHash}: ${whyNot(included)}` }
        break
      }
      const ran = yield* checkStepCalls(run, k)
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
    return { outcome, unsettled }
  })

/**
 * Step `k`: one execute under the idempotency key `automationId:k`. Replayed after a crash, it re-sends the payload
 * recorded for that key (the chain runs it at most once). An outcome not known yet is looked at again on the
 * durable clock, with the same key, until the chain decides.
 */
const executeStep = (payload: Payload, k: number) =>
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

/**
 * SUCCEEDED does not prove the step paid: the account catches a failing call (its funds gone since the simulation,
 * say). The payment's calls are checked; one that moved nothing fails the step.
 */
const checkStepCalls = (run: Run, k: number) =>
  Effect.gen(function*() {
    const options = yield* EngineOptions
    return yield* Activity.make({
      name: `step/${k}/calls`,
      success: Schema.Union(Schema.TaggedStruct("Ran", {}), Schema.TaggedStruct("CallFailed", { reason: Schema.String })),
      execute: Sessions.resolve({ wallet: run.wallet, idempotencyKey: `${run.id}:${k}` }, undefined, { retry: options.retry }).pipe(
        Effect.as({ _tag: "Ran" as const }),
        Effect.catchTag("CallFailed", (e) => Effect.succeed({ _tag: "CallFailed" as const, reason: e.message })),
        // A payment the chain executed whose calls could not be read stays counted, as its status says.
        Effect.catchAll((e) => Effect.as(Effect.logWarning("the calls of an executed step could not be checked", e), { _tag: "Ran" as const }))
      )
    })
  })

/** 4. The presigned revoke, then wait until the chain shows the session gone; the outcome, ended. */
const revoke = (run: Run, outcome: Outcome, unsettled: Unsettled) =>
  Effect.gen(function*() {
    const options = yield* EngineOptions
    const { payload, wallet, id } = run
    yield* setState(run, "revoking", { state: "revoking" })
    const revoked = yield* Activity.make({
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
    if (revoked._tag === "Late") return yield* finish(run, unsettled, { ...outcome, state: outcome.state === "completed" ? "expired" : outcome.state })
    if (revoked._tag === "Refused") return yield* finish(run, unsettled, { ...outcome, state: "failed" }, `revoke refused: ${revoked.reason}`)
    if (revoked._tag === "Sent") {
      const included = yield* followTx(id, run.executionId, "revoke", revoked.txHash)
      if (included._tag !== "Succeeded") return yield* finish(run, unsettled, { ...outcome, state: "failed" }, `revoke ${whyNot(included)}`)
    }
    return yield* finish(run, unsettled, outcome)
  })

/**
 * The outcome, ended. A step not final in time is decided once the session can no longer run it (revoked, or
 * expired): its status then says whether it ran. While the session could still run it, its outcome is unknown, and
 * said so.
 */
const finish = (run: Run, unsettled: Unsettled, o: Outcome, revokeError?: string) =>
  Effect.gen(function*() {
    const options = yield* EngineOptions
    const errors = (stepError: string | undefined) => [stepError, revokeError].filter(Boolean).join("; ") || undefined
    if (unsettled === undefined) {
      const error = errors(o.error)
      return yield* end(run, { ...o, ...(error !== undefined ? { error } : {}) })
    }
    const { k, txHash } = unsettled
    const label = `step ${k + 1}/${run.N} ${txHash}`
    const settled = yield* Activity.make({
      name: `step/${k}/settle`,
      success: Schema.Literal("executed", "not-executed", "unknown"),
      execute: settleStep(run.wallet, run.payload.session.publicKey, txHash, options.retry)
    })
    if (settled === "executed") {
      yield* Activity.make({
        name: `step/${k}/record`,
        execute: Effect.flatMap(Clock.currentTimeMillis, (at) => storeOp((store) => store.recordStep(run.id, { step: k, txHash, at })))
      })
      return yield* end(run, { ...o, stepsDone: o.stepsDone + 1, error: errors(`${label}: included after the inclusion timeout; the plan stopped there`)! })
    }
    if (settled === "not-executed") {
      return yield* end(run, { ...o, error: errors(`${label}: not included within the inclusion timeout, and it can no longer run (the session is revoked or expired)`)! })
    }
    return yield* end(run, {
      ...o,
      error: errors(`${label}: outcome unknown: not final within the inclusion timeout, and the session could still run it`)!,
      unresolvedTxHash: txHash
    })
  })
