// One worker of the scale-out test: an `@effect/cluster` runner of the automations engine on a shared Postgres.
// It starts the automations it is given, then reports, as they change, how many shards it holds and which live
// automations it owns (the runner holding the shard of the automation's workflow), until it is killed.
//
// Settings (environment): STARKNET_RPC_URL, PAYMASTER_URL, DATABASE_URL, CLUSTER_PREFIX (tables and locks),
// RUNNER_PORT, SHARDS (shards per group, the same on every runner), AUTOMATION_PIN, AUTOMATION_EVERY,
// AUTOMATION_TIMES, AUTOMATION_AMOUNT, AUTOMATIONS_START (JSON [{ automationId, wallet, recipient }], started
// here), AUTOMATIONS_ALL (JSON list of every automation id, for the ownership report).
//
// Prints `ready`, `started <id>`, `shards <n>`, `owns <id>` and `drops <id>`.
import { NodeRuntime } from "@effect/platform-node"
import { EntityId, Sharding, ShardId } from "@effect/cluster"
import { Config, Console, Duration, Effect, Layer, Redacted, Schedule, Schema } from "effect"
import { Crypto, Paymaster, STARKNET_CONTRACTS, StarknetRpc } from "starknet-session-keys"
import * as Automations from "starknet-session-keys/automations"

const Settings = Config.all({
  prefix: Config.string("CLUSTER_PREFIX"),
  port: Config.integer("RUNNER_PORT"),
  shards: Config.integer("SHARDS"),
  url: Config.redacted("DATABASE_URL"),
  pin: Config.redacted("AUTOMATION_PIN"),
  every: Config.duration("AUTOMATION_EVERY"),
  times: Config.integer("AUTOMATION_TIMES"),
  amount: Config.string("AUTOMATION_AMOUNT"),
  start: Config.string("AUTOMATIONS_START"),
  all: Config.string("AUTOMATIONS_ALL")
})

const ToStart = Schema.parseJson(Schema.Array(Schema.Struct({
  automationId: Schema.String,
  wallet: Schema.Struct({ publicKey: Schema.String, encryptedPrivateKey: Schema.String }),
  recipient: Schema.String
})))

const LIVE = new Set(["registering", "running", "revoking"])

const program = (settings: typeof Settings extends Config.Config<infer A> ? A : never) =>
  Effect.gen(function*() {
    const sharding = yield* Sharding.Sharding
    const store = yield* Automations.Store
    const heldShards = () => {
      let held = 0
      for (let i = 1; i <= settings.shards; i++) if (sharding.hasShardId(ShardId.make("default", i))) held++
      return held
    }
    yield* Console.log("ready")
    // The automations start once the runners share the shards, so none moves for a runner that joins late.
    yield* Effect.suspend(() => {
      const held = heldShards()
      return held > 0 && held < settings.shards ? Effect.void : Effect.fail("alone")
    }).pipe(Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("120 seconds"))), Effect.ignore)
    const toStart = yield* Schema.decodeUnknown(ToStart)(settings.start)
    const all = yield* Schema.decodeUnknown(Schema.parseJson(Schema.Array(Schema.String)))(settings.all)
    const amount = BigInt(settings.amount)
    yield* Effect.forEach(toStart, (a) =>
      Automations.start({
        automationId: a.automationId,
        wallet: a.wallet,
        pin: settings.pin,
        calls: () => [{
          contractAddress: STARKNET_CONTRACTS.USDC.contractAddress,
          entrypoint: "transfer",
          calldata: [a.recipient, "0x" + amount.toString(16), "0x0"]
        }],
        schedule: { every: settings.every, times: settings.times }
      }).pipe(Effect.zipRight(Console.log(`started ${a.automationId}`))), { concurrency: 4, discard: true })

    let shards = -1
    const owned = new Set<string>()
    for (;;) {
      const held = heldShards()
      if (held !== shards) yield* Console.log(`shards ${(shards = held)}`)
      for (const id of all) {
        const record = yield* store.get(id)
        const mine = record !== undefined && LIVE.has(record.state) &&
          sharding.hasShardId(sharding.getShardId(EntityId.make(record.executionId), "default"))
        if (mine && !owned.has(id)) {
          owned.add(id)
          yield* Console.log(`owns ${id}`)
        } else if (!mine && owned.has(id)) {
          owned.delete(id)
          yield* Console.log(`drops ${id}`)
        }
      }
      yield* Effect.sleep("200 millis")
    }
  })

const main = Effect.gen(function*() {
  const settings = yield* Settings
  const database = Automations.layerPostgres({ url: settings.url })
  const engine = Automations.layerEngineCluster({
    runnerAddress: { host: "127.0.0.1", port: settings.port },
    prefix: settings.prefix,
    // A dead runner drops out of the runner list once its heartbeat is this old, even when the health check
    // (a singleton) ran on the runner that died.
    shardingConfig: { shardsPerGroup: settings.shards, shardLockExpiration: "10 seconds", shardLockRefreshInterval: "2 seconds" }
  })
  const stores = Layer.mergeAll(
    Automations.layerStoreSql({ prefix: settings.prefix }),
    Automations.layerLedgerSql({ prefix: settings.prefix })
  )
  const chain = Layer.mergeAll(StarknetRpc.layerConfig, Paymaster.layerSnip29Config, Crypto.layer)
  const service = Automations.layer({
    serverKey: Redacted.make("scale-out test server key"),
    pollInterval: Duration.millis(500)
  })
  const all = service.pipe(Layer.provideMerge(Layer.mergeAll(engine, stores)), Layer.provide(chain), Layer.provide(database))
  return yield* program(settings).pipe(Effect.provide(all))
})

main.pipe(NodeRuntime.runMain)
