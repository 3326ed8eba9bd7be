"""skdcore.gradient_revision vs the float64 flatten-and-project reference, dispatcher checks, errors."""
import pytest
import torch

import skdcore  # noqa: F401  (loads the ops)
from skdcore.ops import gradient_revision, gradient_revision_apply, gradient_revision_gram
from skdcore.reference.gradient_revision import gradient_revision_reference, pcgrad_order

SHAPES = [(3, 4), (5,), (2, 3, 3), (1,), (4100,), (0,), (7, 1, 1)]  # mixed, one empty, one > a chunk
TOLERANCE = {torch.float32: {"rtol": 1e-5, "atol": 1e-5}, torch.float64: {"rtol": 1e-10, "atol": 1e-10}}


def make_grads(K, dtype=torch.float32, device="cpu", shapes=SHAPES, seed=0):
    generator = torch.Generator().manual_seed(seed)
    task = [torch.randn(s, generator=generator, dtype=dtype).to(device) for s in shapes]
    distill = [[torch.randn(s, generator=generator, dtype=dtype).to(device) for s in shapes]
               for _ in range(K)]
    return task, distill


def assert_matches_reference(task, distill, result, **options):
    expected, expected_stats = gradient_revision_reference(task, distill, **options)
    dtype = task[0].dtype
    for got, want in zip(result.grads, expected):
        torch.testing.assert_close(got, want, **TOLERANCE[dtype])
    torch.testing.assert_close(result.stats.cpu(), expected_stats, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("mode", ["skd", "pcgrad"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("K", [0, 1, 3, 5])
def test_matches_reference(device, mode, dtype, K):
    task, distill = make_grads(K, dtype, device)
    result = gradient_revision(task, distill, mode=mode, seed=7)
    assert result.stats.shape == (2, K) and result.stats.dtype == torch.float64
    assert_matches_reference(task, distill, result, mode=mode, seed=7)


def test_no_conflict_projects_nothing():
    task, distill = make_grads(3)
    # g_k = task + positive noise along task: <g_k, g_t> > 0 for every k
    distill = [[t * (k + 1) + 0.01 * d for t, d in zip(task, grads)] for k, grads in enumerate(distill)]
    result = gradient_revision(task, distill)
    assert not result.projected.any()
    for i, got in enumerate(result.grads):
        torch.testing.assert_close(got, task[i] + sum(grads[i] for grads in distill))
    assert (result.cosine > 0.99).all()


def test_all_conflict_projects_everything():
    task, distill = make_grads(3, torch.float64)
    distill = [[-t + 0.1 * d for t, d in zip(task, grads)] for grads in distill]
    result = gradient_revision(task, distill)
    assert result.projected.all()
    assert (result.cosine < 0).all()
    # every revised distillation gradient is orthogonal to the task gradient (up to eps)
    def flat(grads):
        return torch.cat([g.reshape(-1) for g in grads])

    revised_sum = flat(result.grads) - flat(task)
    assert abs(revised_sum.dot(flat(task)).item()) < 1e-8
    assert_matches_reference(task, distill, result)


def test_zero_task_gradient_uses_eps_path():
    task, distill = make_grads(2)
    task = [torch.zeros_like(t) for t in task]
    result = gradient_revision(task, distill)
    for got in result.grads:
        assert torch.isfinite(got).all()
    # cos := 0, nothing projected
    torch.testing.assert_close(result.stats, torch.zeros(2, 2, dtype=torch.float64))
    for i, got in enumerate(result.grads):
        torch.testing.assert_close(got, distill[0][i] + distill[1][i])


def test_k0_returns_task_gradient():
    task, _ = make_grads(0)
    result = gradient_revision(task, [])
    assert result.stats.shape == (2, 0)
    for got, t in zip(result.grads, task):
        torch.testing.assert_close(got, t)


def test_none_gradients_are_skipped_consistently():
    task, distill = make_grads(2)
    # param 1: no gradient at all (skipped); param 2: no task gradient (counts as zeros, like
    # SKD's adaption layer); param 3: one distillation loss does not reach it
    task[1] = task[2] = None
    distill[0][1] = distill[1][1] = None
    distill[1][3] = None
    result = gradient_revision(task, distill)
    assert result.grads[1] is None
    zeros_filled_task = [t if t is not None else torch.zeros(s) for t, s in zip(task, SHAPES)]
    zeros_filled = [[g if g is not None else torch.zeros(s) for g, s in zip(grads, SHAPES)]
                    for grads in distill]
    expected, stats = gradient_revision_reference(zeros_filled_task, zeros_filled)
    for i, got in enumerate(result.grads):
        if i != 1:
            torch.testing.assert_close(got, expected[i], **TOLERANCE[torch.float32])
    torch.testing.assert_close(result.stats, stats, rtol=1e-6, atol=1e-9)
    # in place: the skipped parameter's output is left alone
    out = [torch.full(s, 5.0) for s in SHAPES]
    gradient_revision(task, distill, out=out)
    assert (out[1] == 5.0).all()
    torch.testing.assert_close(out[0], expected[0], **TOLERANCE[torch.float32])


def test_in_place_into_task_gradients_and_non_contiguous_out():
    task, distill = make_grads(3)
    expected, _ = gradient_revision_reference(task, distill)
    aliased = [t.clone() for t in task]
    gradient_revision(aliased, distill, out=aliased)  # out IS task_grads, e.g. p.grad
    for got, want in zip(aliased, expected):
        torch.testing.assert_close(got, want, **TOLERANCE[torch.float32])
    out = [torch.empty(tuple(reversed(s))).T if len(s) == 2 else torch.empty(s) for s in SHAPES]
    assert not out[0].is_contiguous()
    gradient_revision(task, distill, out=out)
    torch.testing.assert_close(out[0], expected[0], **TOLERANCE[torch.float32])


def test_non_contiguous_inputs():
    task, distill = make_grads(2, shapes=[(6, 5)])
    task_t = [task[0].T.contiguous().T]
    assert not task_t[0].is_contiguous()
    result = gradient_revision(task_t, distill)
    assert_matches_reference(task, distill, result)


def test_pcgrad_deterministic_by_seed():
    task, distill = make_grads(5)
    distill = [[-t * 0.5 + d for t, d in zip(task, grads)] for grads in distill]
    first = gradient_revision(task, distill, mode="pcgrad", seed=3)
    again = gradient_revision(task, distill, mode="pcgrad", seed=3)
    for a, b in zip(first.grads, again.grads):
        assert torch.equal(a, b)
    orders = {tuple(pcgrad_order(seed, 1, 5)) for seed in range(20)}
    assert len(orders) > 1  # the seed does change the order
    assert sorted(pcgrad_order(11, 2, 5)) == [1, 3, 4, 5]
    for seed in (0, 1, 2):
        assert_matches_reference(task, distill, gradient_revision(task, distill, mode="pcgrad", seed=seed),
                                 mode="pcgrad", seed=seed)


def test_result_independent_of_thread_count():
    task, distill = make_grads(3, shapes=[(300, 700), (5000,)])
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = gradient_revision(task, distill)
    finally:
        torch.set_num_threads(threads)
    multi = gradient_revision(task, distill)
    assert torch.equal(single.stats, multi.stats)
    for a, b in zip(single.grads, multi.grads):
        assert torch.equal(a, b)


@pytest.mark.parametrize("mode", ["skd", "pcgrad"])
def test_stages_equal_fused(mode):
    task, distill = make_grads(3)
    gram = gradient_revision_gram(task, distill, mode=mode)
    assert gram.shape == (4, 4) and gram.dtype == torch.float64
    flat = [torch.cat([g.reshape(-1).double() for g in grads]) for grads in [task, *distill]]
    torch.testing.assert_close(gram[0], torch.stack([flat[0].dot(v) for v in flat]))
    staged = gradient_revision_apply(task, distill, gram, mode=mode, seed=1)
    fused = gradient_revision(task, distill, mode=mode, seed=1)
    for a, b in zip(staged.grads, fused.grads):
        assert torch.equal(a, b)
    # Gram matrices of disjoint parameter shards add up (what the distributed driver relies on)
    half = len(task) // 2
    first = gradient_revision_gram(task[:half], [g[:half] for g in distill], mode=mode)
    second = gradient_revision_gram(task[half:], [g[half:] for g in distill], mode=mode)
    parts = first + second
    torch.testing.assert_close(parts, gram)


def test_opcheck():
    task, distill = make_grads(2, shapes=[(3, 4), (5,)])
    flat = [g for grads in distill for g in grads]
    gram = torch.ops.skdcore.gradient_revision_gram(task, flat, 2, "pcgrad")
    out = [torch.empty_like(t) for t in task]
    ops = torch.ops.skdcore
    torch.library.opcheck(ops.gradient_revision.default, (task, flat, 2, 1e-12, "skd", 0))
    torch.library.opcheck(ops.gradient_revision.default, (task, flat, 2, 1e-12, "pcgrad", 5))
    torch.library.opcheck(ops.gradient_revision_.default, (out, task, flat, 2, 1e-12, "skd", 0))
    torch.library.opcheck(ops.gradient_revision_gram.default, (task, flat, 2, "skd"))
    torch.library.opcheck(ops.gradient_revision_apply.default, (task, flat, gram, 1e-12, "pcgrad", 0))
    torch.library.opcheck(ops.gradient_revision_apply_.default, (out, task, flat, gram, 1e-12, "pcgrad", 0))
    torch.library.opcheck(ops.gradient_revision.default, (task, [], 0, 1e-12, "skd", 0))


def test_not_differentiable():
    task, distill = make_grads(1, shapes=[(4,)])
    task[0].requires_grad_()
    grads, _ = torch.ops.skdcore.gradient_revision(task, distill[0], 1)
    with pytest.raises(RuntimeError, match="not implemented"):
        grads[0].sum().backward()


def test_torch_compile_fullgraph():
    task, distill = make_grads(3, shapes=[(3, 4), (5,)])

    def step(task, distill):
        return gradient_revision(task, distill, mode="skd").grads

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    for got, want in zip(compiled(task, distill), step(task, distill)):
        torch.testing.assert_close(got, want)


def test_errors_name_the_argument():
    task, distill = make_grads(2, shapes=[(3, 4), (5,)])
    with pytest.raises(ValueError, match=r"distill_grads\[1\] has 1 gradients but task_grads has 2"):
        gradient_revision(task, [distill[0], distill[1][:1]])
    with pytest.raises(ValueError,
                       match=r"distill_grads\[0\]\[1\] has shape \[6\] but task_grads\[1\] has shape \[5\]"):
        gradient_revision(task, [[distill[0][0], torch.zeros(6)], distill[1]])
    with pytest.raises(ValueError, match=r"distill_grads\[1\]\[1\] has shape"):
        gradient_revision([task[0], None], [distill[0], [distill[1][0], torch.zeros(6)]])
    with pytest.raises(TypeError, match=r"distill_grads\[0\] must be a list of tensors"):
        gradient_revision(task, [torch.zeros(3)])
    with pytest.raises(TypeError, match=r"distill_grads\[0\]\[0\] has dtype Double"):
        gradient_revision(task, [[distill[0][0].double(), distill[0][1]]])
    with pytest.raises(TypeError, match=r"task_grads\[0\] must be float32 or float64"):
        gradient_revision([t.half() for t in task], [])
    with pytest.raises(ValueError, match="mode must be one of"):
        gradient_revision(task, distill, mode="cagrad")
    with pytest.raises(ValueError, match=r"out has 1 tensors but task_grads has 2"):
        gradient_revision(task, distill, out=[torch.empty(3, 4)])
    with pytest.raises(ValueError, match=r"out\[1\] has shape \[4\] but task_grads\[1\] has shape \[5\]"):
        gradient_revision(task, distill, out=[torch.empty(3, 4), torch.empty(4)])
    with pytest.raises(ValueError, match=r"num_losses \* len\(task_grads\)"):
        torch.ops.skdcore.gradient_revision(task, distill[0], 2)
    with pytest.raises(ValueError, match=r"gram must have shape \(K\+1, K\+1\) = \(3, 3\)"):
        gradient_revision_apply(task, distill, torch.zeros(2, 2, dtype=torch.float64))


def test_no_parameters():
    result = gradient_revision([], [[], []])
    assert result.grads == [] and result.stats.shape == (2, 2)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    task, distill = make_grads(3, shapes=SHAPES + [(100_000,)])
    for mode in ("skd", "pcgrad"):
        cpu = gradient_revision(task, distill, mode=mode, seed=2)
        gpu = gradient_revision([t.cuda() for t in task], [[g.cuda() for g in grads] for grads in distill],
                                mode=mode, seed=2)
        for a, b in zip(cpu.grads, gpu.grads):
            torch.testing.assert_close(b.cpu(), a, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(gpu.stats.cpu(), cpu.stats, rtol=1e-9, atol=1e-12)


@pytest.mark.cuda
def test_cuda_many_tensors_without_synchronising():
    # More tensors than one by-value table holds (48), one split across tables (> 320 chunks of
    # 8192): the CUDA op passes its tensor table as kernel arguments, with no host<->device copy,
    # so it runs under sync debug mode "error" (the old table went through a pageable copy).
    shapes = [(3, 5), (17,), (1,), (64, 3, 1, 1)] * 30 + [(3_000_000,), (9000,)]
    task, distill = make_grads(2, shapes=shapes, seed=4)
    cuda_task = [t.cuda() for t in task]
    cuda_distill = [g.cuda() for grads in distill for g in grads]
    out = [torch.empty_like(t) for t in cuda_task]
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        options = (2, 1e-12, "pcgrad", 3)  # num_losses, eps, projection, seed
        grads, stats = torch.ops.skdcore.gradient_revision(cuda_task, cuda_distill, *options)
        in_place_stats = torch.ops.skdcore.gradient_revision_(out, cuda_task, cuda_distill, *options)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    cpu = gradient_revision(task, distill, mode="pcgrad", seed=3)
    for got, got_in_place, want in zip(grads, out, cpu.grads):
        torch.testing.assert_close(got.cpu(), want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got_in_place.cpu(), want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(stats.cpu(), cpu.stats, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(in_place_stats.cpu(), cpu.stats, rtol=1e-9, atol=1e-12)


def test_devices_register_only_the_two_stages():
    # gradient_revision = gram then apply: the composites are registered once, for every device.
    has_kernel = torch._C._dispatch_has_kernel_for_dispatch_key
    for name in ("gradient_revision", "gradient_revision_", "gradient_revision_apply"):
        assert has_kernel(f"skdcore::{name}", "CompositeExplicitAutograd"), name
        assert not has_kernel(f"skdcore::{name}", "CPU"), name
    for name in ("gradient_revision_gram", "gradient_revision_apply_"):
        assert has_kernel(f"skdcore::{name}", "CPU"), name
        assert not has_kernel(f"skdcore::{name}", "CompositeExplicitAutograd"), name
