/**
 * Run once by the test runner before any test file: makes the PGlite template data directory (test/helpers/
 * processes.ts) here, in the runner's own process before its workers start, so that no test file blocks its process
 * on initdb while other files run.
 */
import { pgliteTemplate } from "./helpers/processes.js"

export default async function setup(): Promise<void> {
  await pgliteTemplate()
}
