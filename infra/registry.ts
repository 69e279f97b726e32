/**
 * A real Confluent-compatible Schema Registry without Docker: Apicurio Registry 3.x from Maven Central, used
 * through its Confluent-compatible API (`/apis/ccompat/v7`), with its default in-memory H2 storage.
 *
 * Why Apicurio and not Karapace: Karapace is not published on PyPI (it installs only from source, with a git-pinned
 * avro fork) and needs Python >= 3.12, while these machines have 3.11; Confluent's own registry is not on Maven
 * Central. Apicurio's `apicurio-registry-app-<v>-all.tar.gz` is on Central and runs with `java -jar`.
 *
 * Apicurio 3.3 is built for Java 21 (class files 65), so it runs on the first JDK >= 21 found (the machine's
 * default java, JAVA_HOME, or a JDK under /usr/lib/jvm); the Kafka broker keeps the default java.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

export const APICURIO_VERSION = '3.3.3';
const MAVEN_DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
const MIN_JAVA = 21;

/** The Confluent-compatible base URL of a registry listening on `port`. */
export function registryUrl(port: number): string {
  return `http://127.0.0.1:${port}/apis/ccompat/v7`;
}

function registryHome(infraHome: string): string {
  return join(infraHome, `apicurio-registry-${APICURIO_VERSION}`);
}

/** The major version in `java -version` output: `openjdk version "21.0.1"` → 21, `"1.8.0_392"` → 8. */
export function parseJavaMajor(output: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (!m) return undefined;
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

/** Major version of a `java` binary (`java -version` prints to stderr), or undefined when it does not run. */
export function javaMajor(java: string): number | undefined {
  const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return parseJavaMajor(`${r.stderr}${r.stdout}`);
}

/** The first java >= 21: REGISTRY_JAVA, JAVA_HOME's, the default one, then JDKs under /usr/lib/jvm. */
export function findRegistryJava(): string {
  const candidates: string[] = [];
  if (process.env['REGISTRY_JAVA']) candidates.push(process.env['REGISTRY_JAVA']);
  if (process.env['JAVA_HOME']) candidates.push(join(process.env['JAVA_HOME'], 'bin', 'java'));
  candidates.push('java');
  const jvmDir = '/usr/lib/jvm';
  if (existsSync(jvmDir)) {
    for (const d of readdirSync(jvmDir).sort().reverse()) candidates.push(join(jvmDir, d, 'bin', 'java'));
  }
  for (const java of candidates) {
    const major = javaMajor(java);
    if (major !== undefined && major >= MIN_JAVA) return java;
  }
  throw new Error(
    `Apicurio Registry ${APICURIO_VERSION} needs Java ${MIN_JAVA} or later and none was found ` +
      `(tried ${candidates.join(', ')}); set REGISTRY_JAVA to a java >= ${MIN_JAVA}`,
  );
}

/** Downloads and unpacks the registry (Maven Central, ~160 MB, first run only; Maven caches it in ~/.m2). */
export function ensureRegistryInstalled(infraHome: string, log: (line: string) => void): string {
  const home = registryHome(infraHome);
  const jar = join(home, 'quarkus-run.jar');
  if (existsSync(jar)) return jar;
  log(`installing Apicurio Registry ${APICURIO_VERSION} from Maven Central into ${home} (first run only)`);
  const download = join(infraHome, 'downloads');
  mkdirSync(download, { recursive: true });
  const artifact = `io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`;
  const mvn = spawnSync(
    'mvn',
    [
      '-B',
      '-q',
      `${MAVEN_DEPENDENCY_PLUGIN}:copy`,
      `-Dartifact=${artifact}`,
      `-DoutputDirectory=${download}`,
    ],
    { cwd: infraHome, stdio: ['ignore', 2, 2] },
  );
  if (mvn.error || mvn.status !== 0) throw new Error(`mvn could not fetch ${artifact} (exit ${mvn.status})`);
  const tarball = join(download, `apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz`);
  // Unpacked beside its final place and renamed, so an interrupted first run never leaves a half install.
  const partial = `${home}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const tar = spawnSync('tar', ['xzf', tarball, '-C', partial], { stdio: ['ignore', 2, 2] });
  if (tar.status !== 0) throw new Error(`could not unpack ${tarball}`);
  if (!existsSync(join(partial, 'quarkus-run.jar'))) throw new Error(`${tarball} has no quarkus-run.jar`);
  rmSync(home, { recursive: true, force: true });
  renameSync(partial, home);
  rmSync(tarball, { force: true });
  return jar;
}

/** Answers when the registry serves its Confluent-compatible API. */
export async function probeRegistry(url: string): Promise<void> {
  const res = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`registry answered ${res.status}`);
}

/**
 * Spawns the registry detached (its own process group) on `port`, logging to `<stateDir>/registry.log`, and records
 * its pid in `<stateDir>/registry.pid`. The caller waits with {@link probeRegistry}.
 */
export function launchRegistry(
  infraHome: string,
  stateDir: string,
  port: number,
  log: (line: string) => void,
): number {
  const jar = ensureRegistryInstalled(infraHome, log);
  const java = findRegistryJava();
  mkdirSync(stateDir, { recursive: true });
  const out = openSync(join(stateDir, 'registry.log'), 'a');
  const child = spawn(
    java,
    [
      '-Xms64m',
      '-Xmx384m',
      '-XX:+ExitOnOutOfMemoryError',
      // C1 only: starts in about half the time on two cores; a test registry never gets hot.
      '-XX:TieredStopAtLevel=1',
      '-Dquarkus.http.host=127.0.0.1',
      `-Dquarkus.http.port=${port}`,
      // Its management interface would take port 9000 on every interface; nothing here uses it.
      '-Dquarkus.management.enabled=false',
      '-Dquarkus.http.access-log.enabled=false',
      '-jar',
      jar,
    ],
    { detached: true, stdio: ['ignore', out, out], cwd: stateDir },
  );
  child.unref();
  if (child.pid === undefined) throw new Error('could not start the schema registry');
  writeFileSync(join(stateDir, 'registry.pid'), String(child.pid));
  return child.pid;
}

/** The last lines of the registry's log, for an error message. */
export function registryLogTail(stateDir: string): string {
  const file = join(stateDir, 'registry.log');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '';
}
