/**
 * The package as a stranger installs it: `npm pack`, then the tarball installed into an empty project next to
 * `effect` and `@effect/platform` (from the tarball and npm's cache, no registry). Prints: the copies of `effect` in
 * that tree (goal: exactly one), what the tarball adds beside its peers (goal <= 25 MB), whether every source map in
 * it resolves, the cold `import()` of the root entry against `import("effect")` in the same run (goal <= 1.3x), and
 * which packages and HTTP server code the root entry loads. Last, npm's answer to an app on an older effect (one
 * metadata look-up, nothing installed).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)))
const npm = (args: ReadonlyArray<string>, cwd: string) =>
  spawnSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=warn"], { cwd, encoding: "utf8" })
const versionOf = (name: string): string =>
  (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version

/** Bytes of the files under a folder (apparent sizes, as a tarball or a disk quota counts them). */
const sizeOf = (dir: string): number => {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += sizeOf(path)
    else if (entry.isFile()) total += statSync(path).size
  }
  return total
}

/** Every installed copy of a package under node_modules, nested ones included. */
const copiesOf = (dir: string, name: string): Array<string> => {
  const found: Array<string> = []
  const walk = (modules: string) => {
    if (!existsSync(modules)) return
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const scoped = entry.name.startsWith("@")
      const packages = scoped ? readdirSync(join(modules, entry.name)).map((n) => `${entry.name}/${n}`) : [entry.name]
      for (const pkg of packages) {
        const path = join(modules, pkg)
        const manifest = join(path, "package.json")
        if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === name) {
          found.push(`${path} (${(JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version})`)
        }
        walk(join(path, "node_modules"))
      }
    }
  }
  walk(join(dir, "node_modules"))
  return found
}

const project = (dir: string) => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "stranger-app", private: true, type: "module" }))
}

/** Installs from the cache only; says so when a package was missing there and the registry had to be asked. */
const install = (dir: string, specs: ReadonlyArray<string>): string => {
  const offline = npm(["install", "--offline", ...specs], dir)
  const engines = /EBADENGINE/.test(offline.stderr) ? "; npm warned of an unsupported engine" : "; no engine warning"
  if (offline.status === 0) return "offline" + engines
  console.log(`(not all in the cache: ${offline.stderr.split("\n").find((l) => l.includes("ERR")) ?? offline.stderr.slice(0, 200)})`)
  const online = npm(["install", "--prefer-offline", ...specs], dir)
  if (online.status !== 0) throw new Error(`npm install failed:\n${offline.stderr}\n${online.stderr}`)
  return "cache, with registry look-ups for what it lacked"
}

const MB = (bytes: number) => (bytes / 1e6).toFixed(1) + " MB"
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/**
 * One fresh Node process importing `specifier`: milliseconds of the import(), RSS after it, whether node:http's
 * server internals were loaded. With `trace`, a resolve hook also records every module reached (it slows the
 * import, so timed runs go without it).
 */
const coldImport = (dir: string, specifier: string, trace = false) => {
  const loaded = join(dir, `loaded-${Math.random().toString(36).slice(2)}.txt`)
  const hook = `import { appendFileSync } from "node:fs"\n` +
    `export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(loaded)}, r.url + "\\n"); return r }`
  const script = `
    ${trace ? `import { register } from "node:module"; register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hook)}))` : ""}
    const cpu = process.cpuUsage()
    const start = performance.now()
    let error = null
    try { await import(${JSON.stringify(specifier)}) } catch (e) { error = String(e && e.message || e).split("\\n")[0] }
    const ms = performance.now() - start
    const used = process.cpuUsage(cpu)
    const cpuMs = (used.user + used.system) / 1000
    const http = process.moduleLoadList.some((m) => m === "NativeModule _http_server")
    console.log(JSON.stringify({ ms, cpuMs, rss: process.memoryUsage().rss, error, http }))`
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: dir, encoding: "utf8" })
  const out = child.stdout.trim().split("\n").at(-1) ?? ""
  if (!out.startsWith("{")) throw new Error(`import of ${specifier} crashed: ${child.stderr.slice(0, 500)}`)
  const result = JSON.parse(out) as { ms: number; cpuMs: number; rss: number; error: string | null; http: boolean }
  const urls = existsSync(loaded) ? readFileSync(loaded, "utf8").split("\n").filter((u) => u !== "") : []
  const packages = new Set<string>()
  for (const url of urls) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
    if (match) packages.add(match[1]!)
  }
  return { ...result, packages: [...packages].sort() }
}

