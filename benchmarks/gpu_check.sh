#!/usr/bin/env bash
# GPU check, for a machine with a CUDA torch and nvcc: build the CUDA variant, run the CUDA tests,
# the benchmarks on the GPU and the demo, within a time budget, in order of importance.
#
#   OUT=/tmp/gpu SKDCORE_COMMIT=$(git rev-parse --short HEAD) bash benchmarks/gpu_check.sh [budget_s]
#   STAGES="build install tests-cuda bench-graph-conv" bash benchmarks/gpu_check.sh   # a subset
#   (keep build and install in STAGES unless skdcore is already installed with CUDA)
#
# Open GPU questions (2026-12-05, issue #22), in order; each fits one device call (600 s, build
# ~35 s of it):
#   1. STAGES="build install tests-cuda bench-graph-matching bench-graph-matching-tf32" ... 570
#      (every CUDA test incl. autocast on the card, gradient_revision under sync debug mode "error",
#      graph_matching's default gemm path with TF32 matmuls allowed; target: fwd+bwd >= 2x eager
#      and >= 1x compile at C=256, P=625 and 1875, TF32 on and off)
#   2. STAGES="build install bench-gradient-revision bench-graph-conv bench-graph-conv-fp32" ... 570
#      (gradient_revision op >= 10x eager at 3.1 M params now that its tensor table is passed by
#      value; graph_conv's gemm and fused paths, eager with and without TF32, target fwd+bwd >=
#      1.2x eager at every shape)
#   3. STAGES="build install bench-graph-conv-autocast bench-train-step-stgcn" ... 570
#      (graph_conv under autocast bfloat16: the gemm path's 16-bit products vs eager/compile under
#      autocast; the ST-GCN step with the chunked adjacency gradient)
#   4. STAGES="build install bench-train-step-stgcn-bf16 bench-train-step-stgcn-bf16-compile demo demo-bf16" ... 540
#      (the bf16 / compiled SKD step vs the fp32 reference, target >= 4x for ST-GCN B=16 T=100;
#      the demo's final accuracies under train.amp: bf16 within 1 point of fp32; the wheel's name)
#
# Writes to $OUT: summary.txt (what ran, exit codes, times), build.log, tests.log, bench.log,
# demo.log, demo-bf16.log and the wheel it built (reusable: pip install it to skip the build next time).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu_out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
budget=${1:-480}
deadline=$((SECONDS + budget))
py=${PYTHON:-python3}
summary="$out/summary.txt"
export PYTHONUNBUFFERED=1 SKDCORE_COMMIT=${SKDCORE_COMMIT:-unknown}

# stage NAME LOG LIMIT CMD...: runs CMD with at most LIMIT seconds (less if the budget runs out),
# appending its output to LOG and one line to the summary.
stage() {
  local name=$1 log=$2 limit=$3
  shift 3
  if [[ -n "${STAGES:-}" && " $STAGES " != *" $name "* ]]; then
    return 0
  fi
  local left=$((deadline - SECONDS - 5))
  ((left < limit)) && limit=$left
  if ((limit < 10)); then
    echo "$name: skipped (budget spent)" | tee -a "$summary"
    return 1
  fi
  echo "== $name" >>"$log"
  local start=$SECONDS
  timeout "$limit" "$@" >>"$log" 2>&1
  local rc=$?
  echo "$name: rc=$rc in $((SECONDS - start)) s (limit $limit s)" | tee -a "$summary"
  return $rc
}

{
  date
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
  nvcc --version | tail -n 2
  ls /usr/local/cuda/include 2>/dev/null | grep -E "^(cublas_v2|cusparse|cudnn)\.h$" | tr '\n' ' '
  echo "commit $SKDCORE_COMMIT, budget $budget s"
} 2>&1 | tee "$summary"

# Only the card's own architecture: half the nvcc time of the wheel's default "80;90".
arch=$($py -c "import torch; p = torch.cuda.get_device_capability(); print(f'{p[0]}{p[1]}')")
wheel_dir=$(mktemp -d)
SKDCORE_CUDA=ON SKDCORE_CUDA_ARCHS=$arch TORCH_CUDA_ARCH_LIST=${arch:0:1}.${arch:1} CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
  stage build "$out/build.log" 300 $py -m pip wheel --no-build-isolation --no-deps -w "$wheel_dir" . || {
  tail -n 60 "$out/build.log"
  exit 1
}
cp "$wheel_dir"/*.whl "$out/" 2>/dev/null  # none when STAGES leaves out build
ls "$wheel_dir" | tee -a "$summary"  # SKDCORE_CUDA=ON: skdcore-0.1.0+pt<torch>cu<cuda>-...whl
stage install "$out/build.log" 60 $py -m pip install --no-deps --force-reinstall "$wheel_dir"/*.whl || exit 1
(cd /tmp && $py -c "import skdcore; print(skdcore.build_info())") 2>&1 | tee -a "$summary"

stage tests-cuda "$out/tests.log" 240 $py -m pytest tests -k "cuda and not emulated" -q -rfEs -p no:cacheprovider
grep -E "passed|failed|error" "$out/tests.log" | tail -n 3 | tee -a "$summary"

cd benchmarks
stage bench-graph-matching "$out/bench.log" 120 $py bench_graph_matching.py --device cuda
stage bench-graph-matching-tf32 "$out/bench.log" 120 $py bench_graph_matching.py --device cuda --tf32-matmuls
stage bench-graph-matching-large "$out/bench.log" 120 $py bench_graph_matching.py --device cuda --large
stage bench-graph-conv "$out/bench.log" 120 $py bench_graph_conv.py --device cuda --rounds 1
stage bench-graph-conv-fp32 "$out/bench.log" 120 $py bench_graph_conv.py --device cuda --rounds 1 --no-tf32
stage bench-graph-conv-autocast "$out/bench.log" 120 $py bench_graph_conv.py --device cuda --rounds 1 --autocast
stage bench-gradient-revision "$out/bench.log" 90 $py bench_gradient_revision.py --device cuda --no-compile --repeats 5
stage bench-temporal-shift "$out/bench.log" 90 $py bench_temporal_shift.py --device cuda
stage bench-normalize-adjacency "$out/bench.log" 60 $py bench_normalize_adjacency.py --device cuda
stage bench-train-step "$out/bench.log" 120 $py bench_train_step.py --device cuda --frames 100 300
stage bench-train-step-stgcn "$out/bench.log" 90 $py bench_train_step.py --device cuda --model st_gcn
# mixed precision / torch.compile of the skdcore step (the reference stays fp32 eager; peak memory skipped
# to fit the budget: the fp32 stages above measure it)
stage bench-train-step-stgcn-bf16 "$out/bench.log" 90 \
  $py bench_train_step.py --device cuda --model st_gcn --amp bf16 --no-memory
stage bench-train-step-stgcn-bf16-compile "$out/bench.log" 180 \
  $py bench_train_step.py --device cuda --model st_gcn --amp bf16 --compile --no-memory
stage bench-train-step-bf16 "$out/bench.log" 120 \
  $py bench_train_step.py --device cuda --frames 100 300 --amp bf16 --no-memory
cd ..
stage demo "$out/demo.log" 180 skd demo --out "$(mktemp -d)"
[[ -f "$out/demo.log" ]] && tail -n 15 "$out/demo.log" >>"$summary"
stage demo-bf16 "$out/demo-bf16.log" 180 skd demo --amp bf16 --out "$(mktemp -d)"
[[ -f "$out/demo-bf16.log" ]] && tail -n 15 "$out/demo-bf16.log" >>"$summary"
