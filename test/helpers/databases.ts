/** The SQL databases automation tests run on: PGlite always, a real Postgres when DATABASE_URL is set. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer, Redacted } from "effect"
import * as Automations from "starknet-session-keys/automations"
import { freshDataDir } from "./processes.js"

export const DATABASE_URL = process.env["DATABASE_URL"]

if (DATABASE_URL === undefined) {
  console.warn("DATABASE_URL is not set: the tests on a real Postgres are skipped (PGlite tests still run)")
}

/**
 * PGlite in a temporary directory of its own, removed with the layer: a copy of the template data directory
 * (test/global-setup.ts makes it before any test file starts), or with `initdb: true` an empty directory that the
 * layer initialises itself. initdb is WebAssembly run on the calling thread: 4 to 20 s during which the test file's
 * process answers nothing, not even the test runner, so only the tests that are about it pay for it.
 */
export const pgliteLayer = (options: { readonly initdb?: boolean } = {}) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      options.initdb === true ? Effect.sync(() => mkdtempSync(join(tmpdir(), "ssk-pglite-"))) : Effect.promise(() => freshDataDir()),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    return Automations.layerPglite({ dataDir: dir })
  }))

export const postgresLayer = () => Automations.layerPostgres({ url: Redacted.make(DATABASE_URL ?? "") })

/** A table prefix of its own per test run, so runs on a shared Postgres never see each other's rows. */
export const freshPrefix = (name: string) => `t_${name}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`
