#!/usr/bin/env bash
# The GPU check for one short window: ONE call of at most 420 s wall on an H100/H200, skdcore's CUDA
# build included, measuring every open target in order of importance, ending in one verdict table
# (measure, target, value, met). Needs a CUDA torch and nvcc on the GPU machine (docs/build-cuda.md).
#
#   OUT=/tmp/gpu bash benchmarks/gpu_check.sh            # the check (budget 400 s, BUDGET=... to change)
#   bash benchmarks/gpu_check.sh --dry-run               # the stage plan with estimated times, nothing run
#   DEVICE=cpu bash benchmarks/gpu_check.sh              # smoke run anywhere: tiny sizes, the installed
#                                                        # skdcore, no build (checks this script end to end)
#   STAGES="tests-cuda graph-matching" bash ...          # a subset (setup always runs)
#
# skdcore: a CUDA wheel carried along in dist/ (make wheel-cuda here: every arch torch ships) is
# installed when the machine's torch is the one it pins (~5 s); otherwise it is built there for the
# card's arch only (34 s on an H100/H200, RESULTS.md 2026-11-26). Each stage has a limit it is killed
# at, cut further so the whole run ends inside the budget; a stage that did not finish shows as "not
# measured" in the table. Writes to $OUT: summary.txt (the plan, stage times, the verdict table),
# setup.log, tests.log, bench.log, epoch.log.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
device=${DEVICE:-cuda}
budget=${BUDGET:-400}
# Stage limits are H100/H200 figures; the CPU smoke run on a shared 2-core machine needs far longer.
limit_scale=${LIMIT_SCALE:-$([[ $device == cpu ]] && echo 10 || echo 1)}
py=${PYTHON:-python3}
dry_run=0
[[ ${1:-} == --dry-run ]] && dry_run=1

# name | limit s | estimate s (H100/H200) | the targets it measures (shown when it did not finish)
PLAN=(
  "setup|120|40|the CUDA build of skdcore"
  "tests-cuda|100|60|CUDA test suite: 0 failed"
  "graph-matching|90|60|graph_matching fwd+bwd >= 2x eager and >= 1x compile, C=256, P=625 and 1875"
  "gradient-revision|40|15|gradient_revision op >= 10x eager at 3.1 M params"
  "skd-step|70|35|SKD step bf16 >= 4x fp32 reference (ST-GCN, B=16, T=100)"
  "graph-conv|60|25|graph_conv fwd+bwd >= 1.2x eager at every benchmark shape"
  "bench-epoch|90|60|bench_epoch: >= 445 clips/s, NTU-60 X-Sub epoch <= 90 s"
)

print_plan() {
  local total=0 line name limit est what
  printf '%-18s %8s %8s %10s  %s\n' stage "est s" "limit s" "cum est s" "measures"
  for line in "${PLAN[@]}"; do
    IFS='|' read -r name limit est what <<<"$line"
    total=$((total + est))
    printf '%-18s %8s %8s %10s  %s\n' "$name" "$est" "$limit" "$total" "$what"
  done
  echo "estimated total ${total} s of a ${budget} s budget (the call's limit: 420 s)"
}

if ((dry_run)); then
  print_plan
  exit 0
fi

