/**
 * A bounded, short-lived cache of decrypted keys, so that per-call APIs pay the key derivation once per key and PIN.
 *
 * - Entries are found only by an HMAC, under a random key of this cache (made when it is, wiped when it closes), of
 *   the parts that identify a decryption (the blob, the PIN, the expected public key). A wrong PIN, another blob or
 *   another expected key never finds an entry, and goes through the full derivation and its checks.
 * - The TTL counts from the decryption, not from the last use; beyond `maxEntries` the least recently used entry is
 *   evicted. Every entry is zero-filled when it expires, when it is evicted or replaced, and when the cache's scope
 *   closes; afterwards the cache is a pass-through.
 * - The cache owns the bytes `load` returns and hands out copies, which are the caller's to wipe.
 * - Concurrent misses for the same entry share one `load`.
 */
import * as nodeCrypto from "node:crypto"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, type Scope } from "effect"

export interface KeyCache {
  readonly get: <E>(parts: ReadonlyArray<string>, load: Effect.Effect<Uint8Array, E>) => Effect.Effect<Uint8Array, E>
  readonly size: () => number
}

/** Every cache of this process still open: what `decryptedKeysHeld` counts. */
const open = new Set<KeyCache>()

/** How many decrypted keys the caches of this process hold now (for checks that a process holds none). */
export const decryptedKeysHeld = (): number => {
  let held = 0
  for (const cache of open) held += cache.size()
  return held
}

interface Entry {
  readonly bytes: Uint8Array
  timer?: Fiber.RuntimeFiber<void>
}

/** The id of an entry: the HMAC under the cache's key of its parts, each length-prefixed. */
const idOf = (macKey: Buffer, parts: ReadonlyArray<string>) => {
  const mac = nodeCrypto.createHmac("sha256", macKey)
  for (const part of parts) {
    // Length-prefixed, so that no two lists of parts are read alike.
    const bytes = Buffer.from(part, "utf8")
    const length = Buffer.alloc(4)
    length.writeUInt32BE(bytes.length)
    mac.update(length).update(bytes)
    bytes.fill(0)
  }
  return mac.digest("base64")
}

export const make = (options: { readonly ttl: Duration.DurationInput; readonly maxEntries: number }): Effect.Effect<KeyCache, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ttl = Duration.decode(options.ttl)
    const macKey = nodeCrypto.randomBytes(32)
    const entries = new Map<string, Entry>()
    const inFlight = new Map<string, Deferred.Deferred<void, unknown>>()
    const scope = yield* Effect.scope
    let closed = options.maxEntries < 1 || !Duration.greaterThan(ttl, Duration.zero)

    const remove = (id: string): Fiber.RuntimeFiber<void> | undefined => {
      const entry = entries.get(id)
      if (entry === undefined) return undefined
      entries.delete(id)
      entry.bytes.fill(0)
      return entry.timer
    }
    const evict = (id: string) => {
      const timer = remove(id)
      return timer === undefined ? Effect.void : Fiber.interrupt(timer)
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        open.delete(cache)
        closed = true
        for (const id of [...entries.keys()]) remove(id)
        macKey.fill(0)
      })
    )

    const lookup = (id: string): Uint8Array | undefined => {
      const entry = entries.get(id)
      if (entry === undefined) return undefined
      entries.delete(id)
      entries.set(id, entry)
      return Uint8Array.from(entry.bytes)
    }

    const insert = (id: string, bytes: Uint8Array) =>
      Effect.gen(function*() {
        if (closed) {
          bytes.fill(0)
          return
        }
        yield* evict(id)
        while (entries.size >= options.maxEntries) {
          const oldest = entries.keys().next().value
          if (oldest === undefined) break
          yield* evict(oldest)
        }
        const entry: Entry = { bytes }
        entries.set(id, entry)
        entry.timer = yield* Effect.sleep(ttl).pipe(
          Effect.zipRight(Effect.sync(() => {
            if (entries.get(id) === entry) remove(id)
          })),
          Effect.forkIn(scope)
        )
      })

    const get = <E>(parts: ReadonlyArray<string>, load: Effect.Effect<Uint8Array, E>): Effect.Effect<Uint8Array, E> =>
      Effect.suspend(() => {
        if (closed) return load
        const id = idOf(macKey, parts)
        const hit = lookup(id)
        if (hit !== undefined) return Effect.succeed(hit)
        const pending = inFlight.get(id) as Deferred.Deferred<void, E> | undefined
        if (pending !== undefined) return Effect.zipRight(Deferred.await(pending), get(parts, load))
        return Effect.flatMap(Deferred.make<void, E>(), (deferred) => {
          inFlight.set(id, deferred as Deferred.Deferred<void, unknown>)
          return load.pipe(
            Effect.flatMap((bytes) => {
              const copy = Uint8Array.from(bytes)
              return Effect.as(insert(id, bytes), copy)
            }),
            Effect.onExit((exit) =>
              Effect.suspend(() => {
                inFlight.delete(id)
                // A failure is shared (the same parts fail alike); after an interruption the waiters look again.
                return Exit.isFailure(exit) && Cause.isFailType(exit.cause)
                  ? Deferred.fail(deferred, exit.cause.error)
                  : Deferred.succeed(deferred, undefined)
              })
            )
          )
        })
      })

    const cache: KeyCache = { get, size: () => entries.size }
    open.add(cache)
    return cache
  })
