// docker compose on a host, as scripts: find the compose command (v2 plugin or v1 binary, Synology's
// /usr/local/bin, sudo -n when the socket is root's), build/pull and pin every image by id, wait
// until every service runs (and is healthy where it has a healthcheck), logs of what did not.
import { withHeredoc } from "./postgres.js";
import { sh, Shell } from "./quote.js";

/** How compose and docker are invoked on one host (argv prefixes, sudo included). */
export interface ComposeCommand {
  docker: string[];
  compose: string[];
  version: string;
  v2: boolean;
}

/**
 * Print `slipway:docker-bin`, `slipway:sudo`, `slipway:compose-bin`, `slipway:compose-sub` and
 * `slipway:compose-version`. Overrides (the host's commands:) are tried first; then PATH,
 * /usr/local/bin (Synology), /usr/bin. sudo -n only when the login user cannot reach the daemon.
 */
export function detectComposeScript(o: { docker?: string; compose?: string }): Shell {
  const composeWords = o.compose?.trim().split(/\s+/) ?? [];
  return sh`docker_bin=""
for c in ${o.docker ?? ""} docker /usr/local/bin/docker /usr/bin/docker; do
  [ -n "$c" ] || continue
  if p=$(command -v "$c" 2>/dev/null); then docker_bin=$p; break; fi
done
[ -n "$docker_bin" ] || { echo "docker is not installed on this host (looked in PATH, /usr/local/bin and /usr/bin); set the host's commands.docker" >&2; exit 1; }
sudo=""
if ! "$docker_bin" version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  if sudo -n "$docker_bin" version --format '{{.Server.Version}}' >/dev/null 2>&1; then sudo="sudo -n"
  else echo "cannot reach the docker daemon as $(id -un) with $docker_bin, nor with sudo -n (add the user to the docker group or allow sudo -n $docker_bin)" >&2; exit 1; fi
fi
echo "slipway:docker-bin $docker_bin"
echo "slipway:sudo $sudo"
${composeWords.length
  ? sh`set -- ${composeWords}
v=$($sudo "$@" version --short 2>/dev/null) || { echo ${`the configured compose command '${composeWords.join(" ")}' does not work on this host`} >&2; exit 1; }
echo "slipway:compose-bin $1"; shift; echo "slipway:compose-sub $*"`
  : sh`if v=$($sudo "$docker_bin" compose version --short 2>/dev/null); then echo "slipway:compose-bin $docker_bin"; echo "slipway:compose-sub compose"
else
  cb=""
  for c in docker-compose /usr/local/bin/docker-compose /usr/bin/docker-compose; do
    if p=$(command -v "$c" 2>/dev/null); then cb=$p; break; fi
  done
  [ -n "$cb" ] || { echo "neither 'docker compose' (v2 plugin) nor docker-compose (v1) is installed on this host; set the host's commands.compose" >&2; exit 1; }
  v=$($sudo "$cb" version --short 2>/dev/null) || { echo "$cb version failed" >&2; exit 1; }
  echo "slipway:compose-bin $cb"; echo "slipway:compose-sub"
fi`}
echo "slipway:compose-version $v"`;
}

/** Assemble the detected marks into argv prefixes. */
export function composeCommand(marks: (name: string) => string | undefined): ComposeCommand {
  const sudo = (marks("sudo") ?? "").split(/\s+/).filter(Boolean);
  const dockerBin = marks("docker-bin");
  const bin = marks("compose-bin");
  const version = (marks("compose-version") ?? "").replace(/^v/, "");
  if (!dockerBin || !bin || !version) throw new Error("could not detect docker compose on the host");
  const sub = (marks("compose-sub") ?? "").split(/\s+/).filter(Boolean);
  return { docker: [...sudo, dockerBin], compose: [...sudo, bin, ...sub], version, v2: !/^1\./.test(version) };
}

/** compose argv for a project in a release directory, with its files and optional override files. */
export function composeArgs(c: ComposeCommand, o: { project: string; dir: string; files: string[]; overrides?: string[] }): string[] {
  return [...c.compose, "-p", o.project, "--project-directory", o.dir, ...[...o.files.map((f) => `${o.dir}/${f}`), ...(o.overrides ?? [])].flatMap((f) => ["-f", f])];
}

/** Write `text` to a file only its owner can read: created under umask 077 (a secret, or what is derived from one). */
export function privateFileScript(file: string, text: string): Shell {
  return sh`(umask 077
${withHeredoc(sh`cat > ${file}`, text)}
)`;
}

