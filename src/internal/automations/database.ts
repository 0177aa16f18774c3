/**
 * The database of the automations engine: PGlite served on loopback (embedded, data in a directory), or a real
 * Postgres. Either way `@effect/sql-pg` is the one driver, so every store speaks the same SQL.
 */
import { ClusterWorkflowEngine, SingleRunner, type ShardingConfig } from "@effect/cluster"
import type { SqlClient, SqlError } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import type { WorkflowEngine } from "@effect/workflow"
import { Config, type ConfigError, Effect, Layer, Option, type Redacted } from "effect"

/** The SQL runner storage holds one connection for its advisory locks: the pool needs more than that. */
const MIN_POOL = 2

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

/**
 * The `@effect/cluster` workflow engine with its messages and runner locks in the SQL database, as a single runner:
 * what one instance needs to survive a restart.
 */
export const layerEngineSingle = (options: {
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Type"]>
} = {}): Layer.Layer<WorkflowEngine.WorkflowEngine, ConfigError.ConfigError, SqlClient.SqlClient> =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provide(SingleRunner.layer({
      runnerStorage: "sql",
      shardingConfig: { entityMessagePollInterval: "1 second", entityReplyPollInterval: "1 second", ...options.shardingConfig }
    }))
  )
