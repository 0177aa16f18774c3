/**
 * The long run of the model-based property: `MODEL_SEQUENCES` random sequences (default 10,000) on the devnet
 * against the plain model of the rules, with preflight checked against the chain on every execute.
 */
import { Effect, FastCheck as fc, TestClock, TestContext } from "effect"
import { ModelLayer, runSequence, sequenceArbitrary } from "../model.js"

export async function run(): Promise<void> {
  const sequences = Number(process.env["MODEL_SEQUENCES"] ?? 10_000)
  const start = performance.now()
  await fc.assert(
    fc.asyncProperty(sequenceArbitrary, (ops) =>
      Effect.runPromise(
        Effect.zipRight(TestClock.setTime(Date.UTC(2026, 0, 1)), runSequence(ops)).pipe(
          Effect.provide(ModelLayer),
          Effect.provide(TestContext.TestContext)
        )
      )),
    { numRuns: sequences }
  )
  const seconds = (performance.now() - start) / 1000
  console.log(`model-based property: ${sequences} sequences agreed with the model in ${seconds.toFixed(1)} s (${(sequences / seconds).toFixed(1)} sequences/s)`)
}
