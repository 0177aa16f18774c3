/**
 * What the published package promises a stranger, checked on the sources (the install itself is measured by
 * `npm run bench`, test/bench/package.ts): effect and @effect/* are peers, not dependencies; nothing imports
 * starknet.js at run time; the root and Promise entries reach no HTTP server code, no @effect/platform-node and not
 * the @effect/platform index (which loads its server modules).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = resolve(fileURLToPath(new URL("..", import.meta.url)))
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
  devDependencies?: Record<string, string>
  files?: Array<string>
}

/** The bare specifiers (packages, node: builtins) reached from an entry through its relative imports. */
const reachedFrom = (entry: string, seen = new Set<string>()): Map<string, string> => {
  const reached = new Map<string, string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const text = readFileSync(file, "utf8")
    // Static imports and re-exports, type-only ones left out (they are erased).
    for (const match of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+"([^"]+)"/gms)) {
      const specifier = match[1]!
      if (specifier.startsWith(".")) {
        const target = resolve(dirname(file), specifier.replace(/\.js$/, ".ts"))
        visit(existsSync(target) ? target : target.replace(/\.ts$/, "/index.ts"))
      } else if (!reached.has(specifier)) reached.set(specifier, file.slice(root.length + 1))
    }
  }
  visit(join(root, entry))
  return reached
}

describe("the published package", () => {
  it("has effect and @effect/platform as required peers, @effect/platform-node as an optional one, none as dependencies", () => {
    const dependencies = Object.keys(manifest.dependencies ?? {})
    expect(dependencies.filter((name) => name === "effect" || name.startsWith("@effect/") || name === "starknet")).toEqual([])
    expect(manifest.peerDependencies).toMatchObject({ effect: expect.any(String), "@effect/platform": expect.any(String) })
    expect(manifest.peerDependenciesMeta?.["effect"]?.optional ?? false).toBe(false)
    expect(manifest.peerDependenciesMeta?.["@effect/platform"]?.optional ?? false).toBe(false)
    expect(manifest.peerDependenciesMeta?.["@effect/platform-node"]?.optional).toBe(true)
    // Each peer is also a dev dependency, so the repository's own install has it.
    for (const peer of Object.keys(manifest.peerDependencies ?? {})) expect(manifest.devDependencies?.[peer]).toBeDefined()
    expect(manifest.files).toEqual(expect.arrayContaining(["dist", "src", "LICENSE"]))
    expect(readFileSync(join(root, "LICENSE"), "utf8")).toContain("starknet-session-keys contributors")
  })

  for (const entry of ["src/index.ts", "src/promise.ts", "src/Devnet.ts"]) {
    it(`${entry} reaches no starknet.js, no HTTP server, no @effect/platform-node, not the @effect/platform index`, () => {
      const reached = reachedFrom(entry)
      expect([...reached.keys()]).toEqual(expect.arrayContaining(["effect", "@scure/starknet"]))
      const forbidden = [...reached].filter(([specifier]) =>
        specifier === "starknet" || specifier === "@effect/platform" || specifier.startsWith("@effect/platform-node") ||
        specifier === "node:http" || specifier === "node:https" || specifier === "node:net" || specifier === "@effect/platform/HttpServer"
      )
      expect(forbidden.map(([specifier, file]) => `${specifier} (from ${file})`)).toEqual([])
      // Everything else it reaches is a declared dependency or peer, or a builtin.
      const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})])
      const undeclared = [...reached.keys()].filter((specifier) => {
        if (specifier.startsWith("node:")) return false
        const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]!
        return !declared.has(name) && name !== "starknet-session-keys"
      })
      expect(undeclared).toEqual([])
    })
  }

  it("docs/examples import only what the docs say a user installs: the package, effect, @effect/platform, no optional @effect/platform-node", () => {
    const dir = join(root, "docs", "examples")
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      const text = readFileSync(join(dir, file), "utf8")
      const imported = [...text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]!)
      const outside = imported.filter((s) =>
        !s.startsWith(".") && !s.startsWith("node:") && s !== "effect" && !s.startsWith("effect/") && !s.startsWith("starknet-session-keys") &&
        s !== "@effect/platform" && !s.startsWith("@effect/platform/")
      )
      expect([file, outside]).toEqual([file, []])
    }
  })

  it("src/index.ts reaches none of @effect/platform's modules at import: its HTTP client is imported when a live layer is built", () => {
    const reached = [...reachedFrom("src/index.ts")].filter(([specifier]) => specifier.startsWith("@effect/platform"))
    expect(reached.map(([specifier, file]) => `${specifier} (from ${file})`)).toEqual([])
  })

  it("src/index.ts does not load the devnet's chain at import: it is imported when a devnet is made", () => {
    const files = new Set<string>()
    reachedFrom("src/index.ts", files)
    const devnet = [...files].map((file) => file.slice(root.length + 1)).filter((file) =>
      file === "src/internal/chain.ts" || (file.startsWith("src/devnet/") && file !== "src/devnet/types.ts")
    )
    expect(devnet).toEqual([])
  })
})
