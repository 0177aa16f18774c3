/**
 * The database of the automations engine: PGlite served on loopback (embedded, data in a directory), or a real
 * Postgres. Either way `@effect/sql-pg` is the one driver, so every store speaks the same SQL.
 */
import {
  ClusterWorkflowEngine,
  RunnerAddress,
  RunnerHealth,
  Runners,
  type Sharding,
  ShardingConfig,
  SingleRunner,
  SocketRunner,
  SqlMessageStorage,
  SqlRunnerStorage
} from "@effect/cluster"
import type { SocketServer } from "@effect/platform"
import { RpcSerialization } from "@effect/rpc"
import { SqlClient, type SqlError } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import type { WorkflowEngine } from "@effect/workflow"
import { Config, type ConfigError, Duration, Effect, Layer, Option, type Redacted, Schedule } from "effect"

/** The SQL runner storage holds one connection for its advisory locks: the pool needs more than that. */
const MIN_POOL = 2

interface PgliteLike {
  readonly isInTransaction: () => boolean
  readonly runExclusive: <T>(fn: () => Promise<T>) => Promise<T>
  readonly execProtocolRawStream: (message: Uint8Array, options: { readonly onRawData: (data: Uint8Array) => void }) => Promise<void>
  readonly exec: (query: string) => Promise<unknown>
}

interface Pending {
  readonly message: Uint8Array
  readonly onData: (data: Uint8Array) => void
}

interface Batch {
  readonly handlerId: number
  readonly messages: ReadonlyArray<Pending>
  readonly resolve: (bytes: number) => void
  readonly reject: (error: unknown) => void
}

/** Messages of the extended query protocol that a `Sync` closes: they must reach the backend together. */
const EXTENDED = new Set(["P", "B", "D", "E", "C", "H"].map((c) => c.charCodeAt(0)))

/**
 * PGlite is one backend session behind every socket connection. pglite-socket 0.2.17 queues each protocol message
 * on its own, so two connections' Parse/Bind/Execute interleave (a Bind then runs another connection's statement),
 * and a statement can land inside another connection's open transaction. This queue runs a connection's messages
 * up to its `Sync` (or a simple `Query`) as one unit, and while a transaction is open lets only the connection
 * that opened it in. It replaces the server's own queue (same three methods).
 */
class BatchQueue {
  private readonly buffered = new Map<number, Array<Pending>>()
  private readonly ready: Array<Batch> = []
  private running = false
  private owner: number | null = null

  constructor(private readonly db: PgliteLike) {}

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    const list = this.buffered.get(handlerId) ?? []
    list.push({ message, onData })
    if (EXTENDED.has(message[0]!)) {
      this.buffered.set(handlerId, list)
      return Promise.resolve(0)
    }
    this.buffered.delete(handlerId)
    return new Promise<number>((resolve, reject) => {
      this.ready.push({ handlerId, messages: list, resolve, reject })
      void this.drain()
    })
  }

  getQueueLength() {
    return this.ready.length
  }

  clearQueueForHandler(handlerId: number) {
    this.buffered.delete(handlerId)
    for (let i = this.ready.length - 1; i >= 0; i--) {
      if (this.ready[i]!.handlerId === handlerId) this.ready.splice(i, 1)[0]!.reject(new Error("Handler disconnected"))
    }
  }

  async clearTransactionIfNeeded(handlerId: number) {
    if (this.owner === handlerId && this.db.isInTransaction()) {
      await this.db.runExclusive(() => this.db.exec("ROLLBACK"))
    }
    if (this.owner === handlerId) this.owner = null
    await this.drain()
  }

  private async drain() {
    if (this.running) return
    this.running = true
    try {
      for (;;) {
        const inTx = this.owner !== null && this.db.isInTransaction()
        if (!inTx) this.owner = null
        const index = inTx ? this.ready.findIndex((b) => b.handlerId === this.owner) : 0
        if (index < 0 || this.ready.length === 0) break
        const batch = this.ready.splice(index, 1)[0]!
        let bytes = 0
        try {
          await this.db.runExclusive(async () => {
            for (const m of batch.messages) {
              await this.db.execProtocolRawStream(m.message, {
                onRawData: (data) => {
                  bytes += data.length
                  m.onData(data)
                }
              })
            }
          })
          if (this.db.isInTransaction()) this.owner = batch.handlerId
          batch.resolve(bytes)
        } catch (error) {
          batch.reject(error)
        }
      }
    } finally {
      this.running = false
    }
  }
}

