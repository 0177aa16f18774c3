/**
 * Automations started per second and steps executed per second on the embedded devnet (blocks every 50 ms of real
 * time), with the engine in memory, on PGlite (served on loopback) and, when DATABASE_URL is set, on Postgres (a
 * fresh database per run, dropped after).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Redacted } from "effect"
import { Crypto, Devnet, Sessions, STARKNET_CONTRACTS } from "starknet-session-keys"
import * as Automations from "starknet-session-keys/automations"

const AUTOMATIONS = Number(process.env["BENCH_AUTOMATIONS"] ?? 10)
const STEPS = 3
const PIN = "1234"

const transfer = (k: number) => [{
  contractAddress: STARKNET_CONTRACTS.USDC.contractAddress,
  entrypoint: "transfer",
  calldata: ["0x7e0c1e4", "0x" + (100 + k).toString(16), "0x0"]
}]

const measure = (engine: Layer.Layer<any, any, never>) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const wallets = yield* Effect.forEach(Array.from({ length: AUTOMATIONS }), () => devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } }))
    const t0 = performance.now()
    yield* Effect.forEach(wallets, (wallet, i) =>
      Automations.start({ automationId: `bench-${i}`, wallet, pin: PIN, calls: transfer, schedule: { every: "100 millis", times: STEPS } }), { concurrency: 4 })
    const started = performance.now()
    const outcomes = yield* Effect.forEach(wallets, (_, i) => Automations.awaitEnd(`bench-${i}`), { concurrency: "unbounded" })
    const done = performance.now()
    const steps = outcomes.reduce((n, o) => n + o.stepsDone, 0)
    return {
      startedPerSecond: (AUTOMATIONS / (started - t0)) * 1000,
      stepsPerSecond: (steps / (done - t0)) * 1000,
      completed: outcomes.filter((o) => o.state === "completed").length
    }
  }).pipe(
    Effect.provide(
      Automations.layer({ serverKey: Redacted.make("bench"), pollInterval: "50 millis" }).pipe(
        Layer.provide(engine),
        Layer.provideMerge(Layer.mergeAll(Devnet.layer({ blockTime: "50 millis" }), Crypto.layer))
      )
    )
  )

const sqlEngine = (database: Layer.Layer<SqlClient.SqlClient, any, never>) =>
  Layer.mergeAll(Automations.layerEngineSingle(), Automations.layerStoreSql(), Automations.layerLedgerSql()).pipe(Layer.provide(database))

export const run = async () => {
  const rows: Array<[string, { startedPerSecond: number; stepsPerSecond: number; completed: number }]> = []
  rows.push(["memory", await Effect.runPromise(measure(Layer.mergeAll(Automations.layerEngineMemory, Automations.layerStoreMemory, Sessions.layer)))])
  const dir = mkdtempSync(join(tmpdir(), "ssk-bench-"))
  try {
    rows.push(["PGlite", await Effect.runPromise(Effect.scoped(measure(sqlEngine(Automations.layerPglite({ dataDir: dir })))))])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const url = process.env["DATABASE_URL"]
  if (url !== undefined) {
    const name = `ssk_bench_${Date.now().toString(36)}`
    const admin = Automations.layerPostgres({ url: Redacted.make(url.replace(/\/[^/]*$/, "/postgres")) })
    const exec = (q: string) => Effect.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(q)).pipe(Effect.provide(admin), Effect.scoped))
    await exec(`CREATE DATABASE ${name}`)
    try {
      rows.push(["Postgres", await Effect.runPromise(Effect.scoped(measure(sqlEngine(Automations.layerPostgres({ url: Redacted.make(url.replace(/\/[^/]*$/, `/${name}`)) })))))])
    } finally {
      await exec(`DROP DATABASE ${name} WITH (FORCE)`).catch(() => undefined)
    }
  } else {
    console.log("DATABASE_URL is not set: Postgres left out")
  }
  console.log(`${AUTOMATIONS} automations of ${STEPS} steps every 100 ms, devnet blocks every 50 ms`)
  for (const [name, r] of rows) {
    console.log(`${name.padEnd(9)} started ${r.startedPerSecond.toFixed(1)}/s   steps ${r.stepsPerSecond.toFixed(1)}/s   completed ${r.completed}/${AUTOMATIONS}`)
  }
}
