import { describe, expect, it, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { writeFileSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Either, Layer } from "effect"
import { Ledger, STARKNET_CONTRACTS } from "starknet-session-keys"
import * as Automations from "starknet-session-keys/automations"
import { afterAll } from "vitest"
import { DATABASE_URL, freshPrefix, pgliteLayer, postgresLayer } from "./helpers/databases.js"
import { budgetPayment } from "./helpers/budget-payment.js"
import { startWorker } from "./helpers/processes.js"

const USDC = STARKNET_CONTRACTS.USDC.contractAddress as Ledger.BudgetCharge["token"]
const WALLET = "0xb0d9e7"

const payment = (key: string, now: number) => budgetPayment(WALLET, key, now)
const charge = (amount: bigint, limit: bigint): ReadonlyArray<Ledger.BudgetCharge> => [
  { token: USDC, amount, callIndex: 0, limits: [{ amount: limit, windowSeconds: 3600 }] }
]

const race = (prefix: string, it: { readonly scoped: (name: string, self: () => Effect.Effect<void, unknown, any>) => void }) => {
  it.scoped("two ledger instances racing 50 payments of 1 against a budget of 10 record exactly 10", () =>
    Effect.gen(function*() {
      const a = yield* Automations.makeLedgerSql({ prefix })
      const b = yield* Automations.makeLedgerSql({ prefix })
      const now = Date.now()
      const results = yield* Effect.all(
        Array.from({ length: 50 }, (_, i) => Effect.either((i % 2 === 0 ? a : b).recordPayment(payment(`race:${i}`, now), { charges: charge(1n, 10n) }))),
        { concurrency: "unbounded" }
      )
      expect(results.filter(Either.isRight).length).toBe(10)
      const refusals = results.filter(Either.isLeft).map((r) => r.left)
      expect(refusals.length).toBe(40)
      expect(refusals.every((e) => e._tag === "PolicyViolation" && e.rule === "budget" && e.spent === 10n)).toBe(true)
      expect(yield* b.budgetSpent(WALLET as never, USDC, 3600, now + 1)).toBe(10n)
      // A refused payment was not recorded.
      const refusedKey = `race:${results.findIndex(Either.isLeft)}`
      expect(yield* a.payment(WALLET as never, refusedKey)).toBeUndefined()
      // An executed-without-effect payment gives its amount back; a not-executed record too; an unknown one holds.
      const paidKey = `race:${results.findIndex(Either.isRight)}`
      yield* a.releaseBudget(WALLET as never, paidKey)
      const second = results.findIndex((r, i) => Either.isRight(r) && `race:${i}` !== paidKey)
      yield* b.updatePayment(WALLET as never, `race:${second}`, "0x1" as never, { status: "not-executed" })
      expect(yield* a.budgetSpent(WALLET as never, USDC, 3600, now + 1)).toBe(8n)
      expect((yield* Effect.either(a.recordPayment(payment("after", now), { charges: charge(2n, 10n) })))._tag).toBe("Right")
      expect(yield* Effect.flip(b.recordPayment(payment("after-2", now), { charges: charge(1n, 10n) }))).toMatchObject({ rule: "budget" })
      // A refused record whose window is over lapses; one whose outcome is unknown (pending) past it holds.
      const later = now + 10 * 60_000
      expect(yield* a.budgetSpent(WALLET as never, USDC, 3600, later)).toBe(10n)
      yield* a.updatePayment(WALLET as never, "after", "0x1" as never, { status: "refused" })
      expect(yield* a.budgetSpent(WALLET as never, USDC, 3600, later)).toBe(8n)
    }))
}

const shared = (prefix: string, it: { readonly scoped: (name: string, self: () => Effect.Effect<void, unknown, any>) => void }) => {
  it.scoped("halts, session policies and a wallet's sessions are shared by every instance", () =>
    Effect.gen(function*() {
      const a = yield* Automations.makeLedgerSql({ prefix })
      const b = yield* Automations.makeLedgerSql({ prefix })
      const wallet = "0x0c0ffee" as never
      expect(yield* b.haltedSince(wallet)).toBeUndefined()
      yield* a.halt(wallet, 1234)
      yield* a.halt(wallet, 9999) // the first stop stands
      expect(yield* b.haltedSince("0xc0ffee" as never)).toBe(1234)
      yield* b.resume(wallet)
      expect(yield* a.haltedSince(wallet)).toBeUndefined()

      yield* a.setSessionPolicy("0x00abc" as never, "{\"maxCalls\":1}")
      expect(yield* b.sessionPolicy("0xabc" as never)).toBe("{\"maxCalls\":1}")
      yield* b.setSessionPolicy("0xabc" as never, undefined)
      expect(yield* a.sessionPolicy("0xabc" as never)).toBeUndefined()

      yield* a.resetSession({ wallet, sessionPublicKey: "0x5a" as never })
      yield* b.recordPayment({ ...budgetPayment("0xc0ffee", "k", Date.now(), "0x5b") })
      expect([...(yield* b.sessionsOf(wallet))].sort()).toEqual(["0x5a", "0x5b"])
    }))
}

describe("budgets in the SQL Ledger on PGlite", () => {
  layer(pgliteLayer({ initdb: true }), { timeout: 120_000, excludeTestServices: true })((it) => {
    race(freshPrefix("budget_pglite"), it)
    shared(freshPrefix("shared_pglite"), it)
  })
})

describe.skipIf(DATABASE_URL === undefined)("budgets on a real Postgres (DATABASE_URL)", () => {
  const prefix = freshPrefix("budget_pg")
  const dropped = Layer.scopedDiscard(Effect.addFinalizer(() =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.flatMap(
        sql<{ readonly tablename: string }>`SELECT tablename FROM pg_tables WHERE tablename LIKE ${prefix + "%"}`,
        (rows) => Effect.forEach(rows, (r) => sql.unsafe(`DROP TABLE IF EXISTS "${r.tablename}"`), { discard: true })
      )).pipe(Effect.ignore)
  ))
  layer(Layer.provideMerge(dropped, postgresLayer()), { timeout: 60_000, excludeTestServices: true })((it) => {
    race(prefix, it)
    shared(`${prefix}_shared`, it)

    const dir = mkdtempSync(join(tmpdir(), "ssk-budget-"))
    afterAll(() => rmSync(dir, { recursive: true, force: true }))
    it.scoped("two processes, each with its own pool, racing 50 payments against a budget of 10: exactly 10 recorded", () =>
      Effect.gen(function*() {
        const processPrefix = `${prefix}_procs`
        const go = join(dir, "go")
        const env = { DATABASE_URL: DATABASE_URL!, LEDGER_PREFIX: processPrefix, PAYMENTS: "25", BUDGET: "10", GO: go }
        const workers = yield* Effect.acquireRelease(
          Effect.sync(() => [startWorker("test/helpers/budget-worker.ts", { ...env, WORKER: "a" }), startWorker("test/helpers/budget-worker.ts", { ...env, WORKER: "b" })]),
          (ws) => Effect.promise(() => Promise.all(ws.map((w) => w.kill9())))
        )
        yield* Effect.promise(() => Promise.all(workers.map((w) => w.line(/^ready$/, 60_000))))
        writeFileSync(go, "")
        const counts = yield* Effect.promise(() =>
          Promise.all(workers.map(async (w) => ({
            paid: Number((await w.line(/^paid \d+$/, 60_000)).split(" ")[1]),
            refused: Number((await w.line(/^refused \d+$/, 60_000)).split(" ")[1])
          })))
        )
        expect(counts.reduce((n, c) => n + c.paid, 0)).toBe(10)
        expect(counts.reduce((n, c) => n + c.refused, 0)).toBe(40)
        const ledger = yield* Automations.makeLedgerSql({ prefix: processPrefix })
        expect(yield* ledger.budgetSpent(WALLET as never, USDC, 3600, Date.now() + 1)).toBe(10n)
      }), 120_000)
  })
})