/**
 * PGlite on `dataDir`, served on 127.0.0.1 at a free port by `@electric-sql/pglite-socket`, and a `PgClient` pool on
 * it. The server stops and the database closes with the layer. One process opens a data directory at a time.
 */
export const layerPglite = (options: {
  readonly dataDir: string
  readonly maxConnections?: number
}): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const pool = Math.max(MIN_POOL, options.maxConnections ?? 4)
    // Loaded here, so that importing the module costs nothing to those who use a real Postgres.
    const { PGlite } = yield* Effect.promise(() => import("@electric-sql/pglite"))
    const { PGLiteSocketServer } = yield* Effect.promise(() => import("@electric-sql/pglite-socket"))
    const db = yield* Effect.acquireRelease(
      Effect.promise(() => PGlite.create(options.dataDir)),
      (db) => Effect.promise(() => db.close()).pipe(Effect.ignore)
    )
    // One spare connection above the pool, for a connection the pool replaces while the old one closes.
    const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: pool + 1 })
    ;(server as unknown as { queryQueue: BatchQueue }).queryQueue = new BatchQueue(db as unknown as PgliteLike)
    yield* Effect.acquireRelease(
      Effect.promise(() => server.start()),
      () => Effect.promise(() => server.stop()).pipe(Effect.ignore)
    )
    const [host, port] = server.getServerConn().split(":")
    return PgClient.layer({
      host: host!,
      port: Number(port),
      database: "postgres",
      username: "postgres",
      maxConnections: pool,
      minConnections: 1
    })
  }))

/** A real Postgres at `url`. */
export const layerPostgres = (options: {
  readonly url: Redacted.Redacted<string>
  readonly maxConnections?: number
}): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError> =>
  PgClient.layer({ url: options.url, maxConnections: Math.max(MIN_POOL, options.maxConnections ?? 10) })

/** `DATABASE_URL` when set, else PGlite in `AUTOMATION_DATA_DIR` (default `./.automations`). */
export const layerFromConfig: Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError | ConfigError.ConfigError> =
  Layer.unwrapEffect(Effect.gen(function*() {
    const url = yield* Config.option(Config.redacted("DATABASE_URL"))
    if (Option.isSome(url)) return layerPostgres({ url: url.value })
    const dataDir = yield* Config.string("AUTOMATION_DATA_DIR").pipe(Config.withDefault("./.automations"))
    return layerPglite({ dataDir })
  }))

/** How long a message may stay claimed by a storage read without being processed (default of `claimTimeout`). */
export const DEFAULT_CLAIM_TIMEOUT = Duration.seconds(3)

/**
 * Releases the claims of the engine's storage reads that were never followed by a delivery, so the next read
 * delivers those messages again: every `claimTimeout`, unprocessed messages of `<prefix>_messages` claimed longer
 * ago than that are made readable.
 *
 * Why: in @effect/cluster 0.60.2 (with @effect/workflow 0.19.1), a storage read claims every row it returns
 * (`last_read = now`) and reads again only rows unclaimed or claimed more than 10 minutes ago. When a workflow is
 * woken (its durable clock fired, a deferred was completed), the engine clears its `run` reply and asks for a read;
 * if a read already in progress returns that row while the request id is still in the runner's in-memory set of
 * requests just replied to (the set is emptied at the start of each read, the run's Suspended reply was recorded
 * after that), the row is claimed and skipped: the workflow stalls for 10 minutes, or until a restart resets the
 * claims. Reported upstream as Effect-TS/effect#8312, fixed there by releasing the claim of a skipped request
 * (Effect-TS/effect#8317, effect 4); no 0.60.x release carries it.
 *
 * Messages being processed when their claim is released are read again and skipped (the runner knows it is
 * processing them), as after a restart: releasing a claim never delivers a message twice.
 */
