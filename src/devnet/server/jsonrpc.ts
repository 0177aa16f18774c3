/**
 * JSON-RPC 2.0 for the served devnet: errors, params, and a method table.
 */
import { Effect, type Schema } from "effect"
import { decode } from "../../Schemas.js"

export class WireError {
  constructor(readonly code: number, readonly message: string, readonly data?: unknown) {}
}
export class Transient {
  readonly _tag = "Transient"
  constructor(readonly status: number = 503) {}
}

export type Params = Record<string, unknown> | ReadonlyArray<unknown> | undefined

/** A parameter by name, or by position (clients send either). */
export const param = (params: Params, name: string, position: number): unknown =>
  Array.isArray(params) ? params[position] : (params as Record<string, unknown> | undefined)?.[name]

/** SNIP-29 clients may send the params object alone or as a one-element array. */
export const objectParams = (params: Params): Record<string, unknown> =>
  (Array.isArray(params) ? params[0] : params) as Record<string, unknown> ?? {}

/** Decodes a method's params, or fails with JSON-RPC's -32602 naming what is wrong. */
export const decodeParams = <A, I>(schema: Schema.Schema<A, I>) => (input: unknown) =>
  decode(schema)(input).pipe(Effect.mapError((e) => new WireError(-32602, `Invalid params: ${e.message}`)))
export const paramsOf = <A, I>(schema: Schema.Schema<A, I>, params: Params) => decodeParams(schema)(objectParams(params))


export const invalid = (message: string) => Effect.fail(new WireError(-32602, `Invalid params: ${message}`))

export type Methods = Record<string, (params: Params) => Effect.Effect<unknown, WireError | Transient>>