/**
 * `compose config` of a release into the staged directory, then printed (base64) after
 * `slipway:config`. The config holds every interpolated secret, compose's stderr may quote them:
 * both are created 0600 (umask 077); on failure, stderr without the lines naming a password or secret.
 */
export function composeConfigScript(args: string[], o: { dir: string; staged: string; files: string[] }): Shell {
  const out = `${o.staged}/compose.config.yml`;
  const err = `${o.staged}/compose.config.err`;
  return sh`cd ${o.dir}
(umask 077; ${args} config > ${out} 2> ${err}) || { echo ${`compose rejected ${o.files.join(", ")}:`} >&2; grep -v -i -e password -e secret ${err} | tail -n 20 >&2; exit 1; }
echo slipway:config; base64 -w0 ${out}; echo`;
}

/** A compose override that sets each service's image (a build tag or a pinned image id). */
export function imageOverride(images: Record<string, string>): string {
  const services = Object.entries(images)
    .map(([svc, image]) => `  ${JSON.stringify(svc)}:\n    image: ${JSON.stringify(image)}`)
    .join("\n");
  // 3.x without a minor works for v1 (1.27+ merges versions) and v2 (ignores it)
  return `version: "3"\nservices:\n${services}\n`;
}

/** The image tag that keeps a release's image alive (and prunable) after its tag moves on. */
export const releaseImageTag = (project: string, service: string, releaseId: string) =>
  `slipway/${project.toLowerCase()}-${service.toLowerCase().replace(/[^a-z0-9_.-]/g, "-")}:${releaseId.toLowerCase()}`;

export interface ImagePlan {
  /** services built from a build: section (tagged with their release tag by the build override) */
  build: string[];
  /** services whose image is pulled when missing (or always) */
  pull: { service: string; image: string }[];
  pullPolicy: "missing" | "always" | "never";
}

/**
 * Build and pull, then resolve every service's image to its id, tag it with the release tag and
 * print `slipway:image <service> <id> <repo digests>`.
 */
export function prepareImagesScript(c: ComposeCommand, o: { buildArgs: string[]; plan: ImagePlan; project: string; releaseId: string }): Shell {
  const docker = c.docker;
  const lines: Shell[] = [];
  if (o.plan.build.length) lines.push(sh`${o.buildArgs} build ${o.plan.build} 2>&1 | tail -n 40 >&2; [ "\${PIPESTATUS[0]}" = 0 ] || { echo ${`building ${o.plan.build.join(", ")} failed (the build output is above)`} >&2; exit 1; }`);
  for (const p of o.plan.pull) {
    const pull = sh`${docker} pull ${p.image} >&2 || { echo ${`image ${p.image} of service ${p.service} is not on the host and pulling it failed`} >&2; exit 1; }`;
    lines.push(
      o.plan.pullPolicy === "always"
        ? pull
        : o.plan.pullPolicy === "missing"
          ? sh`${docker} image inspect ${p.image} >/dev/null 2>&1 || { ${pull}; }`
          : sh`${docker} image inspect ${p.image} >/dev/null 2>&1 || { echo ${`image ${p.image} of service ${p.service} is not on the host (pull: never)`} >&2; exit 1; }`,
    );
  }
  const all = [...o.plan.build.map((s) => ({ service: s, image: releaseImageTag(o.project, s, o.releaseId) })), ...o.plan.pull];
  for (const { service, image } of all) {
    const tag = releaseImageTag(o.project, service, o.releaseId);
    lines.push(sh`id=$(${docker} image inspect -f '{{.Id}}' ${image}) || { echo ${`image ${image} of service ${service} is not on the host`} >&2; exit 1; }
${image === tag ? sh`:` : sh`${docker} tag "$id" ${tag}`}
printf 'slipway:image %s %s %s\\n' ${service} "$id" "$(${docker} image inspect -f '{{join .RepoDigests ","}}' "$id")"`);
  }
  return new Shell(lines.map(String).join("\n"));
}

/**
 * Wait until every listed service has a container that runs the pinned image and is running
 * (healthy where it has a healthcheck), then stays so (same restart count) over the window. On
 * failure: each failing service's state, health log and `docker logs --tail` on stderr.
 */
