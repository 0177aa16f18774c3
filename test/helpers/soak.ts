/**
 * A soak of docs/examples/timeboxed-automation.ts: consecutive runs of the example as a real process, each on a fresh
 * database (a PGlite data directory copied from the template, or a new database of the Postgres at DATABASE_URL),
 * against a devnet served from this process; each run has a deadline. Reports, per run, the worst lateness of a step:
 * the time from when it was due to when its transaction was recorded as included (the engine's wait, the send, the
 * block and the poll that saw it final).
 */
import { rmSync } from "node:fs"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Redacted } from "effect"
import { Devnet } from "starknet-session-keys"
import * as Automations from "starknet-session-keys/automations"
import { serve } from "starknet-session-keys/devnet/server"
import { bundleWorker, freshDataDir, startWorker } from "./processes.js"

export interface SoakOptions {
  readonly store: "pglite" | "postgres"
  readonly runs: number
  /** Postgres only: the server's URL (any database; runs use databases of their own, dropped after). */
  readonly databaseUrl?: string | undefined
  readonly times?: number | undefined
  readonly every?: string | undefined
  readonly pollInterval?: string | undefined
  /** How long one run may take, from its start to its exit. */
  readonly deadlineMs?: number | undefined
  readonly onRun?: (run: SoakRun) => void
}

export interface SoakRun {
  readonly index: number
  readonly ok: boolean
  readonly millis: number
  /** The worst (included − due) of the run's steps, in ms; undefined when the run did not finish. */
  readonly worstLatenessMs: number | undefined
  readonly error?: string | undefined
}

const PIN = "135790"
const SCRIPT = "docs/examples/timeboxed-automation.ts"

const adminLayer = (url: string) => Automations.layerPostgres({ url: Redacted.make(url), maxConnections: 2 })
const admin = (url: string, query: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(query)).pipe(Effect.provide(adminLayer(url)), Effect.scoped, Effect.orDie)

const withDatabase = (url: string, name: string) => {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

/** Where one run keeps its automations, removed after it. */
const database = (options: SoakOptions, index: number) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      if (options.store === "postgres") {
        const name = `ssk_soak_${Date.now().toString(36)}_${index}_${Math.floor(Math.random() * 1e6).toString(36)}`
        yield* admin(options.databaseUrl!, `CREATE DATABASE ${name}`)
        const url = withDatabase(options.databaseUrl!, name)
        const drop = process.env["SOAK_KEEP_DATABASES"] === "1"
          ? Effect.sync(() => console.log(`kept database ${name}`))
          : admin(options.databaseUrl!, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        const sessions = Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql<Record<string, unknown>>`SELECT pid, state, wait_event_type, wait_event, now() - xact_start AS xact_age, left(query, 160) AS query FROM pg_stat_activity WHERE datname = ${name}`).pipe(
            Effect.provide(adminLayer(options.databaseUrl!)),
            Effect.scoped,
            Effect.map((rows) => rows.map((r) => JSON.stringify(r)).join("\n")),
            Effect.orElseSucceed(() => "")
          )
        return { env: { DATABASE_URL: url } as Record<string, string | undefined>, drop, sessions, layer: Automations.layerPostgres({ url: Redacted.make(url) }) }
      }
      const dir = yield* Effect.promise(() => freshDataDir())
      return {
        env: { AUTOMATION_DATA_DIR: dir, DATABASE_URL: undefined } as Record<string, string | undefined>,
        drop: Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
        sessions: Effect.succeed(""),
        layer: Automations.layerPglite({ dataDir: dir })
      }
    }),
    (db) => Effect.ignore(db.drop)
  )

const oneRun = (options: SoakOptions, index: number, url: string, script: string) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
    const db = yield* database(options, index)
    const automationId = `soak-${index}`
    const times = options.times ?? 3
    const env = {
      STARKNET_RPC_URL: url,
      PAYMASTER_URL: url,
      AUTOMATION_WALLET: JSON.stringify(wallet),
      AUTOMATION_PIN: PIN,
      AUTOMATION_RECIPIENT: "0x50a4",
      AUTOMATION_AMOUNT: "1000",
      AUTOMATION_EVERY: options.every ?? "500 millis",
      AUTOMATION_TIMES: String(times),
      AUTOMATION_ID: automationId,
      AUTOMATION_SERVER_KEY: "soak server key",
      AUTOMATION_POLL_INTERVAL: options.pollInterval ?? "250 millis",
      ...db.env
    }
    const deadlineMs = options.deadlineMs ?? 60_000
    const t0 = performance.now()
    const worker = yield* Effect.acquireRelease(Effect.sync(() => startWorker(script, env)), (w) => Effect.promise(() => w.kill9()))
    const code = yield* Effect.promise(() =>
      Promise.race([worker.exited, new Promise<"deadline">((resolve) => setTimeout(() => resolve("deadline"), deadlineMs).unref())])
    )
    const millis = performance.now() - t0
    if (code !== 0) {
      const sessions = code === "deadline" && process.env["SOAK_DIAGNOSE"] === "1" ? yield* db.sessions : ""
      if (sessions !== "") console.log(`database sessions at the deadline of run ${index}:\n${sessions}`)
      yield* Effect.promise(() => worker.kill9())
      const lines = worker.lines.join(" | ")
      return {
        index,
        ok: false,
        millis,
        worstLatenessMs: undefined,
        error: code === "deadline"
          ? `run ${index} did not end within its deadline of ${deadlineMs} ms; stdout: ${lines}`
          : `run ${index} exited ${code}; stdout: ${lines}; stderr: ${worker.stderr().slice(-2000)}`
      } satisfies SoakRun
    }
    const record = yield* Effect.flatMap(Automations.Store, (store) => store.get(automationId)).pipe(
      Effect.provide(Automations.layerStoreSql().pipe(Layer.provide(db.layer))),
      Effect.orDie
    )
    const steps = record?.steps ?? []
    if (record === undefined || record.state !== "completed" || steps.length !== times) {
      return { index, ok: false, millis, worstLatenessMs: undefined, error: `run ${index}: ${record?.state} with ${steps.length}/${times} steps` } satisfies SoakRun
    }
    const worst = Math.max(...steps.map((s) => s.at - record.dueAt[s.step]!))
    return { index, ok: true, millis, worstLatenessMs: worst } satisfies SoakRun
  }).pipe(Effect.scoped)

/** Runs the soak; answers every run's figures (a run that failed or passed its deadline says so, the soak goes on). */
export const soak = (options: SoakOptions): Promise<ReadonlyArray<SoakRun>> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const script = yield* Effect.acquireRelease(Effect.promise(() => bundleWorker(SCRIPT)), (s) => Effect.sync(() => rmSync(s, { force: true })))
      const { url } = yield* serve({ port: 0 })
      const runs: Array<SoakRun> = []
      for (let i = 0; i < options.runs; i++) {
        const run = yield* oneRun(options, i, url, script)
        options.onRun?.(run)
        runs.push(run)
      }
      return runs
    }).pipe(Effect.scoped, Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "200 millis" }))))
  )
