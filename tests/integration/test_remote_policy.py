"""Remote policies: ``python -m harness.serve`` + ``--policy remote`` on the toy suite, failures, the openpi
wire format and the openpi LIBERO observation adapter."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable

import msgpack
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

from harness.engine.episodes import make_episodes
from harness.errors import EpisodeError
from harness.eval import main as eval_main
from harness.registry import SUITES
from policies.remote.adapters import openpi_libero, quat_to_axis_angle
from policies.remote.policy import RemotePolicy
from policies.remote.wire import HARNESS_KEY, packb, unpackb
from tests.conftest import ROOT, comparable, run_dir_of

SERVED = ("greedy", "greedy_history", "random16")
BASE = ["--suite", "toy_reach", "--episodes-per-task", "3", "--videos", "0", "--no-progress"]


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]


def _start_server(name: str, preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen:
    """``python -m harness.serve --policy NAME --port 0`` on the toy suite (its first stdout line names the url)."""
    return subprocess.Popen(
        [sys.executable, "-m", "harness.serve", "--policy", name, "--port", "0", "--suite", "toy_reach"],
        cwd=ROOT, env={**os.environ, "HARNESS_PLUGINS": "tests.plugins"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn,
    )  # fmt: skip


@pytest.fixture(scope="module")
def servers():
    """One ``python -m harness.serve --port 0`` per served policy: {policy: url}; stopped with Ctrl-C."""
    procs = {name: _start_server(name) for name in SERVED}
    urls = {}
    for name, proc in procs.items():
        line = proc.stdout.readline()
        assert line.startswith(f"serving policy {name} on ws://"), line + proc.stderr.read()
        urls[name] = line.split()[4]
    yield urls
    for proc in procs.values():
        proc.send_signal(signal.SIGINT)
    for proc in procs.values():
        try:
            code = proc.wait(timeout=60)  # Ctrl-C stops it cleanly (slow on a loaded machine)
        except subprocess.TimeoutExpired:
            proc.kill()
            here = (signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, []))
            pytest.fail(f"harness.serve ignored SIGINT for 60 s (this process: SIGINT handler, blocked mask {here})")
        assert code == 0, proc.stderr.read()


def test_ctrl_c_stops_the_server_even_when_started_with_sigint_ignored_and_blocked():
    def ignore_and_block() -> None:  # what a parent can pass on: both survive exec
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    proc = _start_server("greedy", preexec_fn=ignore_and_block)
    try:
        assert proc.stdout.readline().startswith("serving policy greedy on ws://")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        proc.kill()


def _eval_here(capsys, *args: str) -> Path:
    """``python -m harness.eval ARGS`` in this process (saves an interpreter start); returns the run dir."""
    assert eval_main(list(args)) == 0, capsys.readouterr().err
    return Path(capsys.readouterr().out.strip().splitlines()[-1].removeprefix("results: "))


@pytest.mark.parametrize(
    "policy,extra",
    [
        ("greedy", []),
        ("greedy_history", []),  # observe() reaches the served policy
        ("random16", ["--planner", "vla_mean", "--n-samples", "4", "--subgoal-every", "4"]),  # sample(), rng
    ],
)
def test_served_policy_gives_the_in_process_episodes(capsys, tmp_path, servers, policy, extra):
    args = [*BASE, *extra, "--workers", "0"]
    local = _eval_here(capsys, *args, "--policy", policy, "--out", str(tmp_path / "local"))
    remote = _eval_here(
        capsys, *args, "--policy", "remote", "--policy-url", servers[policy], "--out", str(tmp_path / "remote")
    )
    reference = comparable(_records(local))
    assert len(reference) == 9 and all(r["error"] is None for r in reference)
    assert comparable(_records(remote)) == reference
    server = json.loads((remote / "manifest.json").read_text())["policy_server"]
    assert server["url"] == servers[policy] and server["metadata"]["policy"] == policy


def test_worker_processes_each_connect_through_the_cli(cli, capsys, tmp_path, servers):
    local = _eval_here(capsys, *BASE, "--workers", "0", "--policy", "greedy", "--out", str(tmp_path / "local"))
    remote = cli(
        "harness.eval", *BASE, "--workers", "2", "--policy", "remote", "--policy-url", servers["greedy"],
        "--out", str(tmp_path / "remote"),
    )  # fmt: skip
    assert remote.returncode == 0, remote.stderr
    assert comparable(_records(run_dir_of(remote))) == comparable(_records(local))


def test_remote_policy_contract(servers):
    task = SUITES.build("toy_reach").tasks()[0]
    policy = RemotePolicy(options=RemotePolicy.Options(policy_url=servers["random16"]))
    try:
        env = SUITES.build("toy_reach").make_env(task)
        obs = env.reset(0, 0)
        policy.reset(make_episodes([task], 1, 3)[0])
        chunk = policy.act(obs)
        assert chunk.shape == (16, task.action_dim) and chunk.dtype == np.float32
        rng = np.random.default_rng(0)
        samples = policy.sample(obs, 4, rng)
        assert samples.shape == (4, 16, task.action_dim) and np.all(np.isfinite(samples))
        # the server drew from a copy of rng's state and handed the advanced state back
        reference = np.random.default_rng(0)
        reference.uniform(size=(4, 16, 2))
        assert rng.random() == reference.random()
    finally:
        policy.close()


def test_unreachable_server_is_one_line_and_writes_nothing(cli, tmp_path):
    out = tmp_path / "runs"
    proc = cli("harness.eval", *BASE, "--policy", "remote", "--policy-url", "ws://127.0.0.1:9", "--out", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the policy server at ws://127.0.0.1:9" in lines[0], proc.stderr
    assert not out.exists() and proc.stdout == ""


JUNK = ["not_msgpack", "no_actions", "bad_shape", "text_error", "drop", "not_a_map", "silent"]
EXPECTED = [
    "reply is not msgpack",
    "reply has no 'actions'",
    "actions of shape (2, 5)",
    "server error: RuntimeError: boom",
    "connection closed",
    "reply is a str, not a map",
    "no reply within 1 s",
]


@pytest.fixture
def junk_server():
    """A websocket server that sends openpi-style metadata ({}), then answers request i with JUNK[i]."""
    count = iter(range(100))

    def handle(ws):
        ws.send(packb({}))
        with contextlib.suppress(ConnectionClosed):
            _answer_with_junk(ws)

    def _answer_with_junk(ws):
        for _ in ws:
            kind = JUNK[next(count) % len(JUNK)]
            if kind == "not_msgpack":
                ws.send(b"\xc1\xc1 junk")
            elif kind == "no_actions":
                ws.send(packb({"foo": np.zeros(3)}))
            elif kind == "bad_shape":
                ws.send(packb({"actions": np.zeros((2, 5))}))
            elif kind == "text_error":  # what openpi's server does when inference raises
                ws.send("Traceback (most recent call last):\nRuntimeError: boom\n")
                ws.close(1011)
            elif kind == "drop":
                ws.close()
            elif kind == "not_a_map":
                ws.send(packb("hello"))

    server, url = _thread_server(handle)
    yield url
    server.shutdown()


def test_garbage_server_makes_error_episodes_and_the_run_finishes(capsys, tmp_path, junk_server):
    run_dir = _eval_here(
        capsys, "--suite", "toy_reach", "--tasks", "0", "--episodes-per-task", str(len(JUNK)), "--videos", "0",
        "--no-progress", "--workers", "0", "--policy", "remote", "--policy-url", junk_server,
        "--policy-timeout", "1", "--out", str(tmp_path),
    )  # fmt: skip
    records = sorted(_records(run_dir), key=lambda r: r["index"])
    assert [r["success"] for r in records] == [False] * len(JUNK)
    for record, expected in zip(records, EXPECTED, strict=True):
        assert record["error"].startswith("policy: policy server ws://") and expected in record["error"], record
        assert "\n" not in record["error"]


def _thread_server(handle):
    server = serve(handle, "127.0.0.1", 0, compression=None, max_size=None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"ws://127.0.0.1:{server.socket.getsockname()[1]}"


def test_a_drop_mid_episode_fails_that_episode_and_the_next_one_resets_on_a_new_connection():
    seen: list[tuple[int, bool]] = []  # (connection number, the request carries a reset)
    connections = iter(range(100))

    def handle(ws):
        number = next(connections)
        ws.send(packb({"harness_protocol": 1}))
        with contextlib.suppress(ConnectionClosed):
            for message in ws:
                seen.append((number, "reset" in unpackb(message)[HARNESS_KEY]))
                if len(seen) == 2:
                    ws.close()  # the server goes away mid-episode
                else:
                    ws.send(packb({"actions": np.zeros((1, 2), dtype=np.float32)}))

    server, url = _thread_server(handle)
    task = SUITES.build("toy_reach").tasks()[0]
    first, second = make_episodes([task], 2, 0)
    policy = RemotePolicy(options=RemotePolicy.Options(policy_url=url))
    try:
        policy.reset(first)
        policy.act({"x": 1})
        with pytest.raises(EpisodeError, match="mid-episode .* episode state is lost"):
            policy.act({"x": 2})
        policy.reset(second)
        assert policy.act({"x": 3}).shape == (1, 2)
    finally:
        policy.close()
        server.shutdown()
    assert seen == [(0, True), (0, False), (1, True)]


def test_chunk_settings_come_from_the_flag_the_metadata_or_the_adapter():
    metadata = iter([{}, {}, {"chunk_length": 10, "execute_steps": 4, "consumes_images": False}])

    def handle(ws):
        ws.send(packb(next(metadata)))
        with contextlib.suppress(ConnectionClosed):
            ws.recv()

    server, url = _thread_server(handle)
    try:
        openpi = RemotePolicy(options=RemotePolicy.Options(policy_url=url, policy_adapter="openpi_libero"))
        flagged = RemotePolicy(options=RemotePolicy.Options(policy_url=url, policy_execute_steps=2))
        served = RemotePolicy(options=RemotePolicy.Options(policy_url=url))
        for policy in (openpi, flagged, served):
            policy.close()
    finally:
        server.shutdown()
    assert (openpi.chunk_length, openpi.execute_steps, openpi.consumes_images) == (None, 5, True)
    assert (flagged.chunk_length, flagged.execute_steps) == (None, 2)
    assert (served.chunk_length, served.execute_steps, served.consumes_images) == (10, 4, False)


def _fake_libero_obs() -> dict:
    frame = np.zeros((128, 128, 3), dtype=np.uint8)
    frame[:64, :64] = 255  # top-left quadrant white: after the 180-degree turn, bottom-right
    half = np.sqrt(0.5)
    proprio = np.array([0.1, -0.2, 0.9, 0.0, 0.0, half, half, 0.04, -0.04], dtype=np.float32)  # 90 deg about z
    return {"agentview_rgb": frame, "wrist_rgb": frame.copy(), "proprio": proprio, "instruction": "open the drawer"}


def test_openpi_libero_adapter_keys_shapes_and_state():
    request = openpi_libero(_fake_libero_obs())
    assert set(request) == {"observation/image", "observation/wrist_image", "observation/state", "prompt"}
    for key in ("observation/image", "observation/wrist_image"):
        image = request[key]
        assert image.shape == (224, 224, 3) and image.dtype == np.uint8
        assert image[-1, -1].tolist() == [255, 255, 255] and image[0, 0].tolist() == [0, 0, 0]
    state = request["observation/state"]
    assert state.shape == (8,) and state.dtype == np.float64
    expected = [0.1, -0.2, 0.9, 0.0, 0.0, np.pi / 2, 0.04, -0.04]
    np.testing.assert_allclose(state, expected, atol=1e-6)
    assert request["prompt"] == "open the drawer"
    assert unpackb(packb(request))["observation/state"].tolist() == state.tolist()  # it travels as is


def test_openpi_libero_adapter_pads_non_square_frames_and_handles_identity_rotation():
    obs = _fake_libero_obs()
    obs["agentview_rgb"] = np.full((100, 200, 3), 200, dtype=np.uint8)
    image = openpi_libero(obs)["observation/image"]
    assert image.shape == (224, 224, 3)
    assert image[:50].max() == 0 and image[-50:].max() == 0 and image[112, 112].tolist() == [200, 200, 200]
    assert quat_to_axis_angle(np.array([0.0, 0.0, 0.0, 1.0])).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "value",
    [
        np.arange(24, dtype=np.float32).reshape(2, 3, 4),
        np.array([[1.5, -2.0]], dtype=np.float64),
        np.arange(-5, 5, dtype=np.int16),
        np.array([1, 2**40], dtype=np.int64),
        np.zeros((2, 0, 3), dtype=np.uint8),
        np.array([True, False]),
        np.array(["ab", "c"]),
        np.array(3.5, dtype=np.float16),  # 0-d
        np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2],  # not contiguous
    ],
)
def test_msgpack_numpy_round_trip(value):
    decoded = unpackb(packb({"x": value, "nested": [value]}))
    for out in (decoded["x"], decoded["nested"][0]):
        assert out.dtype == value.dtype and out.shape == value.shape and np.array_equal(out, value)
        assert out.flags.writeable


def test_msgpack_numpy_is_openpi_format():
    """Bytes laid out as openpi's msgpack_numpy packs them decode here, and scalars keep their type."""
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    openpi_bytes = msgpack.packb(
        {"actions": {b"__ndarray__": True, b"data": array.tobytes(), b"dtype": "<f4", b"shape": (2, 3)},
         "t": {b"__npgeneric__": True, b"data": 7, b"dtype": "<i8"}}
    )  # fmt: skip
    decoded = unpackb(openpi_bytes)
    assert np.array_equal(decoded["actions"], array) and decoded["t"] == np.int64(7)
    assert type(decoded["t"]) is np.int64
    assert msgpack.unpackb(packb(array))[b"dtype"] == "<f4"
    with pytest.raises(TypeError, match="object"):
        packb(np.array([{}], dtype=object))
