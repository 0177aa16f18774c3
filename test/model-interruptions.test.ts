import { describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { InterruptionsLayer, runSequence, sequenceArbitrary } from "./model-interruptions.js"

// A small sample here; `npm run bench -- interruptions` runs more sequences of the same property.
const RUNS = Number(process.env["INTERRUPTION_RUNS"] ?? 6)

describe("model-based: reserved calls under interruptions", () => {
  it.effect.prop(
    "executes interrupted at random points, answers held, transactions held past their window: nothing sent that the count rules out, and no call held once every window has closed",
    [sequenceArbitrary],
    ([input]) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 0, 1))
        yield* runSequence(input)
      }).pipe(Effect.provide(InterruptionsLayer())),
    { fastCheck: { numRuns: RUNS }, timeout: 240_000 }
  )
})