const layerClaimRelease = (options: { readonly prefix?: string | undefined; readonly claimTimeout?: Duration.DurationInput | undefined }) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const timeout = Duration.decode(options.claimTimeout ?? DEFAULT_CLAIM_TIMEOUT)
    const millis = Math.max(100, Math.round(Duration.toMillis(timeout)))
    const table = sql(`${options.prefix ?? "cluster"}_messages`)
    const release = sql`
      UPDATE ${table} SET last_read = NULL
      WHERE processed = FALSE AND last_read IS NOT NULL AND last_read < NOW() - ${sql.literal(`INTERVAL '${millis} milliseconds'`)}
    `.pipe(
      // Before the engine has created its tables, or while the database is away: the next round tries again.
      Effect.catchAllCause((cause) => Effect.logDebug("releasing stale message claims failed", cause))
    )
    yield* release.pipe(Effect.repeat(Schedule.spaced(Duration.millis(millis))), Effect.interruptible, Effect.forkScoped)
  }))

/**
 * The `@effect/cluster` workflow engine with its messages and runner locks in the SQL database, as a single runner:
 * what one instance needs to survive a restart. `claimTimeout` (default 3 seconds) bounds how long a woken workflow
 * can wait on a lost delivery (see `layerClaimRelease`).
 */
export const layerEngineSingle = (options: {
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Type"]>
  readonly claimTimeout?: Duration.DurationInput | undefined
} = {}): Layer.Layer<WorkflowEngine.WorkflowEngine, ConfigError.ConfigError, SqlClient.SqlClient> =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provide(SingleRunner.layer({
      runnerStorage: "sql",
      shardingConfig: { entityMessagePollInterval: "1 second", entityReplyPollInterval: "1 second", ...options.shardingConfig }
    })),
    Layer.provideMerge(layerClaimRelease({ claimTimeout: options.claimTimeout }))
  )

/** Where a runner listens and how the others reach it. */
export interface RunnerAddressInput {
  readonly host: string
  readonly port: number
}

/**
 * The `@effect/cluster` workflow engine as one of several runners on one Postgres: messages and replies in
 * `SqlMessageStorage`, runners and shard locks in `SqlRunnerStorage` (advisory locks, released by Postgres when a
 * runner's connection dies), runners talking to each other over sockets. Every automation's workflow is an entity
 * of a shard; a shard is held by one runner at a time, and a runner found dead by the health check loses its shards
 * to the others, which resume its workflows from their journal.
 */
export const layerEngineCluster = (options: {
  readonly runnerAddress: RunnerAddressInput
  readonly listenAddress?: RunnerAddressInput | undefined
  readonly prefix?: string | undefined
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
  /** See `layerEngineSingle` (default 3 seconds). */
  readonly claimTimeout?: Duration.DurationInput | undefined
}): Layer.Layer<
  WorkflowEngine.WorkflowEngine | Sharding.Sharding,
  ConfigError.ConfigError | SqlError.SqlError | SocketServer.SocketServerError,
  SqlClient.SqlClient
> => {
  const config = ShardingConfig.layer({
    entityMessagePollInterval: "1 second",
    entityReplyPollInterval: "1 second",
    refreshAssignmentsInterval: "1 second",
    runnerHealthCheckInterval: "2 seconds",
    ...options.shardingConfig,
    runnerAddress: Option.some(RunnerAddress.make(options.runnerAddress.host, options.runnerAddress.port)),
    runnerListenAddress: options.listenAddress === undefined
      ? Option.none()
      : Option.some(RunnerAddress.make(options.listenAddress.host, options.listenAddress.port))
  })
  const storage = Layer.merge(
    SqlMessageStorage.layerWith({ prefix: options.prefix }),
    SqlRunnerStorage.layerWith({ prefix: options.prefix })
  )
  // Loaded here: only those who run several runners need @effect/platform-node's sockets.
  return Layer.unwrapEffect(Effect.map(
    Effect.promise(() => import("@effect/platform-node/NodeClusterSocket")),
    (NodeClusterSocket) => {
      const health = RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc))
      const runner = SocketRunner.layer.pipe(
        Layer.provide(NodeClusterSocket.layerSocketServer),
        Layer.provide(health)
      )
      return ClusterWorkflowEngine.layer.pipe(
        Layer.provideMerge(runner),
        Layer.provide(NodeClusterSocket.layerClientProtocol),
        Layer.provide(RpcSerialization.layerMsgPack),
        Layer.provideMerge(storage),
        Layer.provide(config),
        Layer.provideMerge(layerClaimRelease({ prefix: options.prefix, claimTimeout: options.claimTimeout }))
      )
    }
  ))
}
