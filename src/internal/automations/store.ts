/**
 * What the automations engine records for people to read (status, steps done, hashes) and for webhooks to find
 * (which automation waits on which transaction). The workflow engine keeps its own journal; this is the view.
 */
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer, Ref, Schedule, Schema } from "effect"
import type { Payload } from "./plan.js"

/** The states of an automation. */
export const State = Schema.Literal("registering", "running", "revoking", "completed", "cancelled", "failed", "expired")
export type State = typeof State.Type

export interface StepRecord {
  readonly step: number
  readonly txHash: string
  readonly at: number
}

export interface AutomationRecord {
  readonly automationId: string
  readonly executionId: string
  readonly wallet: string
  readonly sessionPublicKey: string
  readonly dueAt: ReadonlyArray<number>
  readonly state: State
  readonly registerTxHash?: string | undefined
  readonly revokeTxHash?: string | undefined
  readonly error?: string | undefined
  readonly cancelRequested: boolean
  readonly steps: ReadonlyArray<StepRecord>
  readonly createdAt: number
}

export interface Patch {
  readonly state?: State
  readonly registerTxHash?: string
  readonly revokeTxHash?: string
  readonly error?: string
  readonly cancelRequested?: boolean
}

/** A wait a webhook can end early: the automation and the durable deferred its workflow awaits. */
export interface Waiter {
  readonly automationId: string
  readonly executionId: string
  readonly deferred: string
}

/**
 * The store could not be read or written.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", { reason: Schema.String }) {
  override get message() {
    return `automation store: ${this.reason}`
  }
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
 * Where automations are recorded. `layerMemory` for one process and tests, `layerSql` on the engine's database.
 *
 * @since 0.1.0
 * @category tags
 */
export class Store extends Context.Tag("starknet-session-keys/Automations/Store")<
  Store,
  {
    /** Records a new automation; false when one with that id exists already (it is left as it is). */
    readonly create: (record: Omit<AutomationRecord, "steps" | "cancelRequested">) => Effect.Effect<boolean, StoreError>
    readonly get: (automationId: string) => Effect.Effect<AutomationRecord | undefined, StoreError>
    readonly update: (automationId: string, patch: Patch) => Effect.Effect<void, StoreError>
    /** Records a step's included transaction; a step is recorded once (a second record of it is ignored). */
    readonly recordStep: (automationId: string, step: StepRecord) => Effect.Effect<void, StoreError>
    readonly addWaiter: (txHash: string, waiter: Waiter) => Effect.Effect<void, StoreError>
    readonly waiterOf: (txHash: string) => Effect.Effect<Waiter | undefined, StoreError>
    readonly removeWaiter: (txHash: string) => Effect.Effect<void, StoreError>
    readonly list: Effect.Effect<ReadonlyArray<string>, StoreError>
  }
>() {}

/** Store writes inside activities: retried, then a defect (the activity reruns after a restart). */
export const storeOp = <A>(f: (store: Store["Type"]) => Effect.Effect<A, StoreError>) =>
  Effect.flatMap(Store, f).pipe(
    Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.compose(Schedule.recurs(5)))),
    Effect.orDie
  )

/** The record of a plan just started: registering, no step done. */
export const recordOf = (payload: Payload, executionId: string) => ({
  automationId: payload.automationId,
  executionId,
  wallet: payload.wallet.publicKey,
  sessionPublicKey: payload.session.publicKey,
  dueAt: payload.steps.map((s) => s.dueAt),
  state: "registering" as const,
  createdAt: payload.steps[0]?.dueAt ?? 0
})

const hashKey = (txHash: string) => {
  try {
    return "0x" + BigInt(txHash).toString(16)
  } catch {
    return txHash
  }
}

/** A process-local store. */
export const makeMemory = Effect.gen(function*() {
  const records = yield* Ref.make(new Map<string, AutomationRecord>())
  const waiters = new Map<string, Waiter>()
  const modify = (id: string, f: (r: AutomationRecord) => AutomationRecord) =>
    Ref.update(records, (m) => {
      const r = m.get(id)
      if (r === undefined) return m
      const next = new Map(m)
      next.set(id, f(r))
      return next
    })
  return Store.of({
    create: (record) =>
      Ref.modify(records, (m) => {
        if (m.has(record.automationId)) return [false, m]
        const next = new Map(m)
        next.set(record.automationId, { ...record, steps: [], cancelRequested: false })
        return [true, next]
      }),
    get: (id) => Ref.get(records).pipe(Effect.map((m) => m.get(id))),
    update: (id, patch) => modify(id, (r) => ({ ...r, ...patch })),
    recordStep: (id, step) =>
      modify(id, (r) =>
        r.steps.some((s) => s.step === step.step)
          ? r
          : { ...r, steps: [...r.steps, step].sort((a, b) => a.step - b.step) }),
    addWaiter: (txHash, waiter) => Effect.sync(() => void waiters.set(hashKey(txHash), waiter)),
    waiterOf: (txHash) => Effect.sync(() => waiters.get(hashKey(txHash))),
    removeWaiter: (txHash) => Effect.sync(() => void waiters.delete(hashKey(txHash))),
    list: Ref.get(records).pipe(Effect.map((m) => [...m.keys()]))
  })
})

/** @since 0.1.0 */
export const layerMemory: Layer.Layer<Store> = Layer.effect(Store, makeMemory)

const fail = (error: unknown) => new StoreError({ reason: error instanceof Error ? error.message : String(error) })

