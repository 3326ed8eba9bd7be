"""Procedural skeleton actions on the NTU RGB+D 25-joint layout (the demo's embedded data).

Every clip is produced by forward kinematics on the NTU kinematic tree (rooted at
``spine_base``, bone lengths in metres scaled per subject), driven by joint-angle curves
that differ per action class.  Variation per clip: subject body size and proportions,
amplitude and style jitter of every angle, speed (frequency for periodic actions,
duration for one-shot ones), start time, camera yaw/pitch/distance, an optional idle
second person, and sensor noise.

Classes come in confusable groups on purpose (right vs left wave, wave vs phone call,
walk vs run, punch vs point, squat vs bow vs jump) so that losing joints to occlusion
really costs accuracy: the signal separating them sits in one limb or in the speed.

Coordinates are camera-space like Kinect: x right, y up, z away from the camera, the
subject about 3 m in front of it.  Each clip is generated from ``(seed, index)`` alone,
so any subset can be produced in any order or process and comes out identical.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from ..layouts import NTU25
from .skeleton_tree import parents, topological_order

FPS = 30.0

# Rest pose, arms hanging, in the body frame: x to the subject's left, y up, z forward.
# Offset of each joint from its parent in the tree rooted at spine_base.
_REST_OFFSETS = {
    "spine_base": (0.0, 0.0, 0.0),
    "spine_mid": (0.0, 0.26, 0.0),
    "spine_shoulder": (0.0, 0.25, 0.0),
    "neck": (0.0, 0.08, 0.0),
    "head": (0.0, 0.13, 0.01),
    "left_shoulder": (0.17, -0.03, 0.0),
    "right_shoulder": (-0.17, -0.03, 0.0),
    "left_elbow": (0.0, -0.28, 0.0),
    "right_elbow": (0.0, -0.28, 0.0),
    "left_wrist": (0.0, -0.25, 0.0),
    "right_wrist": (0.0, -0.25, 0.0),
    "left_hand": (0.0, -0.07, 0.0),
    "right_hand": (0.0, -0.07, 0.0),
    "left_thumb": (-0.02, -0.04, 0.03),
    "right_thumb": (0.02, -0.04, 0.03),
    "left_hand_tip": (0.02, -0.05, -0.02),
    "right_hand_tip": (-0.02, -0.05, -0.02),
    "left_hip": (0.09, -0.03, 0.0),
    "right_hip": (-0.09, -0.03, 0.0),
    "left_knee": (0.0, -0.42, 0.0),
    "right_knee": (0.0, -0.42, 0.0),
    "left_ankle": (0.0, -0.40, 0.0),
    "right_ankle": (0.0, -0.40, 0.0),
    "left_foot": (0.0, -0.06, 0.11),
    "right_foot": (0.0, -0.06, 0.11),
}

# Segment groups scaled together per subject (arm length, leg length, torso, shoulder width).
_SEGMENT_GROUP = {
    "spine_mid": "torso", "spine_shoulder": "torso", "neck": "torso", "head": "torso",
    "left_shoulder": "width", "right_shoulder": "width", "left_hip": "width", "right_hip": "width",
    "left_elbow": "arm", "right_elbow": "arm", "left_wrist": "arm", "right_wrist": "arm",
    "left_knee": "leg", "right_knee": "leg", "left_ankle": "leg", "right_ankle": "leg",
}

ACTION_NAMES = (
    "wave_right", "wave_left", "phone_call", "walk", "run", "squat", "jump",
    "punch_right", "point_right", "kick_right", "clap", "bow", "raise_both_arms", "turn_around",
    # fine-grained twins of earlier classes: the difference is a small fast motion that
    # occlusion + window-mean imputation blurs (wave_right, clap, bow)
    "hand_up_right", "hands_together", "nod_head",
)

_CONTROLS = (
    "yaw", "spine_bend", "spine_twist", "neck_bend",
    "l_sh_flex", "l_sh_abd", "l_sh_in", "l_sh_twist", "l_elbow",
    "r_sh_flex", "r_sh_abd", "r_sh_in", "r_sh_twist", "r_elbow",
    "l_hip_flex", "l_hip_abd", "l_knee", "r_hip_flex", "r_hip_abd", "r_knee",
    "lift", "forward",
)


class SyntheticClips(NamedTuple):
    data: np.ndarray       # (N, 3, T, 25, M) float32, metres, camera space
    labels: np.ndarray     # (N,) int64 in [0, num_classes)
    subjects: np.ndarray   # (N,) int64 subject id in [0, num_subjects)
    class_names: tuple


_AXIS_PLANE = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}


def _rot(axis: str, angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) right-handed rotation matrices about a body axis by ``angle`` radians."""
    angle = np.asarray(angle, dtype=np.float64)
    i, j = _AXIS_PLANE[axis]
    c, s = np.cos(angle), np.sin(angle)
    R = np.zeros(angle.shape + (3, 3))
    R[..., 3 - i - j, 3 - i - j] = 1.0
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., i, j] = -s
    R[..., j, i] = s
    return R


