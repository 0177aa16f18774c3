// "Send X to R every T, N times, then revoke", as a durable automation. Kill it at any moment and run it again with
// the same settings: it resumes where it was, and no transfer happens twice.
//
//   npx tsx docs/examples/timeboxed-automation.ts
//
// Settings (environment):
//   STARKNET_RPC_URL, PAYMASTER_URL      the chain and the SNIP-29 paymaster (`npm run devnet` serves both)
//   AUTOMATION_DATA_DIR | DATABASE_URL   PGlite data directory (embedded), or a Postgres URL
//   AUTOMATION_WALLET                    the wallet's JSON { publicKey, encryptedPrivateKey }
//   AUTOMATION_PIN                       the owner's PIN (used at the first start only: registration and revoke
//                                        are signed then)
//   AUTOMATION_RECIPIENT                 R
//   AUTOMATION_AMOUNT                    X, in the token's raw units (USDC, 6 decimals)
//   AUTOMATION_EVERY                     T, a duration such as `2 seconds`
//   AUTOMATION_TIMES                     N
//   AUTOMATION_ID                        the automation's identity (same id = same automation)
//   AUTOMATION_SERVER_KEY                encrypts the session key at rest (a development key is used when unset)
//   AUTOMATION_POLL_INTERVAL             how often the engine looks at its clock, its messages and pending
//                                        transactions (default `1 second`; each look is a query or an RPC read)
//
// Prints `session 0x…` once, `step k/N 0x<tx hash>` per step done, and exits 0 once the session is revoked. A failure
// (a wrong PIN, a missing setting) is one line on stderr, `InvalidPin: …`, and exit code 1.
import { Cause, Config, Console, Duration, Effect, Exit, Layer, Logger, LogLevel, Redacted, Schema } from "effect"
import { Calls, Crypto, Paymaster, STARKNET_CONTRACTS, StarknetRpc } from "starknet-session-keys"
import * as Automations from "starknet-session-keys/automations"

const Settings = Config.all({
  wallet: Config.string("AUTOMATION_WALLET"),
  pin: Config.redacted("AUTOMATION_PIN"),
  recipient: Config.string("AUTOMATION_RECIPIENT"),
  amount: Config.string("AUTOMATION_AMOUNT"),
  every: Config.string("AUTOMATION_EVERY"),
  times: Config.integer("AUTOMATION_TIMES"),
  automationId: Config.string("AUTOMATION_ID")
})

const Wallet = Schema.parseJson(Schema.Struct({ publicKey: Schema.String, encryptedPrivateKey: Schema.String }))

const program = Effect.gen(function*() {
  const settings = yield* Settings
  const wallet = yield* Schema.decodeUnknown(Wallet)(settings.wallet)
  const every = Duration.decodeUnknown(settings.every)
  if (every._tag === "None") return yield* Effect.fail(new Error(`AUTOMATION_EVERY is not a duration: ${settings.every}`))
  const transfer = yield* Calls.transfer({ token: STARKNET_CONTRACTS.USDC.contractAddress, to: settings.recipient, amount: settings.amount })

  const started = yield* Automations.start({
    automationId: settings.automationId,
    wallet,
    pin: settings.pin,
    calls: () => [transfer],
    schedule: { every: every.value, times: settings.times }
  })
  yield* Console.log(`session ${started.sessionPublicKey}`)

  let printed = 0
  for (;;) {
    const status = yield* Automations.status(settings.automationId)
    for (const step of status.steps.slice(printed)) {
      yield* Console.log(`step ${step.step + 1}/${status.stepsTotal} ${step.txHash}`)
    }
    printed = status.steps.length
    if (status.state === "completed") return
    if (status.state === "failed" || status.state === "expired" || status.state === "cancelled") {
      return yield* Effect.fail(new Error(`automation ${status.state}${status.error !== undefined ? `: ${status.error}` : ""}`))
    }
    yield* Effect.sleep("200 millis")
  }
})

const serverKey = Config.redacted("AUTOMATION_SERVER_KEY").pipe(
  Config.orElse(() => Config.succeed(Redacted.make("development server key: set AUTOMATION_SERVER_KEY")))
)

// One database for the engine's journal, the automation store and the ledger of payments.
const Database = Automations.layerDatabaseConfig
const Chain = Layer.mergeAll(StarknetRpc.layerConfig, Paymaster.layerSnip29Config, Crypto.layer)
const pollInterval = Config.duration("AUTOMATION_POLL_INTERVAL").pipe(Config.withDefault(Duration.seconds(1)))

const Engine = Layer.unwrapEffect(Effect.map(Config.all([serverKey, pollInterval]), ([key, every]) =>
  Automations.layer({ serverKey: key, pollInterval: every }).pipe(
    Layer.provide([
      Automations.layerEngineSingle({ shardingConfig: { entityMessagePollInterval: every, entityReplyPollInterval: every } }),
      Automations.layerStoreSql(),
      Automations.layerLedgerSql()
    ])
  ))).pipe(
  Layer.provide(Chain),
  Layer.provide(Database)
)

/** One line for a failure: the typed error's tag and message (its fields say what to do), never a stack. */
const oneLine = (cause: Cause.Cause<unknown>): string => {
  if (Cause.isInterruptedOnly(cause)) return "interrupted: start again with the same settings to resume"
  const error = Cause.squash(cause)
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : undefined
  const message = error instanceof Error ? error.message : String(error)
  return tag !== undefined && !message.startsWith(tag) ? `${tag}: ${message}` : message
}

// Ctrl-C (or SIGTERM) interrupts the plan's watcher; the automation itself resumes on the next start.
const stop = new AbortController()
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => stop.abort())
Effect.runPromiseExit(
  program.pipe(Effect.provide(Engine), process.env["AUTOMATION_DEBUG"] ? Logger.withMinimumLogLevel(LogLevel.Debug) : (e) => e),
  { signal: stop.signal }
).then((exit) => {
  if (Exit.isFailure(exit)) console.error(oneLine(exit.cause))
  process.exit(Exit.isSuccess(exit) ? 0 : 1)
})
