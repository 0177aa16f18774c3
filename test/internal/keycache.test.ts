import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Scope, TestClock } from "effect"
import * as keycache from "../../src/internal/crypto/keycache.js"

/** A load that counts its runs and keeps every key it handed out, to see them wiped. */
const loader = () => {
  const made: Array<Uint8Array> = []
  let runs = 0
  const load = (byte: number) =>
    Effect.sync(() => {
      runs++
      const bytes = new Uint8Array(32).fill(byte)
      made.push(bytes)
      return bytes
    })
  return { load, made, runs: () => runs }
}
const wiped = (bytes: Uint8Array) => bytes.every((b) => b === 0)

describe("the decrypted-key cache", () => {
  it.scoped("a second get with the same parts is a hit: one load, a copy each time", () =>
    Effect.gen(function*() {
      const cache = yield* keycache.make({ ttl: "60 seconds", maxEntries: 10 })
      const l = loader()
      const first = yield* cache.get(["blob", "1234", "0xpub"], l.load(7))
      const second = yield* cache.get(["blob", "1234", "0xpub"], l.load(7))
      expect(l.runs()).toBe(1)
      expect([...second]).toEqual([...first])
      // Copies: wiping one leaves the cache's own (and the other copy) intact.
      first.fill(0)
      expect(wiped(second)).toBe(false)
      expect([...(yield* cache.get(["blob", "1234", "0xpub"], l.load(7)))]).toEqual(new Array(32).fill(7))
      expect(l.runs()).toBe(1)
    }))

  it.scoped("a wrong PIN (or another blob, or another expected key) never hits, and a failure is not cached", () =>
    Effect.gen(function*() {
      const cache = yield* keycache.make({ ttl: "60 seconds", maxEntries: 10 })
      const l = loader()
      yield* cache.get(["blob", "1234", "0xpub"], l.load(7))
      for (const parts of [["blob", "1235", "0xpub"], ["blob", "", "0xpub"], ["blob2", "1234", "0xpub"], ["blob", "1234", "0xother"], ["blob1234", "", "0xpub"], ["blob", "1234"]]) {
        const result = yield* Effect.exit(cache.get(parts, Effect.fail("InvalidPin" as const)))
        expect(result).toEqual(Exit.fail("InvalidPin"))
      }
      // The right parts still hit; a failed load left nothing behind.
      yield* cache.get(["blob", "1234", "0xpub"], l.load(7))
      expect(l.runs()).toBe(1)
      expect(cache.size()).toBe(1)
      expect(yield* Effect.exit(cache.get(["blob", "9999", "0xpub"], Effect.fail("InvalidPin" as const)))).toEqual(Exit.fail("InvalidPin"))
      expect(cache.size()).toBe(1)
    }))

  it.scoped("an entry expires after its TTL, counted from the decryption, and is wiped then", () =>
    Effect.gen(function*() {
      const cache = yield* keycache.make({ ttl: "60 seconds", maxEntries: 10 })
      const l = loader()
      yield* cache.get(["a"], l.load(1))
      yield* TestClock.adjust("59 seconds")
      // A use does not extend the entry's life.
      yield* cache.get(["a"], l.load(1))
      expect(l.runs()).toBe(1)
      expect(wiped(l.made[0]!)).toBe(false)
      yield* TestClock.adjust("1 second")
      expect(wiped(l.made[0]!)).toBe(true)
      expect(cache.size()).toBe(0)
      yield* cache.get(["a"], l.load(1))
      expect(l.runs()).toBe(2)
    }))

  it.scoped("beyond maxEntries the least recently used entry is evicted and wiped", () =>
    Effect.gen(function*() {
      const cache = yield* keycache.make({ ttl: "60 seconds", maxEntries: 2 })
      const l = loader()
      yield* cache.get(["a"], l.load(1))
      yield* cache.get(["b"], l.load(2))
      yield* cache.get(["a"], l.load(1)) // a is now the most recent
      yield* cache.get(["c"], l.load(3))
      expect(cache.size()).toBe(2)
      expect(wiped(l.made[1]!)).toBe(true) // b
      expect(wiped(l.made[0]!)).toBe(false)
      expect(wiped(l.made[2]!)).toBe(false)
      yield* cache.get(["b"], l.load(2))
      expect(l.runs()).toBe(4)
      expect(wiped(l.made[0]!)).toBe(true) // a, now the least recent
      // An evicted entry's timer is gone with it: nothing fires on the new entries early.
      yield* TestClock.adjust("59 seconds")
      expect(cache.size()).toBe(2)
    }))

  it.effect("closing the scope wipes every entry; the cache is then a pass-through", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const cache = yield* Scope.extend(keycache.make({ ttl: "60 seconds", maxEntries: 10 }), scope)
      const l = loader()
      yield* cache.get(["a"], l.load(1))
      yield* cache.get(["b"], l.load(2))
      yield* Scope.close(scope, Exit.void)
      expect(l.made.every(wiped)).toBe(true)
      expect(cache.size()).toBe(0)
      const after = yield* cache.get(["a"], l.load(1))
      expect(after[0]).toBe(1)
      expect(l.runs()).toBe(3)
      expect(cache.size()).toBe(0)
    }))

  it.scoped("turned off (maxEntries 0 or a zero TTL): every get loads", () =>
    Effect.gen(function*() {
      for (const options of [{ ttl: "60 seconds", maxEntries: 0 }, { ttl: "0 seconds", maxEntries: 10 }] as const) {
        const cache = yield* keycache.make(options)
        const l = loader()
        yield* cache.get(["a"], l.load(1))
        yield* cache.get(["a"], l.load(1))
        expect(l.runs()).toBe(2)
      }
    }))

  it.scoped("concurrent misses for one entry share one load", () =>
    Effect.gen(function*() {
      const cache = yield* keycache.make({ ttl: "60 seconds", maxEntries: 10 })
      const gate = yield* Deferred.make<void>()
      let runs = 0
      const slow = Effect.zipRight(Deferred.await(gate), Effect.sync(() => (runs++, new Uint8Array(32).fill(9))))
      const fibers = yield* Effect.forEach(Array.from({ length: 5 }), () => Effect.fork(cache.get(["a"], slow)))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      const keys = yield* Effect.forEach(fibers, Fiber.join)
      expect(runs).toBe(1)
      expect(keys.every((k) => k[0] === 9)).toBe(true)
      // Each caller has its own copy.
      expect(new Set(keys).size).toBe(5)
    }))
})
