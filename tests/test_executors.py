import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnbench import executors, store

TESTS = Path(__file__).parent


def run_cli(*args, **popen):
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", **popen.pop("env", {})}
    return subprocess.Popen(
        [sys.executable, "-m", "rnnbench.cli", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # a signal this test process ignores (an earlier test's Ray may ignore SIGINT) stays
        # ignored across exec, and a driver that ignores Ctrl-C would hang these tests
        preexec_fn=_default_signals,
        **popen,
    )


def _default_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def test_one_worker_per_gpu_with_threads_divided():
    layout = executors.worker_layout(None, ["0", "1"], cores=16)
    assert [w["gpu"] for w in layout] == ["0", "1"] and all(w["accelerator"] == "gpu" for w in layout)
    assert all(w["threads"] == 8 for w in layout)
    cpu = executors.worker_layout(2, [], cores=2)
    assert [(w["gpu"], w["accelerator"], w["threads"]) for w in cpu] == [(None, "cpu", 1)] * 2


def test_cpu_default_is_one_single_threaded_worker_per_core_up_to_a_cap():
    assert [w["threads"] for w in executors.worker_layout(None, [], cores=2)] == [1, 1]
    wide = executors.worker_layout(None, [], cores=32)
    assert len(wide) == executors.MAX_DEFAULT_CPU_WORKERS and all(w["threads"] == 4 for w in wide)
    assert [w["threads"] for w in executors.worker_layout(3, [], cores=2)] == [1, 1, 1]


def test_visible_gpus_honours_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert executors.visible_gpus() == ["2", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert executors.visible_gpus() == []


def test_kill_9_at_a_random_moment_then_resume(tmp_path):
    """The whole run (driver and workers) is SIGKILLed mid-matrix; the same command
    again keeps every finished cell, leaves no partial file, and finishes the suite."""
    args = [
        "run",
        "--task",
        "adding-50",
        "--model",
        "elman,gru,lstm",
        "--seeds",
        "12",
        "--profile",
        "smoke",
        "--workers",
        "2",
        "--out",
        str(tmp_path),
    ]
    proc = run_cli(*args, start_new_session=True)
    results = tmp_path / "results" / "smoke" / "adding-50"
    deadline = time.monotonic() + 300
    while len(list(results.glob("*.json"))) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(random.uniform(0, 0.3))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert 2 <= len(finished) < 36
    for p in finished:
        assert store.read_record(p)["status"] == "ok"  # complete, parseable JSON
    proc = run_cli(*args)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert f"{36 - len(finished)} cell(s) to run, {len(finished)} already done" in err
    for p, mtime in finished.items():
        assert p.stat().st_mtime_ns == mtime, f"{p.name} was retrained"
    assert len(list(results.glob("*.json"))) == 36
    assert not list(results.glob(".*")), "temporary files left behind"


def test_ray_executor_gives_the_same_cells_as_the_local_one(tmp_path):
    pytest.importorskip("ray")
    common = ["run", "--task", "adding-50", "--model", "elman,lstm", "--profile", "smoke", "--workers", "2"]
    local = run_cli(*common, "--out", str(tmp_path / "local"))
    ray = run_cli(*common, "--executor", "ray", "--out", str(tmp_path / "ray"))
    for proc in (local, ray):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    a = {(r["model"], r["seed"]): r for r in store.load_records(tmp_path / "local")[0]}
    b = {(r["model"], r["seed"]): r for r in store.load_records(tmp_path / "ray")[0]}
    assert a.keys() == b.keys() == {("elman", 0), ("lstm", 0)}
    for key in a:
        assert b[key]["status"] == "ok"
        assert b[key]["metrics"] == pytest.approx(a[key]["metrics"], rel=1e-5)
        assert b[key]["provenance"]["config_hash"] == a[key]["provenance"]["config_hash"]


def test_ray_missing_is_one_clear_line(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(executors.ExecutorUnavailable, match=r"pip install 'rnnbench\[ray\]'"):
        executors.RayExecutor([])


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (killed, not yet reaped by init) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def wait_for_pids(pidfile: Path, n: int, proc, seconds: float = 180) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if pidfile.exists():
            pids = [int(line) for line in pidfile.read_text().split()]
            if len(pids) >= n:
                return pids
        time.sleep(0.1)
    raise AssertionError(f"no {n} pid(s) in {pidfile}: {proc.poll()=}")


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def test_a_time_limit_ends_the_processes_a_cell_started(tmp_path):
    """A task's prepare() starts a helper process and hangs: the timeout takes both down."""
    pidfile = tmp_path / "pids"
    proc = run_cli(
        "run",
        "--task",
        "prepare-spawns-and-hangs",
        "--model",
        "lstm",
        "--profile",
        "smoke",
        "--timeout",
        "3",
        "--workers",
        "1",
        "--out",
        str(tmp_path / "out"),
        "-p",
        "fixtures.escapes",
        env={"RNNBENCH_TEST_PIDFILE": str(pidfile)},
    )
    try:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err
        assert "timeout after 3 s" in out
        (child,) = [int(line) for line in pidfile.read_text().split()]
        assert wait_gone([child], 5) == [], "the cell's child process outlived its time limit"
    finally:
        for pid in [int(x) for x in pidfile.read_text().split()] if pidfile.exists() else []:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "task, model, noted",
    [
        ("adding-50", "hangs-noting-pid", "the worker"),  # the model notes its worker's pid
        ("prepare-spawns-and-hangs", "elman", "a process the cell started"),  # the task notes its child's
    ],
)
def test_workers_and_what_they_started_die_with_their_driver(tmp_path, task, model, noted):
    """kill -9 of the driver alone, while its worker hangs in a cell: the worker follows,
    and so does a process the cell started."""
    pidfile = tmp_path / "pids"
    proc = run_cli(
        "run",
        "--task",
        task,
        "--model",
        model,
        "--profile",
        "smoke",
        "--workers",
        "1",
        "--out",
        str(tmp_path / "out"),
        "-p",
        "fixtures.escapes",
        env={"RNNBENCH_TEST_PIDFILE": str(pidfile)},
    )
    try:
        (pid,) = wait_for_pids(pidfile, 1, proc)
        proc.kill()
        proc.wait()
        assert wait_gone([pid], 5) == [], f"{noted} outlived its driver"
    finally:
        proc.kill()
        for pid in [int(x) for x in pidfile.read_text().split()] if pidfile.exists() else []:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_ctrl_c_stops_busy_workers_together(tmp_path):
    """SIGINT to the driver alone, two workers busy: not 10 s per worker, one after the other."""
    pidfile = tmp_path / "pids"
    proc = run_cli(
        "run",
        "--task",
        "adding-50",
        "--model",
        "hangs-noting-pid",
        "--seeds",
        "2",
        "--profile",
        "smoke",
        "--workers",
        "2",
        "--out",
        str(tmp_path / "out"),
        "-p",
        "fixtures.escapes",
        env={"RNNBENCH_TEST_PIDFILE": str(pidfile)},
    )
    try:
        workers = wait_for_pids(pidfile, 2, proc)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert time.monotonic() - started < 8, err
        assert proc.returncode == 130, err
        assert "run the same command again to resume" in err
        assert wait_gone(workers, 5) == []
    finally:
        proc.kill()
        for pid in [int(x) for x in pidfile.read_text().split()] if pidfile.exists() else []:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_where_the_kernel_cannot_tie_a_worker_to_its_driver_a_watchdog_does(tmp_path):
    """The non-Linux path of rnnbench.worker.die_with: the driver is killed, the watchdog
    ends the worker and every process in its group."""
    pidfile = tmp_path / "pids"
    worker = (
        "import os, subprocess, sys, time\n"
        "sys.platform = 'darwin'  # no PR_SET_PDEATHSIG: the watchdog alone\n"
        "from rnnbench.worker import die_with\n"
        "die_with(int(sys.argv[1]))\n"
        "child = subprocess.Popen(['sleep', '600'])\n"
        f"open({str(pidfile)!r}, 'w').write(f'{{os.getpid()}}\\n{{child.pid}}\\n')\n"
        "time.sleep(600)\n"
    )
    driver = (
        "import os, subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', sys.argv[1], str(os.getpid())])\n"
        "time.sleep(600)\n"
    )
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, "-c", driver, worker], env={**os.environ, "PYTHONPATH": path})
    try:
        pids = wait_for_pids(pidfile, 2, proc, seconds=60)
        proc.kill()
        proc.wait()
        assert wait_gone(pids, 5) == [], "the worker or its child outlived the driver"
    finally:
        proc.kill()
        for pid in [int(x) for x in pidfile.read_text().split()] if pidfile.exists() else []:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("fresh", [False, True])
