/**
 * The `Automations` service over the workflow engine and the store: `start` (the payload signed, the workflow
 * started, the automation recorded), `status`, `cancel` (the workflow's cancel deferred completed), `await` (its
 * result polled) and `notify` (the wait on a transaction ended early, for webhooks).
 */
import { DurableDeferred, WorkflowEngine } from "@effect/workflow"
import { Duration, Effect, Exit, Schedule } from "effect"
import type { Automations, Definition, StartError, Status } from "../../Automations.js"
import type { Crypto } from "../../Crypto.js"
import { InvalidInput } from "../../Errors.js"
import type { Ledger } from "../../Ledger.js"
import type { Paymaster } from "../../Paymaster.js"
import type { StarknetRpc } from "../../StarknetRpc.js"
import { EngineOptions } from "./settings.js"
import { prepare } from "./start.js"
import { type AutomationRecord, AutomationNotFound, recordOf, Store } from "./store.js"
import { CancelRequested } from "./waits.js"
import { AutomationWorkflow } from "./workflow.js"

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

export const make = Effect.gen(function*() {
  const options = yield* EngineOptions
  const store = yield* Store
  const engine = yield* WorkflowEngine.WorkflowEngine
  const context = yield* Effect.context<Crypto | Paymaster | StarknetRpc | Ledger>()
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
      const payload = yield* prepare(definition, options)
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

  return { start, status, cancel, await: awaitEnd, notify } satisfies Automations["Type"]
})
