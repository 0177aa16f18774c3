// One instance of the cross-process budget test: its own pool on the shared Postgres, recording PAYMENTS payments
// of 1 USDC each (all at once) against the wallet's budget of BUDGET per hour, through the SQL Ledger. Prints
// `ready`, waits for the file GO to exist, then prints `paid <n>` and `refused <n>`.
//
// Settings (environment): DATABASE_URL, LEDGER_PREFIX, WORKER (a name for its keys), PAYMENTS, BUDGET, GO.
import { existsSync } from "node:fs"
import { Config, Console, Effect, Either, Redacted, Schedule } from "effect"
import { STARKNET_CONTRACTS } from "starknet-session-keys"
import * as Automations from "starknet-session-keys/automations"
import { budgetPayment } from "./budget-payment.js"

const WALLET = "0xb0d9e7"
const USDC = STARKNET_CONTRACTS.USDC.contractAddress

const program = Effect.gen(function*() {
  const prefix = yield* Config.string("LEDGER_PREFIX")
  const worker = yield* Config.string("WORKER")
  const payments = yield* Config.integer("PAYMENTS")
  const budget = yield* Config.integer("BUDGET")
  const go = yield* Config.string("GO")
  const ledger = yield* Automations.makeLedgerSql({ prefix })
  yield* Console.log("ready")
  yield* Effect.sync(() => existsSync(go)).pipe(
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (there) => there }),
    Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`the start file ${go} never appeared`) })
  )
  const now = Date.now()
  const results = yield* Effect.all(
    Array.from({ length: payments }, (_, i) =>
      Effect.either(ledger.recordPayment(budgetPayment(WALLET, `${worker}:${i}`, now, worker === "a" ? "0xa1" : "0xb1"), {
        charges: [{ token: USDC as never, amount: 1n, callIndex: 0, limits: [{ amount: BigInt(budget), windowSeconds: 3600 }] }]
      }))),
    { concurrency: "unbounded" }
  )
  const paid = results.filter(Either.isRight).length
  const refused = results.filter((r) => Either.isLeft(r) && r.left._tag === "PolicyViolation").length
  yield* Console.log(`paid ${paid}`)
  yield* Console.log(`refused ${refused}`)
})

const url = process.env["DATABASE_URL"] ?? ""
Effect.runPromise(program.pipe(Effect.provide(Automations.layerPostgres({ url: Redacted.make(url) })), Effect.scoped)).then(
  () => process.exit(0),
  (error) => {
    console.error(String(error))
    process.exit(1)
  }
)