def test_fresh_worker_gives_each_cell_a_new_process(tmp_path, fresh):
    """A model with a class-level counter: a reused worker carries it into the next cell;
    --fresh-worker starts each cell from nothing."""
    notes = tmp_path / "notes"
    proc = run_cli(
        "run",
        "--task",
        "adding-50",
        "--model",
        "counts-builds",
        "--seeds",
        "2",
        "--profile",
        "smoke",
        "--workers",
        "1",
        "--out",
        str(tmp_path / "out"),
        "-p",
        "fixtures.escapes",
        *(["--fresh-worker"] if fresh else []),
        env={"RNNBENCH_TEST_PIDFILE": str(notes)},
    )
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    noted = [int(line) for line in notes.read_text().split()]
    pids, counts = {n // 1000 for n in noted}, [n % 1000 for n in noted]
    if fresh:
        assert len(pids) == 2 and counts == [1, 1]
    else:
        assert len(pids) == 1 and counts == [1, 2]


# --- Ray addresses and safety ---------------------------------------------------------


def test_an_unreachable_ray_address_is_one_line_within_seconds(monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setattr(executors, "RAY_PROBE_SECONDS", 0.5)
    start = time.monotonic()
    with pytest.raises(executors.ExecutorUnavailable, match=r"cannot reach the Ray cluster at 192\.0\.2\.1:6379"):
        executors.resolve_ray_address("192.0.2.1:6379")  # TEST-NET-1: nothing answers
    with pytest.raises(executors.ExecutorUnavailable, match="cannot reach"):
        executors.resolve_ray_address("127.0.0.1:1")  # refused
    assert time.monotonic() - start < 5
    with pytest.raises(executors.ExecutorUnavailable, match="is not auto, HOST:PORT or ray://HOST:PORT"):
        executors.resolve_ray_address("head-node")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    with pytest.raises(executors.ExecutorUnavailable, match=r"127\.0\.0\.1:1"):
        executors.resolve_ray_address(None)  # RAY_ADDRESS is honoured, not a ValueError
    monkeypatch.delenv("RAY_ADDRESS")
    assert executors.resolve_ray_address(None) is None
    assert executors.resolve_ray_address("local") is None


@pytest.mark.parametrize(
    ("reply", "accepted"),
    [
        (bytes([0, 0, 0x18, 4, 0, 0, 0, 0, 0]), True),  # a SETTINGS frame, as Ray's GCS answers
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", False),  # a web server
        (None, False),  # accepts and says nothing (ray.init would wait minutes)
    ],
)
def test_a_ray_address_must_answer_as_a_grpc_server_within_seconds(monkeypatch, reply, accepted):
    pytest.importorskip("ray")
    import socket
    import threading

    monkeypatch.setattr(executors, "RAY_PROBE_SECONDS", 0.5)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    held = []

    def serve():
        conn, _ = server.accept()
        held.append(conn)
        conn.recv(64)
        if reply is not None:
            conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    start = time.monotonic()
    try:
        if accepted:
            assert executors.resolve_ray_address(f"127.0.0.1:{port}") == f"127.0.0.1:{port}"
        else:
            with pytest.raises(executors.ExecutorUnavailable, match="answers but not as a Ray cluster") as caught:
                executors.resolve_ray_address(f"127.0.0.1:{port}")
            assert "\n" not in str(caught.value)
    finally:
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()
    assert time.monotonic() - start < 3


def test_a_ray_client_address_without_the_client_says_what_to_install(monkeypatch):
    pytest.importorskip("ray")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "grpc" else real(name, *a))
    with pytest.raises(executors.ExecutorUnavailable, match=r"needs Ray's client .*rnnbench\[ray\]"):
        executors.resolve_ray_address("ray://127.0.0.1:10001")


def test_the_cli_refuses_an_unreachable_ray_address_before_taking_the_store(tmp_path):
    pytest.importorskip("ray")
    proc = run_cli(
        "run", "--task", "adding-50", "--model", "elman", "--profile", "smoke",
        "--executor", "ray", "--ray-address", "127.0.0.1:1", "--out", str(tmp_path),
    )  # fmt: skip
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err.strip().splitlines() == [err.strip().splitlines()[-1]] and "cannot reach the Ray cluster" in err
    assert not (tmp_path / "results").exists()


def test_forwarded_environment_carries_what_changes_a_cell(monkeypatch):
    monkeypatch.setenv("RNNBENCH_STOCK_CSV", "/data/a.csv")
    monkeypatch.setenv("RNNBENCH_PLUGINS", "my_plugins")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SOMETHING_ELSE", "x")
    env = executors.forwarded_environment([])
    assert env["RNNBENCH_STOCK_CSV"] == "/data/a.csv" and env["RNNBENCH_PLUGINS"] == "my_plugins"
    assert env["HF_HUB_OFFLINE"] == "1" and "SOMETHING_ELSE" not in env


def test_plugin_modules_that_no_node_has_are_shipped_or_refused_with_one_line(tmp_path, monkeypatch):
    """-p MODULE on a cluster: a package importable on the driver only is shipped to the
    workers (runtime_env py_modules); an installed one is not; a single file or a module
    the driver cannot import either stops the run with one line."""
    monkeypatch.delenv("RNNBENCH_PLUGINS", raising=False)
    (tmp_path / "solo_plugin.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert executors.plugin_packages(["fixtures.escapes", "fixtures.bad_hook"]) == [str(TESTS / "fixtures")]
    assert executors.plugin_packages(["pluggy"]) == []  # installed: every node installs it
    with pytest.raises(executors.ExecutorUnavailable, match="is a single file .*Ray ships packages only"):
        executors.plugin_packages(["solo_plugin"])
    with pytest.raises(executors.ExecutorUnavailable, match="'no_such_plugin:register' is not importable here"):
        executors.plugin_packages(["no_such_plugin:register"])
    monkeypatch.setenv("RNNBENCH_PLUGINS", "fixtures.escapes")  # the variable's modules too
    assert executors.plugin_packages([]) == [str(TESTS / "fixtures")]


def _listening_sockets(pids: set[int]) -> list[str]:
    """Local addresses of the TCP sockets the processes ``pids`` listen on (from /proc)."""
    import ipaddress

    inodes = {}
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes[link[8:-1]] = pid
        except OSError:
            continue
    found = []
    for table, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] != "0A" or cols[9] not in inodes:  # 0A: LISTEN
                    continue
                raw = bytes.fromhex(cols[1].split(":")[0])
                words = [raw[i : i + 4][::-1] for i in range(0, size, 4)]
                found.append(str(ipaddress.ip_address(b"".join(words))))
    return found


def _descendants(root: int) -> set[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rpartition(")")[2].split()[1])
            except OSError:
                continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/net"), reason="reads listening sockets from /proc")
def test_a_ray_instance_rnnbench_starts_listens_on_loopback_with_auth_and_runs_a_cell(monkeypatch):
    ray = pytest.importorskip("ray")
    import ipaddress

    from rnnbench import runner
    from rnnbench.registry import load

    monkeypatch.setenv("RNNBENCH_TEST_MARK", "sent")  # must reach the worker (runtime_env)
    if ray.is_initialized():
        ray.shutdown()
    ex = executors.RayExecutor([], workers=1)
    try:
        assert os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
        addresses = _listening_sockets(_descendants(os.getpid()))
        assert addresses, "found no Ray server sockets"
        ips = [ipaddress.ip_address(a) for a in addresses]
        wide = [str(ip) for ip in ips if not (getattr(ip, "ipv4_mapped", None) or ip).is_loopback]
        assert not wide, f"Ray listens beyond loopback: {wide}"
        reg = load([])
        cells, _, _ = runner.plan(reg, ["adding-50"], ["elman"], "smoke", 1, "/nonexistent-out", None, None)
        got = []
        ex.run(cells, lambda c, r: got.append(r))
        assert [r["status"] for r in got] == ["ok"], got
        prov = got[0]["worker_provenance"]
        assert prov["host"] and prov["node"] != "local" and prov["torch"]
    finally:
        ray.shutdown()


def test_k_cells_per_gpu_share_each_device_and_its_memory():
    layout = executors.worker_layout(None, ["0", "1"], cores=16, cells_per_gpu=4)
    assert [s["gpu"] for s in layout] == ["0"] * 4 + ["1"] * 4
    assert all(s["memory_fraction"] == 0.25 and s["cells_per_gpu"] == 4 and s["threads"] == 2 for s in layout)
    assert [s["gpu"] for s in executors.worker_layout(None, ["0"], cores=4)] == ["0"]


def test_mig_slices_replace_their_gpu():
    listing = (
        "GPU 0: NVIDIA H200 (UUID: GPU-aaaa)\n"
        "  MIG 3g.71gb     Device  0: (UUID: MIG-1111)\n"
        "  MIG 3g.71gb     Device  1: (UUID: MIG-2222)\n"
        "GPU 1: NVIDIA H200 (UUID: GPU-bbbb)\n"
    )
    assert executors.mig_devices(listing, ["0", "1"]) == ["MIG-1111", "MIG-2222", "1"]
    assert executors.mig_devices("", ["0"]) == ["0"]


# --- the Ray executor's scheduling, against a fake Ray (no cluster needed) --------------


class _FakeRef:
    def __init__(self, value=None, error=None):
        self.value, self.error = value, error


class _FakeRay:
    """Just enough of Ray for RayExecutor.run: actors answer at once; ``die`` maps a cell's
    model to how many times its actor dies under it."""

    def __init__(self, cpus: int, die: dict):
        self.cpus, self.die, self.actors, self.killed = cpus, dict(die), 0, 0

    def cluster_resources(self):
        return {"CPU": self.cpus}

    def remote(self, **options):
        fake = self

        class Actor:
            def __init__(self, *args):
                fake.actors += 1
                self.n = fake.actors
                outer = self

                class Method:
                    def __init__(self, fn):
                        self.fn = fn

                    def remote(self, *a):
                        return self.fn(outer, *a)

                self.ready = Method(lambda s: _FakeRef({"host": f"host{s.n}", "node": f"node{s.n}", "missing_env": []}))
                self.run = Method(lambda s, cell: fake._run(s, cell))

        class ActorClass:
            @staticmethod
            def remote(*args):
                return Actor(*args)

        return lambda cls: ActorClass

    def _run(self, actor, cell):
        if self.die.get(cell["model"], 0) > 0:
            self.die[cell["model"]] -= 1
            return _FakeRef(error=RuntimeError("The actor died unexpectedly before finishing this task."))
        return _FakeRef({"status": "ok", "ran_on": actor.n})

    def wait(self, refs, num_returns=1, timeout=None):
        return list(refs), []

    def get(self, ref):
        if ref.error is not None:
            raise ref.error
        return ref.value

    def kill(self, actor, no_restart=True):
        self.killed += 1


def _ray_whose_actors_say(said: dict) -> "_FakeRay":
    """A one-CPU fake Ray whose actors answer ``ready()`` with ``said``."""

    class Saying(_FakeRay):
        def remote(self, **options):
            make = super().remote(**options)

            def wrap(cls):
                inner = make(cls)

                class ActorClass:
                    @staticmethod
                    def remote(*args):
                        a = inner.remote(*args)
                        a.ready.fn = lambda s: _FakeRef(said)
                        return a

                return ActorClass

            return wrap

    return Saying(cpus=1, die={})


def _fake_ray_executor(fake: _FakeRay) -> executors.RayExecutor:
    ex = object.__new__(executors.RayExecutor)
    ex.ray, ex.plugin_args, ex.workers, ex.cells_per_gpu = fake, [], None, 1
    ex.forwarded, ex.runtime_env, ex.address = {}, {}, None
    ex._size()
    return ex


def _cells(*models):
    from rnnbench.runner import Cell

    return [Cell("adding-50", m, 0, "smoke", f"h-{m}", 60.0) for m in models]


def test_a_cell_whose_ray_worker_dies_is_retried_once_and_the_reason_names_the_node():
    fake = _FakeRay(cpus=1, die={"once": 1, "twice": 2})
    got = {}
    _fake_ray_executor(fake).run(_cells("once", "twice", "fine"), lambda c, r: got.setdefault(c.model, r))
    assert got["once"]["status"] == "ok" and got["fine"]["status"] == "ok"
    assert got["twice"]["status"] == "failed"
    assert "lost on host host" in got["twice"]["reason"] and "(node node" in got["twice"]["reason"]
    assert "retried once" in got["twice"]["reason"]
    assert got["twice"]["worker_provenance"]["host"].startswith("host")


def test_ray_slots_follow_the_cluster_as_it_grows(monkeypatch):
    fake = _FakeRay(cpus=1, die={})
    ex = _fake_ray_executor(fake)
    monkeypatch.setattr(executors.RayExecutor, "RESCAN_SECONDS", 0.0)
    seen = []

    def on_result(cell, result):
        seen.append(result["ran_on"])
        fake.cpus = 3  # two nodes join after the first result

    ex.run(_cells("a", "b", "c", "d", "e", "f"), on_result)
    assert ex.slots == 3 and fake.actors == 3 and len(set(seen)) == 3


def test_a_gpu_worker_without_cuda_stops_the_run_at_start_up():
    import torch

    if torch.cuda.is_available():
        pytest.skip("needs a machine whose torch sees no CUDA")
    from rnnbench.runner import Cell

    ex = executors.LocalExecutor([], gpus=["0"])  # a GPU this torch cannot use
    got = []
    start = time.monotonic()
    with pytest.raises(executors.ExecutorUnavailable, match="sees no CUDA device"):
        ex.run([Cell("adding-50", "elman", 0, "smoke", "h", 60.0)], lambda c, r: got.append(r))
    assert not got and time.monotonic() - start < 60


def test_a_ray_gpu_worker_without_cuda_says_so_at_start_up(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", ""))  # the actor sets it
    threads = torch.get_num_threads()
    try:
        actor = executors._RayCellActor([], "gpu", 1, {})
    finally:
        torch.set_num_threads(threads)
    assert "sees no CUDA device" in actor.ready()["fatal"]

    with pytest.raises(executors.ExecutorUnavailable, match="no CUDA"):
        _fake_ray_executor(
            _ray_whose_actors_say({"host": "h", "node": "n", "missing_env": [], "fatal": "no CUDA"})
        ).run(_cells("a"), lambda c, r: None)


@pytest.mark.parametrize("seed", range(20))
def test_ray_slots_follow_the_cluster_as_it_shrinks_and_every_actor_let_go_is_killed(monkeypatch, seed):
    """Nodes leave and join while cells run; results come back in any order. Every actor
    the executor lets go is killed (one dropped alive would hold its GPU share)."""
    rnd = random.Random(seed)

    class Shifting(_FakeRay):
        def wait(self, refs, num_returns=1, timeout=None):  # one result at a time, any order
            refs = list(refs)
            i = rnd.randrange(len(refs))
            return [refs[i]], refs[:i] + refs[i + 1 :]

        def kill(self, actor, no_restart=True):
            self.killed_actors.append(actor.n)

    fake = Shifting(cpus=3, die={})
    fake.killed_actors = []
    ex = _fake_ray_executor(fake)
    monkeypatch.setattr(executors.RayExecutor, "RESCAN_SECONDS", 0.0)
    got = []

    def on_result(cell, result):
        got.append(result["status"])
        fake.cpus = rnd.randint(1, 3)

    ex.run(_cells(*"abcdefghij"), on_result)
    assert got == ["ok"] * 10
    assert sorted(fake.killed_actors) == list(range(1, fake.actors + 1)), "an actor let go was never killed"


def test_a_ray_worker_missing_the_driver_s_environment_stops_the_run_with_one_line():
    got = []
    with pytest.raises(executors.ExecutorUnavailable) as caught:
        _fake_ray_executor(
            _ray_whose_actors_say({"host": "node-b", "node": "n", "missing_env": ["RNNBENCH_STOCK_CSV"], "fatal": None})
        ).run(_cells("a"), lambda c, r: got.append(r))
    message = str(caught.value)
    assert not got and "\n" not in message
    assert "RNNBENCH_STOCK_CSV did not reach the Ray worker on node-b" in message


def test_a_ray_actor_s_start_up_does_not_count_against_its_first_cell_s_time_limit():
    """Imports and CUDA start-up take seconds on a fresh actor; the cell's clock starts
    when the warm actor takes it, so a 0.3 s cell under a 0.5 s limit passes."""

    class SlowStart(_FakeRay):
        started = time.monotonic()

        def _run(self, actor, cell):
            ref = super()._run(actor, cell)
            ref.at = time.monotonic() + 0.3  # the cell itself takes 0.3 s
            return ref

        def wait(self, refs, num_returns=1, timeout=None):
            now = time.monotonic()
            warm = now - self.started > 1.0  # the actor's start-up takes 1 s
            done = [r for r in refs if now >= getattr(r, "at", 0) and (warm or "host" not in (r.value or {}))]
            if not done:
                time.sleep(0.05)
            return done, [r for r in refs if r not in done]

    from rnnbench.runner import Cell

    got = []
    _fake_ray_executor(SlowStart(cpus=1, die={})).run(
        [Cell("adding-50", "a", 0, "smoke", "h", 0.5)], lambda c, r: got.append(r)
    )
    assert [r["status"] for r in got] == ["ok"], got


def test_a_cell_lost_with_its_worker_is_retried_on_another_node():
    """Node A loses the worker under a cell while node B still runs another: the cell
    waits for B rather than go to A's replacement worker, which starts first."""

    class TwoNodes(_FakeRay):
        def remote(self, **options):
            make = super().remote(**options)

            def wrap(cls):
                inner = make(cls)

                class ActorClass:
                    @staticmethod
                    def remote(*args):
                        a = inner.remote(*args)
                        node = "A" if a.n % 2 else "B"  # actors 1, 3, ... on A; 2, 4, ... on B
                        a.ready.fn = lambda s: _FakeRef({"host": f"host-{node}", "node": node, "missing_env": []})
                        return a

                return ActorClass

            return wrap

        def _run(self, actor, cell):
            ref = super()._run(actor, cell)
            ref.polls = 3 if cell["model"] == "slow" else 0
            return ref

        def wait(self, refs, num_returns=1, timeout=None):
            done = []
            for r in refs:
                if getattr(r, "polls", 0):
                    r.polls -= 1
                else:
                    done.append(r)
            return done, [r for r in refs if r not in done]

    got = {}
    _fake_ray_executor(TwoNodes(cpus=2, die={"once": 1})).run(
        _cells("once", "slow"), lambda c, r: got.setdefault(c.model, r)
    )
    assert got["slow"]["status"] == "ok" and got["once"]["status"] == "ok"
    assert got["once"]["ran_on"] % 2 == 0, "retried on the node that lost it"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads a worker's environment from /proc")
def test_each_of_k_workers_on_a_gpu_is_pinned_to_it_and_held_to_its_memory_share(monkeypatch):
    import torch

    from rnnbench.worker import share_gpu_memory

    spec = executors.worker_layout(None, ["3"], cores=2, cells_per_gpu=2)[0]
    slot = executors._Slot({**spec, "accelerator": "cpu"}, [])  # a CPU torch: the worker must live
    monkeypatch.delenv(executors.MEMORY_FRACTION_ENV, raising=False)
    try:
        slot.start()
        # multiprocessing's spawn returns before the child has exec'd; until then /proc shows
        # the driver's own start-up environment, so wait for the worker's command line first
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(f"/proc/{slot.proc.pid}/cmdline", "rb") as f:
                if b"spawn_main" in f.read():
                    break
            time.sleep(0.01)
        with open(f"/proc/{slot.proc.pid}/environ", "rb") as f:
            env = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
    finally:
        slot.kill()
    assert env[b"CUDA_VISIBLE_DEVICES"] == b"3"
    assert env[b"RNNBENCH_GPU_MEMORY_FRACTION"] == b"0.5" and env[b"RNNBENCH_CELLS_PER_GPU"] == b"2"
    assert executors.MEMORY_FRACTION_ENV not in os.environ  # the driver's own is untouched

    shares = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", lambda f, *a: shares.append(f))
    monkeypatch.setenv(executors.MEMORY_FRACTION_ENV, "0.5")
    share_gpu_memory()
    assert shares == [0.5]


def test_without_an_address_rnnbench_starts_its_own_ray_even_beside_another_cluster(monkeypatch):
    """``--ray-address local`` (or none, with no RAY_ADDRESS) starts a new instance bound to
    loopback: ray.init(address=None) would join RAY_ADDRESS's cluster, or the last one
    `ray start` made on this machine, instead."""
    ray = pytest.importorskip("ray")
    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2})
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")  # a cluster this run was told not to use
    executors.RayExecutor([], address="local", workers=2)
    assert [c.get("address") for c in calls] == ["local"] and calls[0]["num_cpus"] == 2