def _bump(s: np.ndarray) -> np.ndarray:
    """0 -> 1 -> 0 smooth bump over progress s in [0, 1]."""
    return np.sin(np.pi * np.clip(s, 0.0, 1.0)) ** 2


# One function per action: (controls dict, tau, s, amp, on, rng) -> fills the dict with joint-angle
# curves (radians). ``tau``: seconds since the action started (speed-scaled, for periodic motion);
# ``s``: progress in [0, 1] of a one-shot action; ``on``: a bump that rises quickly, stays, falls.
# NB: each draws from ``rng`` in a fixed order: changing an action's draws changes every later clip value.
_d = np.deg2rad


def _wave(side):
    def controls(c, tau, s, amp, on, rng):
        osc = np.sin(2 * np.pi * rng.uniform(1.6, 2.4) * tau)
        c[f"{side}_sh_abd"] = on * _d(80 + 10 * amp) + on * _d(12) * osc
        c[f"{side}_sh_flex"] = on * _d(20)
        c[f"{side}_sh_twist"] = on * _d(90)
        c[f"{side}_elbow"] = on * (_d(70) + _d(25 * amp) * osc)
    return controls


def _phone_call(c, tau, s, amp, on, rng):
    c["r_sh_flex"] = on * _d(35 + 10 * amp)
    c["r_sh_abd"] = on * _d(25)
    c["r_sh_twist"] = on * _d(60)
    c["r_elbow"] = on * _d(140)
    c["neck_bend"] = on * _d(-8) * np.sin(2 * np.pi * 0.3 * tau)


def _gait(run):
    def controls(c, tau, s, amp, on, rng):
        freq = rng.uniform(1.5, 1.8) if run else rng.uniform(0.8, 1.0)
        phase = 2 * np.pi * freq * tau
        hip = _d(38 if run else 24) * amp
        knee_amp = _d(85 if run else 45)
        c["l_hip_flex"] = hip * np.sin(phase)
        c["r_hip_flex"] = -hip * np.sin(phase)
        c["l_knee"] = knee_amp * np.clip(np.sin(phase - 1.2), 0, None)
        c["r_knee"] = knee_amp * np.clip(-np.sin(phase - 1.2), 0, None)
        arm = _d(45 if run else 22) * amp
        c["l_sh_flex"] = -arm * np.sin(phase)
        c["r_sh_flex"] = arm * np.sin(phase)
        c["l_elbow"] = np.full_like(tau, _d(90 if run else 20))
        c["r_elbow"] = np.full_like(tau, _d(90 if run else 20))
        c["spine_bend"] = np.full_like(tau, _d(12 if run else 3))
        # NB: slow ground speed so a 2-3 s clip stays inside a Kinect-sized room
        c["forward"] = (0.9 if run else 0.45) * tau
        c["lift"] = (0.06 if run else 0.015) * np.abs(np.sin(phase))
    return controls


def _squat(c, tau, s, amp, on, rng):
    depth = _bump(s) * amp
    c["l_hip_flex"] = c["r_hip_flex"] = _d(100) * depth
    c["l_knee"] = c["r_knee"] = _d(115) * depth
    c["spine_bend"] = _d(25) * depth
    c["l_sh_flex"] = c["r_sh_flex"] = _d(75) * depth


