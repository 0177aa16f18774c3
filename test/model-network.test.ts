import { describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { NetworkLayer, runSequence, sequenceArbitrary } from "./model-network.js"

// A small sample here; `npm run bench -- network-model` runs more sequences of the same property.
const RUNS = Number(process.env["NETWORK_MODEL_RUNS"] ?? 4)

describe("model-based: verdicts on the network profile", () => {
  it.effect.prop(
    "the app waits only for SUCCEEDED: reads agree with the statuses reported, no payment that moved nothing is booked, none moves twice",
    [sequenceArbitrary],
    ([ops]) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 0, 1))
        yield* runSequence(ops)
      }).pipe(Effect.provide(NetworkLayer())),
    { fastCheck: { numRuns: RUNS }, timeout: 240_000 }
  )
})
