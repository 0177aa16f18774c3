import { describe, expect, it, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { Ledger } from "starknet-session-keys"
import * as Automations from "starknet-session-keys/automations"
import { DATABASE_URL, freshPrefix, pgliteLayer, postgresLayer } from "./helpers/databases.js"
import { paymentRecord } from "./helpers/payment.js"

const WALLET = "0x1234abcd"
const SESSION = "0x5e55"

/** A payment record as the exactly-once path writes it. */
const payment = (nonce: string, idempotencyKey = "auto-1:0"): Ledger.Payment => paymentRecord(WALLET, SESSION, idempotencyKey, nonce)

const session = { wallet: WALLET, sessionPublicKey: SESSION } as unknown as Ledger.SessionRef

const ledgerTests = (prefix: string, it: { readonly scoped: (name: string, self: () => Effect.Effect<void, unknown, any>) => void }) => {
  const run = <E>(effect: Effect.Effect<void, E, any>) => effect

  it.scoped("records a payment once under concurrency; a replacement needs the dead record's nonce", () =>
    run(Effect.gen(function*() {
      const ledger = yield* Automations.makeLedgerSql({ prefix })
      const other = yield* Automations.makeLedgerSql({ prefix }) // a second instance on the same database
      const answers = yield* Effect.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? ledger : other).recordPayment(payment(`0x${(i + 1).toString(16)}`))),
        { concurrency: "unbounded" }
      )
      const winner = answers[0]!.nonce
      expect(answers.every((p) => p.nonce === winner)).toBe(true)
      expect((yield* other.payment(WALLET as never, "auto-1:0"))?.nonce).toBe(winner)

      // Replacing with a wrong nonce keeps the record; with the right one replaces it.
      const kept = yield* ledger.recordPayment(payment("0xabc"), { replacing: "0xdead" as never })
      expect(kept.nonce).toBe(winner)
      const replaced = yield* ledger.recordPayment(payment("0xabc"), { replacing: winner })
      expect(replaced.nonce).toBe("0xabc")

      // Updates are guarded by the nonce and keep fields they do not name.
      yield* ledger.updatePayment(WALLET as never, "auto-1:0", winner, { status: "executed" })
      expect((yield* ledger.payment(WALLET as never, "auto-1:0"))?.status).toBe("pending")
      yield* ledger.updatePayment(WALLET as never, "auto-1:0", "0xabc" as never, { status: "submitted", transactionHash: "0xfeed" as never })
      yield* other.updatePayment(WALLET as never, "auto-1:0", "0xabc" as never, { status: "executed", reason: "seen" })
      const byHash = yield* other.paymentByHash("0x0feed" as never)
      expect(byHash).toMatchObject({ status: "executed", transactionHash: "0xfeed", reason: "seen", nonce: "0xabc" })
      expect(byHash?.typedData).toEqual(payment("0xabc").typedData)
      expect(yield* ledger.openPayments(session)).toEqual([])
      yield* ledger.recordPayment(payment("0x77", "auto-1:1"))
      expect((yield* other.openPayments(session)).map((p) => p.idempotencyKey)).toEqual(["auto-1:1"])
    })))

  it.scoped("reservations are shared by every instance: never more than maxCalls at once", () =>
    run(Effect.gen(function*() {
      const a = yield* Automations.makeLedgerSql({ prefix })
      const b = yield* Automations.makeLedgerSql({ prefix })
      const results = yield* Effect.all(
        Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).reserve(session, { callsUsed: 1, maxCalls: 6 })),
        { concurrency: "unbounded" }
      )
      const granted = results.filter((r) => r.ok)
      expect(granted.length).toBe(5)
      const first = granted[0]!
      if (!first.ok) throw new Error("unreachable")
      yield* b.release(first.reservation)
      yield* a.release(first.reservation) // idempotent
      expect((yield* a.reserve(session, { callsUsed: 1, maxCalls: 6 })).ok).toBe(true)
      expect((yield* b.reserve(session, { callsUsed: 1, maxCalls: 6 })).ok).toBe(false)
      // After a reset, a reservation from before gives nothing back.
      const second = granted[1]!
      yield* a.resetSession(session, ["0x83afd3f4caedc6eebf44246fe54e38c95e3179a5ec9ea81740eca5b482d12e" as never])
      if (second.ok) yield* a.release(second.reservation)
      const after = yield* b.reserve(session, { callsUsed: 0, maxCalls: 1 })
      expect(after).toMatchObject({ ok: true, used: 0 })
      expect(yield* b.allowedEntrypoints(session)).toEqual(["0x83afd3f4caedc6eebf44246fe54e38c95e3179a5ec9ea81740eca5b482d12e"])
      yield* a.rememberKey("0x00abc" as never, 12345)
      expect(yield* b.keyValidUntil("0xabc" as never)).toBe(12345)
    })))

  it.scoped("a reservation held for an idempotency key is answered again to that key: a replay after a crash takes the same call", () =>
    run(Effect.gen(function*() {
      const a = yield* Automations.makeLedgerSql({ prefix })
      const b = yield* Automations.makeLedgerSql({ prefix })
      const s = { wallet: "0x77aa", sessionPublicKey: "0x77bb" } as unknown as Ledger.SessionRef
      // Two steps done on chain; the third reserved its call on one runner, which died before recording its payload.
      const held = yield* a.reserve(s, { callsUsed: 2, maxCalls: 3 }, "auto-9:2")
      expect(held).toMatchObject({ ok: true, used: 2 })
      // Its replay on the other runner, same key: the same reservation, not a refusal.
      const again = yield* b.reserve(s, { callsUsed: 2, maxCalls: 3 }, "auto-9:2")
      expect(again).toEqual(held)
      // Another key still finds the session's calls all taken.
      expect(yield* b.reserve(s, { callsUsed: 2, maxCalls: 3 }, "auto-9:3")).toEqual({ ok: false, used: 3 })
      // Once the chain has counted every call, the held one is no longer granted.
      expect((yield* b.reserve(s, { callsUsed: 3, maxCalls: 3 }, "auto-9:2")).ok).toBe(false)
      if (held.ok) yield* a.release(held.reservation)
      expect((yield* b.reserve(s, { callsUsed: 2, maxCalls: 3 }, "auto-9:3")).ok).toBe(true)
    })))

  it.scoped("a fence is seen by every instance, lapses at its end, and is lifted only under its own key", () =>
    run(Effect.gen(function*() {
      const a = yield* Automations.makeLedgerSql({ prefix })
      const b = yield* Automations.makeLedgerSql({ prefix })
      const s = { wallet: "0x88aa", sessionPublicKey: "0x88bb" } as unknown as Ledger.SessionRef
      expect(yield* b.fenceOf(s, 1_000)).toBeUndefined()
      yield* a.fence(s, { idempotencyKey: "register:1", until: 5_000 })
      expect(yield* b.fenceOf(s, 1_000)).toEqual({ idempotencyKey: "register:1", until: 5_000 })
      expect(yield* b.fenceOf(s, 5_000)).toBeUndefined()
      // A later change replaces it; the earlier one's outcome does not lift the later fence.
      yield* b.fence(s, { idempotencyKey: "register:2", until: 9_000 })
      yield* a.clearFence(s, "register:1")
      expect(yield* a.fenceOf(s, 1_000)).toEqual({ idempotencyKey: "register:2", until: 9_000 })
      yield* a.clearFence(s, "register:2")
      expect(yield* b.fenceOf(s, 1_000)).toBeUndefined()
    })))

  it.scoped("the automation store: one record per id, a step recorded once, waiters found by hash", () =>
    run(Effect.gen(function*() {
      const layer = Automations.layerStoreSql({ prefix })
      const store = yield* Effect.provide(Automations.Store, layer)
      const record = { automationId: "a1", executionId: "e1", wallet: WALLET, sessionPublicKey: SESSION, dueAt: [1, 2], state: "registering" as const, createdAt: 5 }
      expect(yield* store.create(record)).toBe(true)
      expect(yield* store.create({ ...record, sessionPublicKey: "0x999" })).toBe(false)
      yield* store.recordStep("a1", { step: 1, txHash: "0xbb", at: 10 })
      yield* store.recordStep("a1", { step: 0, txHash: "0xaa", at: 9 })
      yield* store.recordStep("a1", { step: 0, txHash: "0xcc", at: 11 })
      yield* store.update("a1", { state: "running", registerTxHash: "0x11" })
      expect(yield* store.get("a1")).toMatchObject({
        sessionPublicKey: SESSION,
        state: "running",
        registerTxHash: "0x11",
        dueAt: [1, 2],
        steps: [{ step: 0, txHash: "0xaa", at: 9 }, { step: 1, txHash: "0xbb", at: 10 }]
      })
      yield* store.addWaiter("0x00ff", { automationId: "a1", executionId: "e1", deferred: "tx/ff" })
      expect(yield* store.waiterOf("0xff")).toEqual({ automationId: "a1", executionId: "e1", deferred: "tx/ff" })
      yield* store.removeWaiter("0xff")
      expect(yield* store.waiterOf("0xff")).toBeUndefined()
    })))
}

// One database per block: a copy of the template data directory (initdb itself is exercised in budgets-sql.test.ts).
describe("the SQL Ledger and store on PGlite (served on loopback, @effect/sql-pg)", () => {
  layer(pgliteLayer(), { timeout: 120_000, excludeTestServices: true })((it) => ledgerTests(freshPrefix("pglite"), it))
})

describe.skipIf(DATABASE_URL === undefined)("the SQL Ledger and store on a real Postgres (DATABASE_URL)", () => {
  // The shared database keeps nothing of the run: its tables are dropped when the block ends.
  const prefix = freshPrefix("pg")
  const dropped = Layer.scopedDiscard(Effect.addFinalizer(() =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.flatMap(
        sql<{ readonly tablename: string }>`SELECT tablename FROM pg_tables WHERE tablename LIKE ${prefix + "%"}`,
        (rows) => Effect.forEach(rows, (r) => sql.unsafe(`DROP TABLE IF EXISTS "${r.tablename}"`), { discard: true })
      )).pipe(Effect.ignore)
  ))
  layer(Layer.provideMerge(dropped, postgresLayer()), { timeout: 60_000, excludeTestServices: true })((it) => ledgerTests(prefix, it))
})