def _jump(c, tau, s, amp, on, rng):
    crouch = _bump(np.clip(s / 0.45, 0, 1))
    air = _bump(np.clip((s - 0.4) / 0.35, 0, 1))
    c["l_hip_flex"] = c["r_hip_flex"] = _d(55) * crouch + _d(25) * air
    c["l_knee"] = c["r_knee"] = _d(75) * crouch + _d(45) * air
    c["spine_bend"] = _d(20) * crouch
    c["l_sh_flex"] = c["r_sh_flex"] = -_d(40) * crouch + _d(150) * air * amp
    c["lift"] = 0.35 * amp * air


def _punch_right(c, tau, s, amp, on, rng):
    # repeated fast extensions from a guard position
    pulse = np.clip(np.sin(2 * np.pi * rng.uniform(1.2, 1.8) * tau), 0, None) ** 2
    c["r_sh_flex"] = on * (_d(55) + _d(35) * pulse * amp)
    c["r_elbow"] = on * (_d(120) - _d(110) * pulse)
    c["l_sh_flex"] = on * _d(50)
    c["l_elbow"] = on * _d(120)
    c["spine_twist"] = on * _d(-15) * pulse


def _point_right(c, tau, s, amp, on, rng):
    c["r_sh_flex"] = on * _d(85 + 5 * amp)
    c["r_sh_in"] = on * _d(10) * np.sin(2 * np.pi * 0.4 * tau)
    c["r_elbow"] = on * _d(8)


def _kick_right(c, tau, s, amp, on, rng):
    k = _bump(np.clip((s - 0.2) / 0.6, 0, 1))
    snap = _bump(np.clip((s - 0.35) / 0.3, 0, 1))
    c["r_hip_flex"] = _d(75) * k * amp
    c["r_knee"] = _d(90) * k - _d(80) * snap
    c["l_knee"] = _d(15) * k
    c["spine_bend"] = -_d(10) * k
    c["l_sh_abd"] = c["r_sh_abd"] = _d(25) * k


def _clap(c, tau, s, amp, on, rng):
    osc = 0.5 + 0.5 * np.cos(2 * np.pi * rng.uniform(1.8, 2.6) * tau)
    c["l_sh_flex"] = c["r_sh_flex"] = on * _d(70)
    c["l_sh_in"] = c["r_sh_in"] = on * (_d(10) + _d(40) * osc * amp)
    c["l_elbow"] = c["r_elbow"] = on * _d(55)


def _bow(c, tau, s, amp, on, rng):
    b = _bump(s) * amp
    c["spine_bend"] = _d(65) * b
    c["neck_bend"] = _d(20) * b
    c["l_hip_flex"] = c["r_hip_flex"] = _d(15) * b


def _raise_both_arms(c, tau, s, amp, on, rng):
    up = _bump(s) * amp
    c["l_sh_flex"] = c["r_sh_flex"] = _d(165) * up
    c["l_elbow"] = c["r_elbow"] = _d(10) * up


def _turn_around(c, tau, s, amp, on, rng):
    direction = rng.choice([-1.0, 1.0])
    c["yaw"] = direction * np.pi * np.clip(s, 0, 1) ** 1.2
    step = np.sin(2 * np.pi * 1.4 * tau) * (s > 0) * (s < 1)
    c["l_hip_flex"] = _d(15) * np.clip(step, 0, None)
    c["r_hip_flex"] = _d(15) * np.clip(-step, 0, None)
    c["l_knee"] = _d(30) * np.clip(step, 0, None)
    c["r_knee"] = _d(30) * np.clip(-step, 0, None)


def _hand_up_right(c, tau, s, amp, on, rng):
    # wave_right's pose, held, with only a slow drift
    drift = np.sin(2 * np.pi * rng.uniform(0.2, 0.4) * tau)
    c["r_sh_abd"] = on * _d(80 + 10 * amp) + on * _d(5) * drift
    c["r_sh_flex"] = on * _d(20)
    c["r_sh_twist"] = on * _d(90)
    c["r_elbow"] = on * (_d(70) + _d(8) * drift)


