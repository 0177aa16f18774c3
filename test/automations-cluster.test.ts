/**
 * Scale-out with real processes: two workers, each an `@effect/cluster` runner of the automations engine on one
 * Postgres (DATABASE_URL), share 20 automations against a devnet served from this process. One worker is killed
 * with SIGKILL while automations it owns are half-way: they finish on the other, and every step of every
 * automation ran exactly once (each recipient's balance, the store's step records, the chain's transactions).
 */
import { createServer } from "node:net"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schedule } from "effect"
import { Devnet, STARKNET_CONTRACTS } from "starknet-session-keys"
import * as Automations from "starknet-session-keys/automations"
import { serve } from "starknet-session-keys/devnet/server"
import { DATABASE_URL, freshPrefix, postgresLayer } from "./helpers/databases.js"
import { startWorker, type Worker } from "./helpers/processes.js"

const USDC = STARKNET_CONTRACTS.USDC.contractAddress
const PIN = "135790"
const AMOUNT = 1_000n
const TIMES = Number(process.env["SCALE_OUT_TIMES"] ?? 3)
const COUNT = Number(process.env["SCALE_OUT_AUTOMATIONS"] ?? 20)
const SHARDS = 30
const SCRIPT = "test/helpers/cluster-worker.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port")))
    })
  })

/** What a worker's report says it owns now: `owns` lines not followed by `drops`. */
const ownedNow = (w: Worker) => {
  const owned = new Set<string>()
  for (const l of w.lines) {
    const [verb, id] = l.split(" ")
    if (verb === "owns") owned.add(id!)
    if (verb === "drops") owned.delete(id!)
  }
  return owned
}

// Two worker processes load the sources, join the cluster and run 20 automations of 3 steps: 40 to 80 seconds on
// a busy 2-core machine. Runs when AUTOMATION_PROCESS_TESTS=1 and DATABASE_URL names a Postgres.
const enabled = process.env["AUTOMATION_PROCESS_TESTS"] === "1" && DATABASE_URL !== undefined
if (!enabled) {
  console.warn("the scale-out test (two runners on one Postgres) needs AUTOMATION_PROCESS_TESTS=1 and DATABASE_URL: skipped")
}

