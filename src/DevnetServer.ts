/**
 * The devnet served over HTTP: Starknet JSON-RPC, the SNIP-29 paymaster, the `devnet_*` admin methods and Chipi's
 * REST routes, answered by the devnet of the current context. Its own entry point
 * (`starknet-session-keys/devnet/server`), so that the library's root loads no HTTP server.
 *
 * @since 0.1.0
 */
export {
  /**
   * Serves the devnet of the current context over HTTP on loopback (by default) until the scope closes: its
   * `starknet_*`, `paymaster_*` and `devnet_*` methods as JSON-RPC, batches included. Answers the URL.
   *
   * @since 0.1.0
   * @category serving
   */
  serve,
  /** @since 0.1.0 */
  SERVE_DEFAULTS,
  /** @since 0.1.0 */
  ServeError,
  /** @since 0.1.0 */
  type ServeOptions
} from "./devnet/server/http.js"
export {
  /**
   * The bounds on the `devnet_*` admin values.
   *
   * @since 0.1.0
   */
  ADMIN_LIMITS
} from "./devnet/server/admin.js"
export {
  /** @since 0.1.0 */
  type ExecutionErrorShape
} from "./devnet/server/executionError.js"
export {
  /**
   * The bounds on a request body's shape (nesting, members, string bytes), checked before it is parsed.
   *
   * @since 0.2.0
   */
  SHAPE_DEFAULTS,
  /** @since 0.2.0 */
  type ShapeBounds
} from "./devnet/server/bounds.js"
