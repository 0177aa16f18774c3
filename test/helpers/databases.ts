/** The SQL databases automation tests run on: PGlite always, a real Postgres when DATABASE_URL is set. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer, Redacted } from "effect"
import * as Automations from "starknet-session-keys/automations"

export const DATABASE_URL = process.env["DATABASE_URL"]

if (DATABASE_URL === undefined) {
  console.warn("DATABASE_URL is not set: the tests on a real Postgres are skipped (PGlite tests still run)")
}

/** PGlite in a fresh temporary directory, removed with the layer. */
export const pgliteLayer = () =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "ssk-pglite-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    return Automations.layerPglite({ dataDir: dir })
  }))

export const postgresLayer = () => Automations.layerPostgres({ url: Redacted.make(DATABASE_URL ?? "") })

/** A table prefix of its own per test run, so runs on a shared Postgres never see each other's rows. */
export const freshPrefix = (name: string) => `t_${name}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`
