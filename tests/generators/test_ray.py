"""Generation on a local Ray instance (two CPU actors, the tiny model): the
same bytes as a single-process run, no image lost or written twice when an
actor is killed, and a stopped driver resumes."""

import json
import threading
import time

import pandas as pd
import pytest
import torch

import audit
from tests.conftest import run_cli

ray = pytest.importorskip("ray")


@pytest.fixture
def one_thread():
    """Two CPU actors on this machine get one torch thread each: compare with
    a single-process run at one thread (CPU pixels depend on the count)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the driver's count, which the two actors split
    yield
    torch.set_num_threads(before)


def single_process(**kwargs):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return audit.generate(**kwargs)
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, namespace="t2i-audit", log_to_driver=False,
             configure_logging=False)
    yield
    ray.shutdown()


def journal_ids(run):
    path = run / ".images.journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["image_id"] for line in path.read_text().splitlines() if line]


def test_audit_run_on_ray_writes_the_same_images_as_without(tmp_path):
    common = ["-S", "clip.model=tiny-random", "-S", "clip.pretrained=none",
              "-S", "clip_concepts.model=tiny-random", "-S", "clip_concepts.pretrained=none"]
    single = run_cli("run", "smoke", "--model", "tiny", "--out", str(tmp_path / "single"),
                     *common)
    assert single.returncode == 0, single.stderr
    clustered = run_cli("run", "smoke", "--model", "tiny", "--ray", "local",
                        "--out", str(tmp_path / "ray"), *common)
    assert clustered.returncode == 0, clustered.stderr
    a = pd.read_parquet(tmp_path / "single/images.parquet")
    b = pd.read_parquet(tmp_path / "ray/images.parquet")
    assert list(a.sha256) == list(b.sha256) and a.sha256.notna().all()
    assert a.worker.isna().all() and b.worker.str.startswith("ray:").all()
    for table in ("decisions", "measurements", "inputs"):  # scored on Ray too
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"single/scores/{table}.parquet"),
                                      pd.read_parquet(tmp_path / f"ray/scores/{table}.parquet"))
    card = json.loads((tmp_path / "ray/run.json").read_text())
    assert card["config"]["ray"]["ray"] == ray.__version__
    assert card["config"]["ray"]["threads_per_actor"] == torch.get_num_threads()
    assert json.loads((tmp_path / "ray/stats.json").read_text())["proportions"]


def test_a_killed_actor_loses_nothing_and_writes_nothing_twice(local_ray, one_thread,
                                                              tmp_path):
    reference = single_process(suite="smoke", model="tiny", n=6, batch_size=1,
                               out=tmp_path / "single", device="cpu")
    outcome = {}
    stored = []

    class Count:  # every store of a row reports here: a batch written twice shows
        def start(self, total, done):
            pass

        def advance(self, count):
            stored.append(count)

    def work():
        outcome["result"] = audit.generate(suite="smoke", model="tiny", n=6, batch_size=1,
                                           out=tmp_path / "ray", device="cpu", ray="local",
                                           ray_actors=2, progress=Count())

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 300
    while not journal_ids(tmp_path / "ray") and time.monotonic() < deadline:
        time.sleep(0.1)
    victim = next(a for a in ray.util.list_named_actors(all_namespaces=True)
                  if a["name"].startswith("generate-0-"))
    ray.kill(ray.get_actor(victim["name"], namespace=victim["namespace"]), no_restart=False)
    thread.join(timeout=600)
    result = outcome["result"]
    assert result.statuses == {"ok": 24}
    assert sum(stored) == 24  # every image stored exactly once
    a = pd.read_parquet(tmp_path / "single/images.parquet")
    b = pd.read_parquet(tmp_path / "ray/images.parquet")
    assert list(a.sha256) == list(b.sha256)
    assert reference.statuses == {"ok": 24}


def test_a_stopped_driver_resumes_with_the_same_bytes(local_ray, one_thread, tmp_path):
    class Stop(Exception):
        pass

    class StopAfter:
        def __init__(self, limit):
            self.limit, self.done = limit, 0

        def start(self, total, done):
            pass

        def advance(self, count):
            self.done += count
            if self.done >= self.limit:
                raise Stop

    with pytest.raises(Stop):
        audit.generate(suite="smoke", model="tiny", n=4, batch_size=1, out=tmp_path / "ray",
                       device="cpu", ray="local", ray_actors=2, progress=StopAfter(5))
    before = journal_ids(tmp_path / "ray")
    assert 5 <= len(before) < 16
    resumed = audit.generate(suite="smoke", model="tiny", n=4, batch_size=1,
                             out=tmp_path / "ray", device="cpu", ray="local", ray_actors=2)
    assert resumed.skipped == len(before) and resumed.statuses == {"ok": 16}
    single = single_process(suite="smoke", model="tiny", n=4, batch_size=1,
                            out=tmp_path / "single", device="cpu")
    assert single.statuses == {"ok": 16}
    a = pd.read_parquet(tmp_path / "single/images.parquet")
    b = pd.read_parquet(tmp_path / "ray/images.parquet")
    assert list(a.sha256) == list(b.sha256)


def test_paid_apis_are_refused_on_ray(tmp_path):
    result = run_cli("generate", "--prompt", "x", "--model", "openai:dall-e-3", "--ray",
                     "local", "--out", str(tmp_path / "r"), env={"OPENAI_API_KEY": "k"})
    assert result.returncode == 2 and "--concurrency" in result.stderr