def _hands_together(c, tau, s, amp, on, rng):
    # clap's arm pose, hands held together, small slow rubbing
    rub = np.sin(2 * np.pi * rng.uniform(0.5, 0.9) * tau)
    c["l_sh_flex"] = c["r_sh_flex"] = on * (_d(70) + _d(4) * rub)
    c["l_sh_in"] = c["r_sh_in"] = on * _d(48)
    c["l_elbow"] = c["r_elbow"] = on * _d(55)


def _nod_head(c, tau, s, amp, on, rng):
    nod = np.clip(np.sin(2 * np.pi * rng.uniform(1.8, 2.6) * tau), 0, None)
    c["neck_bend"] = on * _d(25) * nod * amp
    c["spine_bend"] = on * _d(4) * nod


def _idle(c, tau, s, amp, on, rng):
    sway = np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * tau + rng.uniform(0, 6.3))
    c["spine_twist"] = _d(8) * sway
    c["l_sh_flex"] = _d(10) * sway
    c["r_sh_flex"] = -_d(10) * sway


_ACTIONS = {
    "wave_right": _wave("r"), "wave_left": _wave("l"), "phone_call": _phone_call,
    "walk": _gait(run=False), "run": _gait(run=True), "squat": _squat, "jump": _jump,
    "punch_right": _punch_right, "point_right": _point_right, "kick_right": _kick_right, "clap": _clap,
    "bow": _bow, "raise_both_arms": _raise_both_arms, "turn_around": _turn_around,
    "hand_up_right": _hand_up_right, "hands_together": _hands_together, "nod_head": _nod_head,
    "idle": _idle,  # the optional bystander, not a class
}


def _action_controls(name: str, tau: np.ndarray, s: np.ndarray, amp: float, rng) -> dict:
    """Joint-angle curves (radians) of one action (see the table ``_ACTIONS``)."""
    if name not in _ACTIONS:
        raise ValueError(f"unknown synthetic action {name!r}; known: {ACTION_NAMES}")
    on = _bump(np.clip(s * 1.0, 0, 1)) ** 0.25  # quickly up, stays, quickly down
    controls: dict = {}
    _ACTIONS[name](controls, tau, s, amp, on, rng)
    return controls


@functools.lru_cache(maxsize=1)
def _fk_tree():
    parent = parents(NTU25, root=NTU25.index("spine_base"))
    return parent, topological_order(parent)