out=${OUT:-gpu_out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
summary=$out/summary.txt
deadline=$((SECONDS + budget))
export PYTHONUNBUFFERED=1 SKDCORE_COMMIT=${SKDCORE_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
declare -A status

# stage NAME LOG CMD...: runs CMD within the stage's limit (less when the budget is nearly spent).
stage() {
  local name=$1 log=$2 line limit
  shift 2
  if [[ -n "${STAGES:-}" && $name != setup && " $STAGES " != *" $name "* ]]; then
    status[$name]="not run (STAGES)"
    return 0
  fi
  for line in "${PLAN[@]}"; do [[ $line == "$name|"* ]] && limit=$(($(cut -d'|' -f2 <<<"$line") * limit_scale)); done
  local left=$((deadline - SECONDS - 3))
  ((left < limit)) && limit=$left
  if ((limit < 10)); then
    status[$name]="skipped: budget spent"
    echo "$name: skipped (budget spent)" | tee -a "$summary"
    return 1
  fi
  echo "== $name" >>"$log"
  local start=$SECONDS
  timeout "$limit" "$@" >>"$log" 2>&1
  local rc=$?
  status[$name]=$([[ $rc == 0 ]] && echo ok || echo "rc=$rc$([[ $rc == 124 ]] && echo ', limit hit')")
  echo "$name: rc=$rc in $((SECONDS - start)) s (limit $limit s)" | tee -a "$summary"
  return $rc
}

# setup: the carried wheel if it fits this torch, else a one-arch build (the card's own).
setup() {
  if [[ $device == cpu ]]; then  # smoke mode: the skdcore already importable here
    $py -c "import skdcore; print('smoke run with', skdcore.__file__, skdcore.build_info())"
    return
  fi
  local wheel
  wheel=$(ls -t dist/skdcore-*+pt*cu*.whl 2>/dev/null | head -n 1)
  local tag
  tag=$($py -c "import torch; v = torch.__version__.split('+')[0].split('.'); \
print(f'+pt{v[0]}{v[1]}cu{torch.version.cuda.replace(\".\", \"\")}')")
  if [[ -n $wheel && $wheel == *"$tag"* ]]; then
    echo "installing the carried wheel $wheel"
    $py -m pip install --no-deps --force-reinstall "$wheel"
  else
    local arch
    arch=$($py -c "import torch; p = torch.cuda.get_device_capability(); print(f'{p[0]}{p[1]}')")
    echo "building for sm_$arch (carried wheel: '${wheel:-none}', this torch wants $tag)"
    local wheel_dir
    wheel_dir=$(mktemp -d)
    SKDCORE_CUDA=ON SKDCORE_CUDA_ARCHS=$arch CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
      $py -m pip wheel --no-build-isolation --no-deps -w "$wheel_dir" . &&
      cp "$wheel_dir"/*.whl "$out/" &&
      $py -m pip install --no-deps --force-reinstall "$wheel_dir"/*.whl
  fi
  (cd /tmp && $py -c "import skdcore; print(skdcore.__version__, skdcore.build_info())")
}

{
  date
  [[ $device == cpu ]] || nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
  echo "commit $SKDCORE_COMMIT, device $device, budget $budget s"
  print_plan
} 2>&1 | tee "$summary"

export -f setup
export py device out
stage setup "$out/setup.log" bash -c setup || { tail -n 40 "$out/setup.log"; }
if [[ $device == cpu ]]; then
  export PYTHONPATH=$repo/python${PYTHONPATH:+:$PYTHONPATH}
  quick=(--device cpu --quick --min-run-time 0.05)
  tests=(tests/test_cuda_wheel.py tests/ops/test_normalize_adjacency.py)
  epoch=(--device cpu --batches 2 --batch-size 8 --clips 64 --workers 0)
else
  quick=(--device cuda)
  tests=(tests -k "cuda and not emulated")
  epoch=(--device cuda --batches 30)
fi
stage tests-cuda "$out/tests.log" $py -m pytest -q -rfE -p no:cacheprovider "${tests[@]}"
tail -n 1 "$out/tests.log" | tee -a "$summary"
cd benchmarks
for target in graph-matching gradient-revision skd-step graph-conv; do
  stage "$target" "$out/bench.log" $py gpu_targets.py "$target" "${quick[@]}"
done
stage bench-epoch "$out/epoch.log" $py bench_epoch.py "${epoch[@]}"
cd "$repo"

# The verdict table: every VERDICT line, the tests and the epoch; a target whose stage did not finish
# is listed as not measured, with why.
STATUS=$(for key in "${!status[@]}"; do echo "$key=${status[$key]}"; done) PLAN_TEXT=$(printf '%s\n' "${PLAN[@]}") \
  $py - "$out" <<'PY' | tee -a "$summary"
import json, os, re, sys
out = sys.argv[1]
status = dict(line.split("=", 1) for line in os.environ["STATUS"].splitlines() if line)
plan = [line.split("|") for line in os.environ["PLAN_TEXT"].splitlines() if line]
def read(name):
    path = os.path.join(out, name)
    return open(path, errors="replace").read() if os.path.exists(path) else ""
rows = []
tests = read("tests.log")
counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|error|errors)", tests.splitlines()[-1] if tests else "")}
if status.get("tests-cuda", "").startswith(("ok", "rc=1")) and counts:
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    rows.append(("CUDA test suite", "0 failed", f"{counts.get('passed', 0)} passed, {failed} failed", failed == 0))
verdicts = [json.loads(line[8:]) for line in read("bench.log").splitlines() if line.startswith("VERDICT ")]
rows += [(v["measure"], v["target"], v["value"], v["met"]) for v in verdicts]
epoch = [json.loads(line[6:]) for line in read("epoch.log").splitlines() if line.startswith("EPOCH ")]
if epoch:
    e = epoch[-1]
    rows.append(("bench_epoch whole step, clips/s", f">= {e['goal_clips_per_s']}", f"{e['epoch_clips_per_s']:.1f}",
                 e["epoch_clips_per_s"] >= e["goal_clips_per_s"]))
    rows.append(("bench_epoch loader alone, clips/s", "(info)", f"{e['loader_clips_per_s']:.0f} ({e['workers']} workers)", None))
    rows.append(("NTU-60 X-Sub epoch, projected s", "<= 90", f"{e['ntu60_xsub_epoch_s']:.0f}", e["ntu60_xsub_epoch_s"] <= 90))
measured = {"tests-cuda": bool(counts), "bench-epoch": bool(epoch)}
for name, _, _, what in plan[1:]:
    done = measured.get(name, any(v["stage"] == name for v in verdicts))
    if status.get(name) != "ok" and not done:
        rows.append((what, "", f"not measured ({status.get(name, 'not run')})", None))
print("\n| measure | target | value | met |\n|---|---|---|---|")
for measure, target, value, met in rows:
    print(f"| {measure} | {target} | {value} | {'-' if met is None else ('yes' if met else 'NO')} |")
PY
