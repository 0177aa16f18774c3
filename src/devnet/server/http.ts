/**
 * The devnet on the wire: its `starknet_*`, `paymaster_*` and `devnet_*` methods as JSON-RPC over HTTP (batches
 * included) and Chipi's REST routes, on `@effect/platform`'s HttpServer for Node. Injected faults show as HTTP 503,
 * as 429 with a `Retry-After`, or as a connection closed without an answer.
 */
import * as http from "node:http"
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { Effect, type Scope } from "effect"
import { Devnet } from "../types.js"
import type { Paymaster } from "../../Paymaster.js"
import type { StarknetRpc } from "../../StarknetRpc.js"
import { adminMethods } from "./admin.js"
import { type Params, Transient, WireError } from "./jsonrpc.js"
import { paymasterMethods } from "./paymaster.js"
import { restRoutes } from "./rest.js"
import { starknetMethods } from "./starknet.js"

type Request = { readonly id?: unknown; readonly method?: unknown; readonly params?: Params }

/**
 * Serves the devnet of the current context on HTTP until the scope closes; answers its URL. With `paymasterApiKey`,
 * `paymaster_*` requests want it in `x-paymaster-api-key`, as public paymasters do for sponsored mode (else SNIP-29
 * error 163).
 */
export const serve = (options: { readonly port?: number; readonly host?: string; readonly paymasterApiKey?: string } = {}): Effect.Effect<
  { readonly url: string; readonly port: number; readonly httpRequests: () => number },
  unknown,
  Scope.Scope | Devnet | StarknetRpc | Paymaster
> =>
  Effect.gen(function*() {
    const methods = { ...(yield* starknetMethods), ...(yield* paymasterMethods), ...(yield* adminMethods) }
    const rest = yield* restRoutes
    const host = options.host ?? "127.0.0.1"
    const server = yield* NodeHttpServer.make(() => http.createServer(), { port: options.port ?? 0, host })
    const one = (request: Request, apiKey: string | undefined) =>
      Effect.suspend(() => {
        const method = typeof request.method === "string" ? methods[request.method] : undefined
        if (method === undefined) return Effect.fail(new WireError(-32601, `Method not found: ${String(request.method)}`))
        if (options.paymasterApiKey !== undefined && String(request.method).startsWith("paymaster_") && apiKey !== options.paymasterApiKey) {
          return Effect.fail(new WireError(163, "An error occurred (UNKNOWN_ERROR)", "missing or invalid x-paymaster-api-key"))
        }
        return method(request.params)
      }).pipe(
        Effect.map((result) => ({ jsonrpc: "2.0", id: request.id ?? null, result })),
        Effect.catchIf((e): e is WireError => e instanceof WireError, (e) =>
          Effect.succeed({
            jsonrpc: "2.0",
            id: request.id ?? null,
            error: { code: e.code, message: e.message, ...(e.data !== undefined ? { data: e.data } : {}) }
          }))
      )
    const devnet = yield* Devnet
    let retryAfter = 1
    let httpRequests = 0
    const app = Effect.gen(function*() {
      httpRequests++
      retryAfter = (yield* devnet.faults).retryAfterSeconds ?? 1
      const req = yield* HttpServerRequest.HttpServerRequest
      const path = new URL(req.url, "http://devnet").pathname
      if (path.startsWith("/v1/")) return yield* rest(req.method, path, req.headers, req.method === "POST" ? yield* req.json : undefined)
      const body = (yield* req.json) as Request | ReadonlyArray<Request>
      const apiKey = req.headers["x-paymaster-api-key"]
      const answer = Array.isArray(body) ? yield* Effect.forEach(body, (r) => one(r, apiKey)) : yield* one(body as Request, apiKey)
      return HttpServerResponse.unsafeJson(answer)
    }).pipe(
      Effect.catchAll((e) => {
        if (!(e instanceof Transient)) {
          return Effect.succeed(HttpServerResponse.unsafeJson({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } }))
        }
        if (e.status === 0) {
          // A dropped connection: the socket closes and no answer is written.
          return Effect.map(HttpServerRequest.HttpServerRequest, (req) => {
            NodeHttpServerRequest.toIncomingMessage(req).socket.destroy()
            return HttpServerResponse.empty({ status: 503 })
          })
        }
        return Effect.succeed(
          e.status === 429
            ? HttpServerResponse.unsafeJson({ message: "Too Many Requests" }, { status: 429, headers: { "retry-after": String(retryAfter) } })
            : HttpServerResponse.unsafeJson({ message: "Service Unavailable" }, { status: 503 })
        )
      })
    )
    yield* server.serve(app)
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    return { url: `http://${host}:${port}`, port, httpRequests: () => httpRequests }
  })
