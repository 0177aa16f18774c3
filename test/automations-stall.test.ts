/**
 * A workflow woken while its `run` request is claimed by a storage read that skipped it (Effect-TS/effect#8312, in
 * @effect/cluster 0.60.2 with @effect/workflow 0.19.1): the engine has cleared the run's Suspended reply to replay it,
 * a read in progress returned the row and skipped it (the request id was still in the runner's in-memory set of
 * requests just replied to), leaving it claimed. The cluster reads a claimed row again only after 10 minutes; the
 * engine layers of this library release claims older than `claimTimeout`, so the workflow goes on within seconds.
 *
 * The race itself needs a storage read to start between two commits of other fibers; this test sets the engine's
 * rows to the state the race leaves (the run's reply deleted, the row unprocessed and claimed now) while the
 * workflow sleeps on its durable clock, then lets the clock fire.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { DurableClock, Workflow, WorkflowEngine } from "@effect/workflow"
import { Effect, Layer, Redacted, Schedule, Schema } from "effect"
import * as Automations from "starknet-session-keys/automations"
import { rmSync } from "node:fs"
import { DATABASE_URL } from "./helpers/databases.js"
import { freshDataDir } from "./helpers/processes.js"

const Sleeper = Workflow.make({
  name: "test/Sleeper",
  payload: { id: Schema.String },
  idempotencyKey: (p) => p.id,
  success: Schema.Literal("woke")
})

const SleeperLayer = Sleeper.toLayer(() =>
  DurableClock.sleep({ name: "nap", duration: "8 seconds", inMemoryThreshold: 0 }).pipe(Effect.as("woke" as const))
)

/** PGlite in a copy of the template data directory (initdb takes up to a minute on a busy machine), removed after. */
const freshPglite = Layer.unwrapScoped(
  Effect.map(
    Effect.acquireRelease(Effect.promise(() => freshDataDir()), (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))),
    (dataDir) => Automations.layerPglite({ dataDir })
  )
)

/** A Postgres database of its own, dropped after. */
const freshPostgres = Layer.unwrapScoped(Effect.gen(function*() {
  const admin = (query: string) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(query)).pipe(
      Effect.provide(Automations.layerPostgres({ url: Redacted.make(DATABASE_URL!), maxConnections: 2 })),
      Effect.scoped,
      Effect.orDie
    )
  const name = `ssk_stall_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`
  yield* Effect.acquireRelease(admin(`CREATE DATABASE ${name}`), () => Effect.ignore(admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)))
  const url = new URL(DATABASE_URL!)
  url.pathname = `/${name}`
  return Automations.layerPostgres({ url: Redacted.make(url.toString()) })
}))

/** Waits until `check` answers a value, looking every 100 ms, at most `seconds`; fails naming `what`. */
const waitFor = <A>(check: Effect.Effect<A | undefined>, what: string, seconds: number) =>
  check.pipe(
    Effect.filterOrFail((a): a is A => a !== undefined, () => "pending" as const),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(`${seconds} seconds`))),
    Effect.mapError(() => new Error(`not within ${seconds} s: ${what}`))
  )

const scenario = (database: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const engine = yield* WorkflowEngine.WorkflowEngine
    const withEngine = <A, E>(e: Effect.Effect<A, E, WorkflowEngine.WorkflowEngine>) => Effect.provideService(e, WorkflowEngine.WorkflowEngine, engine)
    const executionId = yield* withEngine(Sleeper.execute({ id: "one" }, { discard: true }))
    // Asleep: its run answered (Suspended), its clock is due 8 seconds after it started.
    const run = yield* waitFor(
      sql<{ readonly id: string; readonly processed: boolean }>`
        SELECT id::text AS id, processed FROM cluster_messages WHERE entity_id = ${executionId} AND tag = 'run'
      `.pipe(Effect.orDie, Effect.map((rows) => rows[0]?.processed === true ? rows : undefined)),
      "the workflow suspended on its durable clock",
      30
    )
    const clock = yield* sql<{ readonly n: number }>`
      SELECT count(*)::int AS n FROM cluster_messages WHERE entity_id = ${executionId} AND tag = 'deferred'
    `
    expect(clock[0]!.n, "the clock has not fired yet").toBe(0)
    // The state the race leaves: the run's reply cleared for the replay, and the row claimed by a read that skipped it.
    yield* sql.withTransaction(Effect.all([
      sql`DELETE FROM cluster_replies WHERE request_id = ${run[0]!.id}::bigint`,
      sql`UPDATE cluster_messages SET processed = FALSE, last_reply_id = NULL, last_read = NOW() WHERE id = ${run[0]!.id}::bigint`
    ]))
    // The clock fires (its deferred's handler finds no Suspended reply to reset): the workflow must still finish.
    const result = yield* waitFor(
      withEngine(Sleeper.poll(executionId)).pipe(Effect.map((r) => r?._tag === "Complete" ? r : undefined)),
      "the woken workflow, its run claimed and skipped, to complete",
      20
    )
    expect(result.exit._tag === "Success" && result.exit.value).toBe("woke")
  }).pipe(
    Effect.provide(SleeperLayer.pipe(Layer.provideMerge(Automations.layerEngineSingle({ shardingConfig: { entityMessagePollInterval: "250 millis" } })))),
    Effect.provide(database),
    Effect.scoped
  )

describe("a woken workflow whose run a storage read claimed and skipped (Effect-TS/effect#8312)", () => {
  it.live("on PGlite: it completes within seconds, not after the cluster's 10-minute claim", () => scenario(freshPglite), 120_000)
  it.live.skipIf(DATABASE_URL === undefined)("on Postgres: likewise", () => scenario(freshPostgres), 120_000)
})
