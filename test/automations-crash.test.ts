/**
 * Crash tests with real processes: docs/examples/timeboxed-automation.ts against a devnet served from this process,
 * killed with SIGKILL, then run again with the same settings until it exits 0.
 *
 * - In the default suite: killed while step 2's submission has been carried out by the paymaster and its answer is
 *   held (the devnet's `holdNext` fault on `paymaster_executeTransaction`, the first two let through): the worker
 *   waits for that answer, so the kill lands at that point whatever the machine's load; the answer is released to a
 *   closed connection after the kill. The worker is the example bundled with esbuild and run on plain node (tsx's loader hooks double a start),
 *   on a PGlite data directory copied from a template (initdb is the slowest part of a first start), or on a fresh
 *   database of the Postgres at DATABASE_URL when set; the engine polls every 250 ms (at 100 ms PGlite's queries
 *   cost more CPU than the shorter waits saved) on a devnet closing a block every 200 ms.
 * - Opt-in (AUTOMATION_PROCESS_TESTS=1, 1 to 3 minutes): the example under tsx, as `npx tsx` runs it, killed after
 *   step 1, while a step is in flight, and after step 3.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schedule } from "effect"
import { Devnet, STARKNET_CONTRACTS } from "starknet-session-keys"
import * as Automations from "starknet-session-keys/automations"
import { serve } from "starknet-session-keys/devnet/server"
import { DATABASE_URL } from "./helpers/databases.js"
import { bundleWorker, freshDataDir, startWorker, type Worker } from "./helpers/processes.js"

const USDC = STARKNET_CONTRACTS.USDC.contractAddress
const RECIPIENT = "0x7e0c1e4"
const PIN = "246810"
const AMOUNT = 1_000n
const SCRIPT = "docs/examples/timeboxed-automation.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

/** Where a worker keeps its automations: a PGlite data directory, or a database of its own on DATABASE_URL. */
const database = (mode: "template" | "empty") =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      if (DATABASE_URL !== undefined) {
        const name = `ssk_crash_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`
        yield* postgresAdmin((sql) => sql.unsafe(`CREATE DATABASE ${name}`))
        const url = new URL(DATABASE_URL)
        url.pathname = `/${name}`
        return { env: { DATABASE_URL: url.toString() } as Record<string, string>, name, dir: undefined, layer: Automations.layerPostgres({ url: Redacted.make(url.toString()) }) }
      }
      const dir = mode === "template" ? yield* promise(() => freshDataDir()) : mkdtempSync(join(tmpdir(), "ssk-crash-"))
      return { env: { AUTOMATION_DATA_DIR: dir } as Record<string, string>, name: undefined, dir, layer: Automations.layerPglite({ dataDir: dir }) }
    }),
    (db) =>
      db.dir !== undefined
        ? Effect.sync(() => rmSync(db.dir, { recursive: true, force: true }))
        : postgresAdmin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`)).pipe(Effect.ignore)
  )

const postgresAdmin = <A>(f: (sql: import("@effect/sql").SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.flatMap(
    Effect.promise(() => import("@effect/sql")),
    ({ SqlClient }) => Effect.flatMap(SqlClient.SqlClient, f).pipe(
      Effect.provide(Automations.layerPostgres({ url: Redacted.make(DATABASE_URL!), maxConnections: 2 })),
      Effect.orDie
    )
  )

/** The store's record, read from the worker's database after it exited. */
const storedRecord = (layer: Layer.Layer<any, unknown>, automationId: string) =>
  Effect.flatMap(Automations.Store, (store) => store.get(automationId)).pipe(
    Effect.provide(Automations.layerStoreSql().pipe(Layer.provide(layer))),
    Effect.orDie
  )

const settings = (url: string, wallet: unknown, db: Record<string, string>, extra: Record<string, string>) => ({
  STARKNET_RPC_URL: url,
  PAYMASTER_URL: url,
  AUTOMATION_WALLET: JSON.stringify(wallet),
  AUTOMATION_PIN: PIN,
  AUTOMATION_RECIPIENT: RECIPIENT,
  AUTOMATION_AMOUNT: String(AMOUNT),
  AUTOMATION_SERVER_KEY: "crash-test server key",
  ...(process.env["WORKER_LOG"] !== undefined ? { AUTOMATION_DEBUG: "1" } : {}),
  ...db,
  ...extra
})

/** Waits, looking every 20 ms for at most 90 s, until `check` holds; fails naming what it waited for. */
const until = (check: Effect.Effect<boolean>, what: string) =>
  check.pipe(
    Effect.filterOrFail((ok) => ok, () => `not within 90 s: ${what}`),
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("90 seconds")))
  )

describe("timeboxed-automation.ts, killed while a submission's answer is held, restarted (real processes)", () => {
  it.live("the paymaster ran step 2 and holds its answer: kill -9 then, restart: exactly 3 transfers, 3 distinct hashes, revoked", () =>
    Effect.gen(function*() {
      const TIMES = 3
      const { url } = yield* serve({ port: 0 })
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
      const [db, script] = yield* Effect.all([database("template"), promise(() => bundleWorker(SCRIPT))], { concurrency: 2 })
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(script, { force: true })))
      const env = settings(url, wallet, db.env, {
        AUTOMATION_EVERY: "300 millis",
        AUTOMATION_TIMES: String(TIMES),
        AUTOMATION_ID: "lost-answer",
        AUTOMATION_POLL_INTERVAL: "250 millis"
      })
      const run = Effect.acquireRelease(Effect.sync(() => startWorker(script, env)), (w) => promise(() => w.kill9()))

      // 1. The registration and step 1 go through; step 2's submission (the third) is carried out by the paymaster
      //    and its answer held, the worker waiting for it: killed at that point, whatever the machine's load.
      yield* devnet.setFaults({ holdNext: 1, holdSkip: 2, faultMethods: ["paymaster_executeTransaction"] })
      const first = yield* run
      const session = (yield* promise(() => first.line(/^session 0x/))).split(" ")[1]!
      yield* until(
        Effect.zipWith(devnet.faults, devnet.transactions, (f, txs) => (f.holdNext ?? 0) === 0 && txs.length >= 3),
        "step 2's submission carried out by the paymaster, its answer held"
      )
      const lost = (yield* devnet.transactions)[2]!.hash
      yield* promise(() => first.kill9())
      // The held answer goes out to a closed connection.
      yield* devnet.clearFaults
      // It died without learning the outcome: step 2 is not recorded as done.
      expect(first.lines.filter((l) => l.startsWith("step 2/"))).toEqual([])

      // 2. Run again: step 2 is resolved from its recorded payment (the chain ran it), then the plan ends.
      const restartedAt = Date.now()
      const second = yield* run
      const code = yield* promise(() =>
        Promise.race([second.exited, new Promise<string>((resolve) => setTimeout(() => resolve("no exit within 90 s of the restart"), 90_000).unref())])
      )
      expect(code, `${second.lines.join("\n")}\n${second.stderr()}`).toBe(0)

      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(AMOUNT * BigInt(TIMES))
      expect((yield* devnet.sessionData(wallet.publicKey, session)).every((x) => x === 0n)).toBe(true)
      expect(second.lines.filter((l) => l.startsWith("session "))).toEqual([`session ${session}`])
      const printed = second.lines.filter((l) => l.startsWith("step "))
      expect(printed.map((l) => l.split(" ")[1])).toEqual(["1/3", "2/3", "3/3"])

      const record = (yield* storedRecord(db.layer, "lost-answer"))!
      // The takeover, as a figure (process start included): from the restart to step 2 recorded as done.
      console.log(`kill -9 then restart: step 2 recorded ${record.steps[1]!.at - restartedAt} ms after the restart`)
      expect(record.state).toBe("completed")
      expect(record.steps.map((s) => s.step)).toEqual([0, 1, 2])
      expect(new Set(record.steps.map((s) => BigInt(s.txHash))).size).toBe(TIMES)
      // Step 2's hash is the transaction whose answer was lost: found, not sent again.
      expect(BigInt(record.steps[1]!.txHash)).toBe(BigInt(lost))
      expect(record.steps.map((s) => s.txHash)).toEqual(printed.map((l) => l.split(" ")[2]))
      const txs = yield* devnet.transactions
      // The registration, three steps, the revoke.
      expect(txs.length).toBe(TIMES + 2)
      for (const s of record.steps) {
        expect(txs.find((t) => BigInt(t.hash) === BigInt(s.txHash))?.status.executionStatus).toBe("SUCCEEDED")
      }
    }).pipe(Effect.scoped, Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "200 millis" })))), 300_000)
})

describe("timeboxed-automation.ts given a wrong PIN", () => {
  it.live("prints one line naming the typed error (no stack frames) and exits 1, nothing sent", () =>
    Effect.gen(function*() {
      const { url } = yield* serve({ port: 0 })
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
      const [db, script] = yield* Effect.all([database("template"), promise(() => bundleWorker(SCRIPT))], { concurrency: 2 })
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(script, { force: true })))
      const env = settings(url, wallet, db.env, {
        AUTOMATION_PIN: "000000",
        AUTOMATION_EVERY: "300 millis",
        AUTOMATION_TIMES: "2",
        AUTOMATION_ID: "wrong-pin",
        AUTOMATION_POLL_INTERVAL: "250 millis"
      })
      const worker = yield* Effect.acquireRelease(Effect.sync(() => startWorker(script, env)), (w) => promise(() => w.kill9()))
      const code = yield* promise(() => worker.exited)
      expect(code).toBe(1)
      const printed = worker.stderr().trim().split("\n")
      expect(printed).toHaveLength(1)
      expect(printed[0]).toMatch(/^InvalidPin: /)
      expect(worker.stderr()).not.toMatch(/\bat /)
      expect(yield* devnet.transactions).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "200 millis" })))), 120_000)
})

const servesBlocksWithTxs = async (url: string) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "starknet_getBlockWithTxs", params: { block_id: { block_number: 0 } } })
  })
  const body = (await response.json()) as { readonly error?: { readonly code: number } }
  return body.error?.code !== -32601
}

// The scenario below starts the example four times under tsx, the first on an empty data directory (initdb): on a
// busy 2-core machine it takes 1 to 3 minutes, so it runs when AUTOMATION_PROCESS_TESTS=1.
const enabled = process.env["AUTOMATION_PROCESS_TESTS"] === "1"
if (!enabled) console.warn("AUTOMATION_PROCESS_TESTS is not 1: the longer crash test with real processes is skipped")

describe.skipIf(!enabled)("timeboxed-automation.ts under tsx, killed and restarted (real processes)", () => {
  it.live("kill -9 after step 1, while a step is in flight, after step 3: exactly 4 transfers, revoked, 4 distinct hashes", () =>
    Effect.gen(function*() {
      const TIMES = 4
      const { url } = yield* serve({ port: 0 })
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
      const db = yield* database("empty")
      const env = settings(url, wallet, db.env, {
        AUTOMATION_EVERY: "1 second",
        AUTOMATION_TIMES: String(TIMES),
        AUTOMATION_ID: "crash-test"
      })
      const run = Effect.acquireRelease(Effect.sync(() => startWorker(SCRIPT, env)), (w) => promise(() => w.kill9()))
      const outputs: Array<ReadonlyArray<string>> = []
      const finish = (w: Worker) => Effect.sync(() => void outputs.push([...w.lines]))

      // 1. Killed once step 1 is done.
      const first = yield* run
      const session = (yield* promise(() => first.line(/^session 0x/))).split(" ")[1]!
      yield* promise(() => first.line(/^step 1\/4 0x/))
      yield* promise(() => first.kill9())
      yield* finish(first)

      // 2. Killed while a step's transaction is in flight: sent, recorded, not yet included (the devnet holds it).
      //    Resolving it after the restart reads blocks with their transactions (starknet_getBlockWithTxs), which a
      //    served devnet without that method cannot answer: the payment then stays OutcomeUnknown (never sent twice)
      //    and this phase is left out.
      if (yield* promise(() => servesBlocksWithTxs(url))) {
        const second = yield* run
        yield* promise(() => second.line(/^step 2\/4 0x/))
        yield* devnet.setFaults({ holdBlocks: 3 })
        yield* devnet.transactions.pipe(
          Effect.filterOrFail((txs) => txs.some((t) => t.status.finalityStatus === "RECEIVED"), () => "not yet"),
          Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("90 seconds")))
        )
        yield* promise(() => second.kill9())
        yield* finish(second)
        yield* devnet.clearFaults
      } else {
        console.warn("the served devnet does not answer starknet_getBlockWithTxs: the kill during a step in flight is skipped")
      }

      // 3. Killed once step 3 is done.
      const third = yield* run
      yield* promise(() => third.line(/^step 3\/4 0x/))
      yield* promise(() => third.kill9())
      yield* finish(third)

      // 4. Runs to its end.
      const last = yield* run
      const code = yield* promise(() => last.exited)
      yield* finish(last)
      expect(code, last.stderr()).toBe(0)

      // Exactly N transfers, the session revoked.
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(AMOUNT * BigInt(TIMES))
      expect((yield* devnet.sessionData(wallet.publicKey, session)).every((x) => x === 0n)).toBe(true)
      // Every run names the same session; the last one prints every step once.
      for (const lines of outputs) expect(lines.filter((l) => l.startsWith("session "))).toEqual([`session ${session}`])
      const steps = outputs[outputs.length - 1]!.filter((l) => l.startsWith("step "))
      expect(steps.map((l) => l.split(" ")[1])).toEqual(["1/4", "2/4", "3/4", "4/4"])

      // The store shows N steps with distinct hashes, each one a succeeded transaction.
      const status = (yield* storedRecord(db.layer, "crash-test"))!
      expect(status.state).toBe("completed")
      expect(status.steps.map((s) => s.step)).toEqual([0, 1, 2, 3])
      expect(new Set(status.steps.map((s) => BigInt(s.txHash))).size).toBe(TIMES)
      expect(status.steps.map((s) => s.txHash)).toEqual(steps.map((l) => l.split(" ")[2]))
      const txs = yield* devnet.transactions
      for (const s of status.steps) {
        expect(txs.find((t) => BigInt(t.hash) === BigInt(s.txHash))?.status.executionStatus).toBe("SUCCEEDED")
      }
    }).pipe(Effect.scoped, Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "1 second" })))), 240_000)
})
