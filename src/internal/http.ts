/**
 * `@effect/platform`'s HTTP client modules, loaded when a live layer (JSON-RPC node, SNIP-29 paymaster, Chipi) is
 * first built rather than when the library is imported: they are a good part of the cost of a cold import, and an
 * application that runs on the devnet, or only uses the crypto and schemas, never needs them. Types come from
 * `import type`, which is erased.
 */
import type * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as Headers from "@effect/platform/Headers"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Effect, Layer } from "effect"

/** The modules, by path rather than the @effect/platform index, which loads its HTTP server and API modules too. */
export interface Modules {
  readonly FetchHttpClient: typeof FetchHttpClient
  readonly Headers: typeof Headers
  readonly HttpClient: typeof HttpClient
  readonly HttpClientRequest: typeof HttpClientRequest
}

let loading: Promise<Modules> | undefined

const load = (): Promise<Modules> =>
  loading ??= Promise.all([
    import("@effect/platform/FetchHttpClient"),
    import("@effect/platform/Headers"),
    import("@effect/platform/HttpClient"),
    import("@effect/platform/HttpClientRequest")
  ]).then(
    ([FetchHttpClient, Headers, HttpClient, HttpClientRequest]) => ({ FetchHttpClient, Headers, HttpClient, HttpClientRequest }),
    (error: unknown) => {
      // Not kept: a later build tries again (and fails the same way if the peer is really missing).
      loading = undefined
      throw error
    }
  )

/** The modules, imported once per process on first use. A missing `@effect/platform` peer is a defect. */
export const modules: Effect.Effect<Modules> = Effect.promise(load)

/** `FetchHttpClient.layer`, one value for the whole library, so that layers built together share it. */
export const fetchLayer: Layer.Layer<HttpClient.HttpClient> = Layer.unwrapEffect(
  Effect.map(modules, (m) => m.FetchHttpClient.layer)
)