def test_address_auto_is_the_cluster_ray_start_made_here_or_one_line(monkeypatch):
    pytest.importorskip("ray")
    from ray._private import utils

    monkeypatch.setattr(executors, "RAY_PROBE_SECONDS", 0.5)
    monkeypatch.setattr(utils, "read_ray_address", lambda *a: None)
    with pytest.raises(executors.ExecutorUnavailable, match=r"no Ray cluster runs on this machine \(address 'auto'\)"):
        executors.resolve_ray_address("auto")
    monkeypatch.setattr(utils, "read_ray_address", lambda *a: "127.0.0.1:1")  # gone since
    with pytest.raises(executors.ExecutorUnavailable, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:1"):
        executors.resolve_ray_address("auto")


@pytest.mark.parametrize(
    ("error", "stops"),
    [
        ("The actor died because its node has died. Node Id: 3f9a", False),  # a node left
        ("The actor died because of an error raised in its creation task, ImportError: x", True),
    ],
)
def test_workers_lost_with_their_node_at_start_up_do_not_stop_the_run(error, stops):
    """Three workers that die starting stop the run (they would die anywhere); workers
    lost with a node that left the cluster start again on the nodes that remain."""

    class Starting(_FakeRay):
        def remote(self, **options):
            make = super().remote(**options)

            def wrap(cls):
                inner = make(cls)

                class ActorClass:
                    @staticmethod
                    def remote(*args):
                        a = inner.remote(*args)
                        if a.n <= 3:  # the first three die while starting
                            a.ready.fn = lambda s: _FakeRef(error=RuntimeError(error))
                        return a

                return ActorClass

            return wrap

    got = []
    ex = _fake_ray_executor(Starting(cpus=1, die={}))
    if stops:
        with pytest.raises(executors.ExecutorUnavailable, match="Ray workers fail at start-up: RuntimeError"):
            ex.run(_cells("a"), lambda c, r: got.append(r))
    else:
        ex.run(_cells("a"), lambda c, r: got.append(r))
        assert [r["status"] for r in got] == ["ok"]
