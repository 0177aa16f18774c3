/**
 * The long run of the model-based property over interruptions (test/model-interruptions.ts): `INTERRUPTION_SEQUENCES`
 * random sequences (default 200) of executes interrupted at random points, answers held, transactions held past
 * their window.
 */
import { Effect, FastCheck as fc, TestClock, TestContext } from "effect"
import { InterruptionsLayer, runSequence, sequenceArbitrary, stats } from "../model-interruptions.js"

export async function run(): Promise<void> {
  const sequences = Number(process.env["INTERRUPTION_SEQUENCES"] ?? 200)
  const start = performance.now()
  await fc.assert(
    fc.asyncProperty(sequenceArbitrary, (input) =>
      Effect.runPromise(
        Effect.zipRight(TestClock.setTime(Date.UTC(2026, 0, 1)), runSequence(input)).pipe(
          Effect.provide(InterruptionsLayer()),
          Effect.provide(TestContext.TestContext)
        )
      )),
    { numRuns: sequences }
  )
  const seconds = (performance.now() - start) / 1000
  console.log(`interruptions: ${sequences} sequences held in ${seconds.toFixed(1)} s; ${JSON.stringify(stats)}`)
}