/** The `sources` of every source map in the installed package that point at no file. */
const unresolvedMaps = (pkg: string): { maps: number; missing: Array<string> } => {
  const missing: Array<string> = []
  let maps = 0
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith(".map")) {
        maps++
        const map = JSON.parse(readFileSync(path, "utf8")) as { sources: Array<string>; sourceRoot?: string }
        for (const source of map.sources) {
          if (!existsSync(resolve(dirname(path), map.sourceRoot ?? "", source))) missing.push(`${path} -> ${source}`)
        }
      }
    }
  }
  walk(join(pkg, "dist"))
  return { maps, missing }
}

export async function run(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "ssk-package-"))
  try {
    execFileSync("npm", ["pack", "--pack-destination", work, "--loglevel=error"], { cwd: root, stdio: ["ignore", "pipe", "inherit"] })
    const tarball = join(work, readdirSync(work).find((f) => f.endsWith(".tgz"))!)
    console.log(`tarball: ${MB(statSync(tarball).size)} packed`)
    const peers = [`effect@${versionOf("effect")}`, `@effect/platform@${versionOf("@effect/platform")}`]

    const baseline = join(work, "peers-only")
    project(baseline)
    install(baseline, peers)
    const app = join(work, "app")
    project(app)
    const how = install(app, [tarball, ...peers])
    console.log(`installed ${peers.join(", ")} and the tarball into an empty project (${how})`)

    const effects = copiesOf(app, "effect")
    console.log(`copies of effect in the tree: ${effects.length} (goal: exactly 1)${effects.map((e) => "\n  " + e.replace(app + "/", "")).join("")}`)
    const added = sizeOf(join(app, "node_modules")) - sizeOf(join(baseline, "node_modules"))
    console.log(
      `node_modules: ${MB(sizeOf(join(app, "node_modules")))} with the package, ${MB(sizeOf(join(baseline, "node_modules")))} with its peers alone: ` +
        `the package adds ${MB(added)} (goal <= 25 MB)`
    )
    const platformNode = copiesOf(app, "@effect/platform-node").length
    console.log(`@effect/platform-node installed: ${platformNode > 0 ? "yes" : "no (an optional peer)"}; starknet.js installed: ${copiesOf(app, "starknet").length > 0 ? "yes" : "no"}`)
    const maps = unresolvedMaps(join(app, "node_modules", "starknet-session-keys"))
    console.log(`source maps: ${maps.maps}, ${maps.missing.length === 0 ? "all sources resolve" : `${maps.missing.length} sources missing, e.g. ${maps.missing[0]}`}`)

    // Cold imports, alternating so that the machine's load falls on both alike.
    const rounds = 9
    const effectRuns: Array<ReturnType<typeof coldImport>> = []
    const rootRuns: Array<ReturnType<typeof coldImport>> = []
    for (let i = 0; i < rounds; i++) {
      effectRuns.push(coldImport(app, "effect"))
      rootRuns.push(coldImport(app, "starknet-session-keys"))
    }
    const first = rootRuns[0]!
    if (first.error !== null) {
      console.log(`import("starknet-session-keys") FAILS without the optional peer @effect/platform-node: ${first.error}`)
      install(app, [`@effect/platform-node@${versionOf("@effect/platform-node")}`])
      console.log(`(installed @effect/platform-node to measure the import anyway)`)
      rootRuns.length = 0
      effectRuns.length = 0
      for (let i = 0; i < rounds; i++) {
        effectRuns.push(coldImport(app, "effect"))
        rootRuns.push(coldImport(app, "starknet-session-keys"))
      }
    }
    const effectMs = median(effectRuns.map((r) => r.ms))
    const rootMs = median(rootRuns.map((r) => r.ms))
    // On a shared machine the load drifts between rounds: each round's ratio compares two processes started back to back.
    const ratios = rootRuns.map((r, i) => r.ms / effectRuns[i]!.ms)
    console.log(
      `cold import(), ${rounds} rounds of fresh processes: effect ${effectMs.toFixed(0)} ms (${MB(median(effectRuns.map((r) => r.rss)))} RSS), ` +
        `starknet-session-keys ${rootMs.toFixed(0)} ms (${MB(median(rootRuns.map((r) => r.rss)))} RSS) (medians); ` +
        `ratio per round: median ${median(ratios).toFixed(2)}x, range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}x (goal <= 1.3x)`
    )
    // CPU time is the work itself, which a busy machine inflates less than the wall clock.
    const cpuRatios = rootRuns.map((r, i) => r.cpuMs / effectRuns[i]!.cpuMs)
    console.log(
      `  CPU time of the same imports: effect ${median(effectRuns.map((r) => r.cpuMs)).toFixed(0)} ms, ` +
        `starknet-session-keys ${median(rootRuns.map((r) => r.cpuMs)).toFixed(0)} ms; ratio per round: median ${median(cpuRatios).toFixed(2)}x, ` +
        `range ${Math.min(...cpuRatios).toFixed(2)}-${Math.max(...cpuRatios).toFixed(2)}x`
    )
    // Where the root entry's extra time goes: one process importing its parts in order, CPU time of each step. The
    // HTTP client modules come last: the root does not load them, the live layers import them when built.
    const steps = JSON.parse(
      spawnSync(process.execPath, ["--input-type=module", "-e", `
        const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
        const out = {}
        for (const [name, specifiers] of [
          ["effect", ["effect"]],
          ["@scure/starknet", ["@scure/starknet"]],
          ["the package's own modules", ["starknet-session-keys"]],
          ["then, when a live layer is built, @effect/platform's client modules", ["@effect/platform/HttpClient", "@effect/platform/FetchHttpClient", "@effect/platform/HttpClientRequest", "@effect/platform/Headers"]]
        ]) { const a = cpu(); for (const s of specifiers) await import(s); out[name] = Math.round(cpu() - a) }
        console.log(JSON.stringify(out))`], { cwd: app, encoding: "utf8" }).stdout.trim().split("\n").at(-1) ?? "{}"
    ) as Record<string, number>
    console.log(`  in one process, CPU ms per step: ${Object.entries(steps).map(([k, v]) => `${k} ${v}`).join(", ")}`)
    const traced = coldImport(app, "starknet-session-keys", true)
    console.log(`the root entry loads: ${traced.packages.join(", ")}; HTTP server code: ${traced.http ? "YES" : "no"}`)
    for (const entry of ["starknet-session-keys/promise", "starknet-session-keys/devnet", "starknet-session-keys/devnet/server"]) {
      const r = coldImport(app, entry)
      console.log(`${entry}: ${r.error ?? `${r.ms.toFixed(0)} ms`}; HTTP server code: ${r.http ? "yes" : "no"}`)
    }

    // An app on an older effect: npm must refuse (ERESOLVE), not nest a second copy. A dry run: nothing installed.
    const older = join(work, "older-app")
    project(older)
    const refused = npm(["install", "--dry-run", "--prefer-offline", tarball, "effect@3.21"], older)
    const line = (refused.stderr.split("\n").find((l) => /ERESOLVE|Could not resolve|Conflicting peer/.test(l)) ?? refused.stderr.split("\n")[0] ?? "").trim()
    console.log(`next to effect@3.21: npm ${refused.status === 0 ? "ACCEPTED it (a second copy)" : `refuses: ${line}`}`)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