export function waitHealthyScript(c: ComposeCommand, o: { project: string; services: Record<string, string> | { file: string }; timeoutSec: number; windowSec: number; logLines?: number }): Shell {
  const docker = c.docker;
  // service=image-id pairs: given, or read on the host from a release's images file
  const expect = "file" in o.services ? sh`$(cat ${o.services.file})` : sh`${Object.entries(o.services).map(([svc, id]) => `${svc}=${id}`)}`;
  return sh`${"file" in o.services ? sh`[ -s ${o.services.file} ] || { echo ${`${o.services.file} is missing: no pinned images to wait for`} >&2; exit 1; }` : sh`:`}
states() {
  ids=$(${docker} ps -aq --filter ${`label=com.docker.compose.project=${o.project}`} --filter label=com.docker.compose.oneoff=False)
  [ -z "$ids" ] || ${docker} inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if index .State "Health"}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}} {{.Image}} {{.Id}}' $ids
}
check() {  # sets bad (services not ready), fatal (services that exited) and sig (restart counts)
  bad=""; fatal=""; sig=""
  st=$(states)
  for e in ${expect}; do
    svc=\${e%%=*}; want=\${e#*=}
    line=$(printf '%s\\n' "$st" | awk -v s="$svc" -v w="$want" '$1 == s && $5 == w' | head -n 1)
    if [ -z "$line" ]; then bad="$bad $svc:no-container-with-the-pinned-image"; continue; fi
    set -- $line
    sig="$sig $svc:$4"
    case "$2/$3" in
      running/healthy|running/none) ;;
      exited/*|dead/*) fatal="$fatal $svc"; bad="$bad $svc:$2" ;;
      *) bad="$bad $svc:$2/$3" ;;
    esac
  done
}
report() {
  for svc in $1; do
    svc=\${svc%%:*}
    id=$(printf '%s\\n' "$st" | awk -v s="$svc" '$1 == s {print $6; exit}')
    [ -n "$id" ] || { echo "--- $svc: no container" >&2; continue; }
    echo "--- $svc ($(${docker} inspect -f '{{.Name}}: {{.State.Status}}{{if index .State "Health"}}, health {{.State.Health.Status}}{{end}}, exit code {{.State.ExitCode}}, restarts {{.RestartCount}}' "$id"))" >&2
    ${docker} inspect -f '{{if index .State "Health"}}{{range .State.Health.Log}}health check exit {{.ExitCode}}: {{.Output}}{{end}}{{end}}' "$id" 2>/dev/null | tail -n 6 >&2
    echo "--- docker logs --tail ${o.logLines ?? 30} $svc:" >&2
    ${docker} logs --tail ${o.logLines ?? 30} "$id" 2>&1 | tail -n ${o.logLines ?? 30} >&2
  done
}
deadline=$((SECONDS + ${o.timeoutSec}))
while :; do
  check
  [ -z "$bad" ] && break
  if [ -n "$fatal" ] || [ $SECONDS -ge $deadline ]; then
    report "$bad"
    echo "compose services not healthy after $((SECONDS + ${o.timeoutSec} - deadline))s:$bad" >&2; exit 1
  fi
  sleep 0.5
done
first="$sig"
end=$((SECONDS + ${o.windowSec}))
while [ $SECONDS -lt $end ]; do
  sleep 0.5
  check
  if [ -n "$bad" ] || [ "$sig" != "$first" ]; then
    report "$bad $(printf '%s\\n' $first $sig | sort | uniq -u | cut -d: -f1 | sort -u | tr '\\n' ' ')"
    echo "compose services did not stay up within the ${o.windowSec}s stabilisation window:$bad (restart counts$first ->$sig)" >&2; exit 1
  fi
done
echo "slipway:healthy$(printf ' %s' $sig)"`;
}

/**
 * Remove release image tags of releases that are gone (pruned), keeping the newest `keep` per
 * service; docker itself refuses to delete an image a container uses.
 */
export function pruneImagesScript(c: ComposeCommand, o: { project: string; keepReleases: string[]; keep: number }): Shell {
  const repoPrefix = `slipway/${o.project.toLowerCase()}-`;
  return sh`${c.docker} images --format '{{.Repository}}:{{.Tag}}' | grep -F ${repoPrefix} | sort -r | awk -F: -v keep=${o.keep} -v list=${o.keepReleases.map((r) => r.toLowerCase()).join(",")} '
BEGIN { n = split(list, k, ","); for (i = 1; i <= n; i++) live[k[i]] = 1 }
{ seen[$1]++; if (seen[$1] > keep && !($2 in live)) print }' | while read -r ref; do
  ${c.docker} rmi "$ref" >/dev/null 2>&1 && echo "slipway:image-pruned $ref"
done; true`;
}
