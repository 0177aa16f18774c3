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
 * This module holds what a user reads: the definitions, the service and its layers, the stores and engines, the
 * webhook. The machinery (the workflow and its waits, what `start` signs, the store, the database) is under
 * `internal/automations/`.
 *
 * @since 0.1.0
 */
import { WorkflowEngine } from "@effect/workflow"
import { Config, Context, type Duration, Effect, Layer, type Redacted, type Schedule } from "effect"
import type { Crypto } from "./Crypto.js"
import type { Schedule as PlanSchedule } from "./internal/automations/plan.js"
import { make } from "./internal/automations/service.js"
import { engineOptions } from "./internal/automations/settings.js"
import type { AutomationNotFound, State, Store, StoreError } from "./internal/automations/store.js"
import * as Webhook from "./internal/automations/webhook.js"
import { type Outcome, workflowLayer } from "./internal/automations/workflow.js"
import type { Paymaster } from "./Paymaster.js"
import type * as Sessions from "./Sessions.js"
import type { StarknetRpc } from "./StarknetRpc.js"

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
   * The automation asked for is not known to the store.
   *
   * @since 0.1.0
   * @category errors
   */
  AutomationNotFound,
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

export {
  /**
   * How the automation ended.
   *
   * @since 0.1.0
   * @category models
   */
  Outcome,
  /**
   * The durable workflow behind every automation (registered by `layer`).
   *
   * @since 0.1.0
   * @category workflows
   */
  AutomationWorkflow
} from "./internal/automations/workflow.js"

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