describe.skipIf(!enabled)("two runners on one Postgres (real processes)", () => {
  it.live(`${COUNT} automations of ${TIMES} steps: each step once; kill -9 of one runner moves its automations to the other`, () =>
    Effect.gen(function*() {
      const started = Date.now()
      const prefix = freshPrefix("cluster")
      const { url } = yield* serve({ port: 0 })
      const devnet = yield* Devnet.Devnet
      const sql = yield* SqlClient.SqlClient
      // The shared database keeps nothing of the run.
      yield* Effect.addFinalizer(() =>
        sql<{ readonly tablename: string }>`SELECT tablename FROM pg_tables WHERE tablename LIKE ${prefix + "%"}`.pipe(
          Effect.flatMap((rows) => Effect.forEach(rows, (r) => sql.unsafe(`DROP TABLE IF EXISTS "${r.tablename}"`), { discard: true })),
          Effect.ignore
        )
      )
      const automations = yield* Effect.forEach(Array.from({ length: COUNT }, (_, i) => i), (i) =>
        Effect.map(devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } }), (wallet) => ({
          automationId: `scale-${i}`,
          wallet,
          recipient: "0x" + (0x7e0c1e400n + BigInt(i)).toString(16)
        })))
      const ids = automations.map((a) => a.automationId)
      const env = (port: number, start: typeof automations) => ({
        STARKNET_RPC_URL: url,
        PAYMASTER_URL: url,
        DATABASE_URL: DATABASE_URL!,
        CLUSTER_PREFIX: prefix,
        RUNNER_PORT: String(port),
        SHARDS: String(SHARDS),
        AUTOMATION_PIN: PIN,
        AUTOMATION_EVERY: "2 seconds",
        AUTOMATION_TIMES: String(TIMES),
        AUTOMATION_AMOUNT: String(AMOUNT),
        AUTOMATIONS_START: JSON.stringify(start),
        AUTOMATIONS_ALL: JSON.stringify(ids)
      })
      const run = (port: number, start: typeof automations) =>
        Effect.acquireRelease(Effect.sync(() => startWorker(SCRIPT, env(port, start))), (w) => promise(() => w.kill9()))
      const [portA, portB] = [yield* promise(freePort), yield* promise(freePort)]
      const a = yield* run(portA, automations.filter((_, i) => i % 2 === 0))
      const b = yield* run(portB, automations.filter((_, i) => i % 2 === 1))

      // Both runners hold shards, and between them all of them, before anything starts.
      yield* promise(() => Promise.all([a.line(/^started /, 120_000), b.line(/^started /, 120_000)]))
      const lastShards = (w: Worker) => Number([...w.lines].reverse().find((l) => l.startsWith("shards "))?.split(" ")[1] ?? 0)

      const store = yield* Effect.provide(Automations.Store, Automations.layerStoreSql({ prefix }))
      const records = Effect.forEach(ids, (id) => store.get(id))

      // 2. Kill A once an automation it owns has done a step and has steps left.
      const victims = yield* Effect.gen(function*() {
        if (a.child.exitCode !== null || b.child.exitCode !== null) {
          return yield* Effect.die(new Error(`a worker exited before the kill:\n${a.stderr()}\n${b.stderr()}`))
        }
        const owned = ownedNow(a)
        const rs = yield* records
        const halfway = rs.filter((r) => r !== undefined && owned.has(r.automationId) && r.steps.length >= 1 && r.steps.length < TIMES)
        if (halfway.length === 0) return yield* Effect.fail("not yet" as const)
        return owned
      }).pipe(Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("150 seconds"))))
      const shardsBefore = [lastShards(a), lastShards(b)]
      yield* promise(() => a.kill9())
      const killedAt = Date.now()
      const atKill = yield* records
      const moved = [...victims].filter((id) => {
        const r = atKill.find((x) => x?.automationId === id)
        return r !== undefined && (r.state === "registering" || r.state === "running" || r.state === "revoking")
      })
      expect(moved.length).toBeGreaterThan(0)
      const linesOfBAtKill = b.lines.length

      // 3. Everything ends, A's automations on B.
      const final = yield* records.pipe(
        Effect.filterOrFail((rs) => rs.every((r) => r !== undefined && r.state !== "registering" && r.state !== "running" && r.state !== "revoking"), () => "not yet"),
        Effect.retry(Schedule.spaced("250 millis").pipe(Schedule.upTo("180 seconds")))
      )
      const endedAt = Date.now()
      const takenOver = new Set(b.lines.slice(linesOfBAtKill).filter((l) => l.startsWith("owns ")).map((l) => l.split(" ")[1]!))
      for (const id of moved) expect(takenOver.has(id), `B took over ${id}`).toBe(true)
      expect(lastShards(b)).toBe(SHARDS)
      expect(shardsBefore[0]! + shardsBefore[1]!).toBe(SHARDS)
      expect(shardsBefore.every((n) => n > 0)).toBe(true)

      // Every step of every automation exactly once: the store, the recipients, the chain.
      const txs = yield* devnet.transactions
      const hashes = new Set<bigint>()
      for (const [i, r] of final.entries()) {
        expect(r!.state, `${r!.automationId}: ${r!.error ?? ""}`).toBe("completed")
        expect(r!.steps.map((s) => s.step)).toEqual(Array.from({ length: TIMES }, (_, k) => k))
        for (const s of r!.steps) {
          hashes.add(BigInt(s.txHash))
          expect(txs.find((t) => BigInt(t.hash) === BigInt(s.txHash))?.status.executionStatus).toBe("SUCCEEDED")
        }
        expect(yield* devnet.balanceOf(USDC, automations[i]!.recipient)).toBe(AMOUNT * BigInt(TIMES))
        expect((yield* devnet.sessionData(automations[i]!.wallet.publicKey, r!.sessionPublicKey)).every((x) => x === 0n)).toBe(true)
      }
      expect(hashes.size).toBe(COUNT * TIMES)
      console.log(
        `scale-out: ${COUNT} automations × ${TIMES} steps in ${((endedAt - started) / 1000).toFixed(1)} s; ` +
          `shards before the kill ${shardsBefore.join("/")}; ${moved.length} automations moved, all ended ` +
          `${((endedAt - killedAt) / 1000).toFixed(1)} s after the kill`
      )
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.merge(Layer.fresh(Devnet.layer({ blockTime: "1 second" })), postgresLayer()))
    ), 400_000)
})