def _forward_kinematics(controls: dict, offsets: np.ndarray, T: int) -> np.ndarray:
    """Joint positions (T, V, 3) in the body frame (y up) from angle curves."""
    names = NTU25.joint_names
    parent, order = _fk_tree()
    V = len(names)

    def get(key: str) -> np.ndarray:
        return np.broadcast_to(controls.get(key, 0.0), (T,)).astype(np.float64)

    local = [None] * V  # None: no joint rotation (saves a matmul per joint)
    local[names.index("spine_base")] = _rot("y", get("yaw"))
    local[names.index("spine_mid")] = _rot("y", get("spine_twist")) @ _rot("x", get("spine_bend"))
    local[names.index("neck")] = _rot("x", get("neck_bend"))
    for side, sign in (("l", 1.0), ("r", -1.0)):
        full = "left" if side == "l" else "right"
        local[names.index(f"{full}_shoulder")] = (
            _rot("y", -sign * get(f"{side}_sh_in")) @ _rot("x", -get(f"{side}_sh_flex"))
            @ _rot("z", sign * get(f"{side}_sh_abd")) @ _rot("y", sign * get(f"{side}_sh_twist"))
        )
        local[names.index(f"{full}_elbow")] = _rot("x", -get(f"{side}_elbow"))
        local[names.index(f"{full}_hip")] = (
            _rot("z", sign * get(f"{side}_hip_abd")) @ _rot("x", -get(f"{side}_hip_flex"))
        )
        local[names.index(f"{full}_knee")] = _rot("x", get(f"{side}_knee"))
    glob = [None] * V
    pos = np.zeros((T, V, 3))
    for j in order:
        p = parent[j]
        if p == j:
            glob[j] = local[j]
            continue
        pos[:, j] = pos[:, p] + glob[p] @ offsets[j]
        glob[j] = glob[p] if local[j] is None else glob[p] @ local[j]
    # Keep the lowest foot on the ground, then add the action's lift (jumps, running bounce).
    feet = [names.index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
    pos[:, :, 1] -= pos[:, feet, 1].min(axis=1, keepdims=True)
    pos[:, :, 1] += get("lift")[:, None]
    pos[:, :, 2] += get("forward")[:, None]  # walking/running advance along the initial heading
    return pos


def _subject_offsets(subject: int, seed: int) -> np.ndarray:
    """(V, 3) bone offsets of one subject: overall height and segment proportions vary."""
    rng = np.random.default_rng([seed, 7_777_777, subject])
    height = rng.uniform(0.85, 1.15)
    group_scale = {g: rng.uniform(0.92, 1.08) for g in ("torso", "width", "arm", "leg")}
    offsets = np.array([_REST_OFFSETS[n] for n in NTU25.joint_names], dtype=np.float64)
    for j, name in enumerate(NTU25.joint_names):
        offsets[j] *= height * group_scale.get(_SEGMENT_GROUP.get(name, ""), 1.0)
    return offsets


def _smooth_noise(rng, T: int, scale: float) -> np.ndarray:
    """Low-frequency random curve (sum of two random sinusoids), radians."""
    t = np.arange(T) / FPS
    out = np.zeros(T)
    for _ in range(2):
        amplitude = scale * rng.standard_normal()  # NB: draw order as before (same clips)
        frequency, phase = rng.uniform(0.1, 0.8), rng.uniform(0, 6.3)
        out += amplitude * np.sin(2 * np.pi * frequency * t + phase)
    return out


def _person(action: str, offsets: np.ndarray, T: int, rng, difficulty: float) -> np.ndarray:
    """One person's (T, V, 3) body-frame trajectory performing ``action``."""
    speed = rng.uniform(1 - 0.25 * difficulty, 1 + 0.25 * difficulty)
    start = int(rng.uniform(0, 0.15) * T)
    duration = max(8, int(T * rng.uniform(0.65, 0.85) / speed))
    frames = np.arange(T, dtype=np.float64)
    tau = np.clip(frames - start, 0, None) / FPS * speed
    s = np.clip((frames - start) / duration, 0.0, 1.0)
    amp = rng.uniform(1 - 0.2 * difficulty, 1 + 0.1 * difficulty)
    controls = _action_controls(action, tau, s, amp, rng)
    style = np.deg2rad(4.0) * difficulty
    for key in _CONTROLS[:-2]:
        controls[key] = controls.get(key, 0.0) + _smooth_noise(rng, T, style)
    return _forward_kinematics(controls, offsets, T)


def _to_camera(body: np.ndarray, yaw: float, pitch: float, position: np.ndarray) -> np.ndarray:
    """Body frame (subject facing +z) -> camera frame (subject facing the camera at yaw 0)."""
    facing = _rot("y", np.array([np.pi + yaw]))[0]
    tilt = _rot("x", np.array([pitch]))[0]
    return body @ (tilt @ facing).T + position


def synthesize_clip(
    index: int,
    *,
    num_frames: int = 64,
    num_classes: int = len(ACTION_NAMES),
    num_subjects: int = 20,
    num_persons: int = 2,
    second_person_prob: float = 0.3,
    noise_std: float = 0.01,
    difficulty: float = 1.0,
    max_view_yaw_deg: float = 60.0,
    seed: int = 0,
) -> tuple[np.ndarray, int, int]:
    """Clip number ``index`` of the synthetic set: ((3, T, 25, M) float32, label, subject).

    Labels cycle through the classes (balanced); everything else is drawn from a
    generator seeded by ``(seed, index)`` only.
    """
    if not 1 <= num_classes <= len(ACTION_NAMES):
        raise ValueError(f"num_classes must be in 1..{len(ACTION_NAMES)}, got {num_classes}")
    if num_frames < 8:
        raise ValueError(f"num_frames must be >= 8 for a recognisable motion, got {num_frames}")
    if num_persons < 1:
        raise ValueError(f"num_persons must be >= 1, got {num_persons}")
    rng = np.random.default_rng([seed, int(index)])
    label = int(index) % num_classes
    subject = int(rng.integers(num_subjects))  # NB: first draw; SyntheticSource.subjects() relies on it
    T = num_frames
    out = np.zeros((3, T, NTU25.num_joints, num_persons), dtype=np.float32)
    yaw = np.deg2rad(rng.uniform(-max_view_yaw_deg, max_view_yaw_deg))
    pitch = np.deg2rad(rng.uniform(-10, 10))
    camera_height = rng.uniform(0.7, 1.1)
    main_pos = np.array([rng.uniform(-0.5, 0.5), -camera_height, rng.uniform(2.6, 3.8)])
    body = _person(ACTION_NAMES[label], _subject_offsets(subject, seed), T, rng, difficulty)
    out[..., 0] = _to_camera(body, yaw, pitch, main_pos).transpose(2, 0, 1)
    if num_persons > 1 and rng.uniform() < second_person_prob:
        other = int(rng.integers(num_subjects))
        side = rng.choice([-1.0, 1.0])
        pos = main_pos + np.array([side * rng.uniform(0.8, 1.4), 0.0, rng.uniform(-0.4, 0.6)])
        bystander = _person("idle", _subject_offsets(other, seed), T, rng, difficulty)
        out[..., 1] = _to_camera(bystander, yaw + rng.uniform(-0.5, 0.5), pitch, pos).transpose(2, 0, 1)
    present = np.any(out != 0, axis=(0, 2), keepdims=True)  # (1, T, 1, M): keep absent persons at 0
    out += (noise_std * rng.standard_normal(out.shape)).astype(np.float32) * present
    return out, label, subject


def make_synthetic_dataset(
    num_samples: int,
    *,
    num_frames: int = 64,
    num_classes: int = len(ACTION_NAMES),
    seed: int = 0,
    start_index: int = 0,
    **clip_options,
) -> SyntheticClips:
    """``num_samples`` clips, indices ``start_index..start_index+num_samples-1``.

    Returns :class:`SyntheticClips` with ``data`` (N, 3, T, 25, M) float32, ``labels``,
    ``subjects`` and ``class_names``.  Options are those of :func:`synthesize_clip`
    (``num_subjects``, ``num_persons``, ``second_person_prob``, ``noise_std``,
    ``difficulty``, ``max_view_yaw_deg``).
    """
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    M = clip_options.get("num_persons", 2)
    data = np.zeros((num_samples, 3, num_frames, NTU25.num_joints, M), dtype=np.float32)
    labels = np.zeros(num_samples, dtype=np.int64)
    subjects = np.zeros(num_samples, dtype=np.int64)
    for i in range(num_samples):
        data[i], labels[i], subjects[i] = synthesize_clip(
            start_index + i, num_frames=num_frames, num_classes=num_classes, seed=seed, **clip_options
        )
    return SyntheticClips(data, labels, subjects, ACTION_NAMES[:num_classes])


TRAIN_FRACTION = 0.7  # of the subjects, in the synthetic cross-subject split


def train_subject_count(num_subjects: int = 20, train_fraction: float = TRAIN_FRACTION) -> int:
    """How many subjects train (ids 0 .. count-1) in :func:`subject_split`."""
    return round(num_subjects * train_fraction)


def subject_split(
    subjects: np.ndarray, num_subjects: int = 20, train_fraction: float = TRAIN_FRACTION
) -> np.ndarray:
    """Boolean training mask of a cross-subject split: the first subjects train, the rest test."""
    return np.asarray(subjects) < train_subject_count(num_subjects, train_fraction)


__all__ = [
    "ACTION_NAMES",
    "SyntheticClips",
    "make_synthetic_dataset",
    "subject_split",
    "synthesize_clip",
]