/** Creates the tables once per database: concurrent starters take turns through an advisory lock. */
export const migrate = (prefix: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql`SELECT pg_advisory_xact_lock(hashtext(${prefix + "_migrate"}))`
      yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${prefix}_automations (
        automation_id TEXT PRIMARY KEY,
        execution_id TEXT NOT NULL,
        wallet TEXT NOT NULL,
        session_public_key TEXT NOT NULL,
        due_at TEXT NOT NULL,
        state TEXT NOT NULL,
        register_tx_hash TEXT,
        revoke_tx_hash TEXT,
        error TEXT,
        cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
        created_at BIGINT NOT NULL
      )`)
      yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${prefix}_automation_steps (
        automation_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (automation_id, step)
      )`)
      yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${prefix}_automation_waiters (
        tx_hash TEXT PRIMARY KEY,
        automation_id TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        deferred TEXT NOT NULL
      )`)
    }))
  })

interface Row {
  readonly automation_id: string
  readonly execution_id: string
  readonly wallet: string
  readonly session_public_key: string
  readonly due_at: string
  readonly state: State
  readonly register_tx_hash: string | null
  readonly revoke_tx_hash: string | null
  readonly error: string | null
  readonly cancel_requested: boolean
  readonly created_at: string | number
}

/** A store in the SQL database (Postgres or PGlite), shared by every instance on it. */
export const makeSql = (options: { readonly prefix?: string } = {}) =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? "ssk"
    const sql = yield* SqlClient.SqlClient
    yield* migrate(prefix).pipe(Effect.mapError(fail))
    const automations = sql(`${prefix}_automations`)
    const steps = sql(`${prefix}_automation_steps`)
    const waitersTable = sql(`${prefix}_automation_waiters`)
    const run = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.mapError(effect, fail)
    return Store.of({
      create: (r) =>
        run(sql<{ readonly automation_id: string }>`INSERT INTO ${automations} ${sql.insert({
          automation_id: r.automationId,
          execution_id: r.executionId,
          wallet: r.wallet,
          session_public_key: r.sessionPublicKey,
          due_at: JSON.stringify(r.dueAt),
          state: r.state,
          register_tx_hash: r.registerTxHash ?? null,
          created_at: r.createdAt
        })} ON CONFLICT (automation_id) DO NOTHING RETURNING automation_id`).pipe(Effect.map((rows) => rows.length === 1)),
      get: (id) =>
        run(Effect.gen(function*() {
          const rows = yield* sql<Row>`SELECT * FROM ${automations} WHERE automation_id = ${id}`
          const row = rows[0]
          if (row === undefined) return undefined
          const stepRows = yield* sql<{ readonly step: number; readonly tx_hash: string; readonly at: string | number }>`
            SELECT step, tx_hash, at FROM ${steps} WHERE automation_id = ${id} ORDER BY step`
          return {
            automationId: row.automation_id,
            executionId: row.execution_id,
            wallet: row.wallet,
            sessionPublicKey: row.session_public_key,
            dueAt: JSON.parse(row.due_at) as ReadonlyArray<number>,
            state: row.state,
            registerTxHash: row.register_tx_hash ?? undefined,
            revokeTxHash: row.revoke_tx_hash ?? undefined,
            error: row.error ?? undefined,
            cancelRequested: row.cancel_requested,
            createdAt: Number(row.created_at),
            steps: stepRows.map((s) => ({ step: Number(s.step), txHash: s.tx_hash, at: Number(s.at) }))
          } satisfies AutomationRecord
        })),
      update: (id, patch) => {
        const set: Record<string, unknown> = {}
        if (patch.state !== undefined) set["state"] = patch.state
        if (patch.registerTxHash !== undefined) set["register_tx_hash"] = patch.registerTxHash
        if (patch.revokeTxHash !== undefined) set["revoke_tx_hash"] = patch.revokeTxHash
        if (patch.error !== undefined) set["error"] = patch.error
        if (patch.cancelRequested !== undefined) set["cancel_requested"] = patch.cancelRequested
        if (Object.keys(set).length === 0) return Effect.void
        return run(sql`UPDATE ${automations} SET ${sql.update(set)} WHERE automation_id = ${id}`).pipe(Effect.asVoid)
      },
      recordStep: (id, s) =>
        run(sql`INSERT INTO ${steps} ${sql.insert({ automation_id: id, step: s.step, tx_hash: s.txHash, at: s.at })}
          ON CONFLICT (automation_id, step) DO NOTHING`).pipe(Effect.asVoid),
      addWaiter: (txHash, w) =>
        run(sql`INSERT INTO ${waitersTable} ${sql.insert({
          tx_hash: hashKey(txHash),
          automation_id: w.automationId,
          execution_id: w.executionId,
          deferred: w.deferred
        })} ON CONFLICT (tx_hash) DO UPDATE SET deferred = EXCLUDED.deferred`).pipe(Effect.asVoid),
      waiterOf: (txHash) =>
        run(sql<{ readonly automation_id: string; readonly execution_id: string; readonly deferred: string }>`
          SELECT automation_id, execution_id, deferred FROM ${waitersTable} WHERE tx_hash = ${hashKey(txHash)}`).pipe(
          Effect.map((rows) =>
            rows[0] === undefined
              ? undefined
              : { automationId: rows[0].automation_id, executionId: rows[0].execution_id, deferred: rows[0].deferred }
          )
        ),
      removeWaiter: (txHash) => run(sql`DELETE FROM ${waitersTable} WHERE tx_hash = ${hashKey(txHash)}`).pipe(Effect.asVoid),
      list: run(sql<{ readonly automation_id: string }>`SELECT automation_id FROM ${automations} ORDER BY created_at`).pipe(
        Effect.map((rows) => rows.map((r) => r.automation_id))
      )
    })
  })

/** @since 0.1.0 */
export const layerSql = (options: { readonly prefix?: string } = {}): Layer.Layer<Store, StoreError, SqlClient.SqlClient> =>
  Layer.effect(Store, makeSql(options))
