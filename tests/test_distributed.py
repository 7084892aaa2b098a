"""Training under torch.distributed: 2 gloo processes with batch B == 1 process with batch 2B; failures stop all."""

import json
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from stellar_relevance.nn.distributed import LaunchError, available_slots, batch_plan, check_nproc, launch
from stellar_relevance.exceptions import ParameterError

WORKER = r'''
import json, os, sys
import torch
from stellar_relevance.nn.distributed import init_from_environment, is_main_process, world
from stellar_relevance.nn.network import SpectralNetwork
from stellar_relevance.nn.training import train

out, batch, die = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "die"
torch.set_num_threads(1)
init_from_environment("cpu")
rank, size = world()
g = torch.Generator().manual_seed(0)
X = torch.randn(101, 12, generator=g)
y = (X[:, :3].sum(1, keepdim=True) + 0.1 * torch.randn(101, 1, generator=g))
if die and rank == 1:
    os._exit(3)
torch.manual_seed(1)
net = SpectralNetwork(12, 1, (8, 4))
train(net, X, y, loss_fn=torch.nn.functional.l1_loss, max_epochs=4, batch_size=batch,
      early_stopping=False, generator=torch.Generator().manual_seed(2), learning_rate=1e-2)
if is_main_process():
    json.dump({"size": size, "relevance": net.spectral.relevance().tolist(),
               "state": {k: v.tolist() for k, v in net.state_dict().items()}}, open(out, "w"))
'''


@pytest.fixture
def worker(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    return script


def _run_single(worker, out, batch, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setattr(sys, "argv", [str(worker), str(out), str(batch), "live"])
    exec(compile(worker.read_text(), str(worker), "exec"), {"__name__": "__main__"})
    return json.loads(out.read_text())


@pytest.mark.skipif(available_slots("cpu") < 2, reason="needs 2 CPU cores for 2 gloo processes")
def test_two_processes_with_batch_b_equal_one_process_with_batch_2b(worker, tmp_path, monkeypatch):
    two = tmp_path / "two.json"
    launch([str(worker), str(two), "8", "live"], 2, device="cpu", module=None)
    got = json.loads(two.read_text())
    assert got["size"] == 2
    want = _run_single(worker, tmp_path / "one.json", 16, monkeypatch)
    assert want["size"] == 1
    np.testing.assert_allclose(got["relevance"], want["relevance"], rtol=1e-4, atol=1e-5)
    for key in want["state"]:
        np.testing.assert_allclose(got["state"][key], want["state"][key], rtol=1e-4, atol=1e-5, err_msg=key)
    # and it did train: the batch-8 single-process network differs
    other = _run_single(worker, tmp_path / "eight.json", 8, monkeypatch)
    assert not np.allclose(other["relevance"], want["relevance"], rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(available_slots("cpu") < 2, reason="needs 2 CPU cores for 2 gloo processes")
def test_a_killed_process_stops_the_others_with_a_clear_message(worker, tmp_path):
    out = tmp_path / "never.json"
    with pytest.raises(LaunchError, match=r"rank 1 \(exit code 3\) of 2 processes failed; the other processes"):
        launch([str(worker), str(out), "8", "die"], 2, device="cpu", module=None)
    assert not out.exists()


def test_batch_plan_deals_each_global_batch_once_with_weights_that_average_to_the_global_mean(monkeypatch):
    import stellar_relevance.nn.distributed as dist

    shares = {}
    for rank in range(3):
        monkeypatch.setattr(dist, "world", lambda rank=rank: (rank, 3))
        plan = batch_plan(23, 4, torch.Generator().manual_seed(5))
        shares[rank] = list(plan.batches())
    monkeypatch.undo()
    single = [index for index, _ in batch_plan(23, 12, torch.Generator().manual_seed(5)).batches()]
    assert len(single) == len(shares[0]) == len(shares[1]) == len(shares[2]) == 2
    for step, chunk in enumerate(single):
        got = torch.cat([shares[r][step][0] for r in range(3)])
        assert sorted(got.tolist()) == sorted(chunk.tolist())
        # each row's coefficient in DDP's average of the weighted per-process means is 1 / len(chunk)
        for r in range(3):
            index, weight = shares[r][step]
            assert weight / (3 * len(index)) == pytest.approx(1 / len(chunk))


def test_nproc_above_the_cores_is_a_usage_error():
    with pytest.raises(ParameterError, match="nproc"):
        check_nproc(available_slots("cpu") + 1, device="cpu")
    from stellar_relevance.cli.main import cli

    result = CliRunner().invoke(cli, ["rank", "synthetic", "--nproc", str(available_slots() + 1), "--out", "x"])
    assert result.exit_code == 2, result.output
    assert "--nproc" in result.output and "Traceback" not in result.output


RANK_WORKER = r'''
import json, sys, warnings
import numpy as np
import torch
from stellar_relevance import rank_spectra
from stellar_relevance.datasets.synthetic_spectra import make_synthetic_spectra
from stellar_relevance.nn.distributed import init_from_environment, is_main_process, world

out = sys.argv[1]
torch.set_num_threads(1)
init_from_environment("cpu")
spectra = make_synthetic_spectra(n_spectra=120, random_state=1)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = rank_spectra(spectra, "FEH", n_seeds=2, random_state=3, max_epochs=6, min_epochs=2, n_iter_no_change=3,
                       batch_size=40, ks=(5, 30, "all"), retrain_ks=(5, 30), retrain_max_epochs=6, n_random=1,
                       n_permutations=50, catalog=None, hidden_layer_sizes=(16, 8))
if is_main_process():
    json.dump({"size": world()[1], "relevance": [float(v) for v in res.ranking["relevance"]],
               "pixel": [int(v) for v in res.ranking["pixel"]],
               "curve": [float(v) for v in res.curve["mae_retrained"]] + [float(v) for v in res.curve["mae_random"]],
               "seeds": [[s["seed"], s["test_mae"], s["best_epoch"]] for s in res.metrics["seeds"]]}, open(out, "w"))
'''


@pytest.mark.skipif(available_slots("cpu") < 2, reason="needs 2 CPU cores for 2 gloo processes")
def test_rank_with_two_processes_spreads_seeds_and_curve_networks_and_equals_one_process(tmp_path, monkeypatch):
    """With 2 seeds and 2 processes each process trains one seed, and half the curve's networks, alone:
    the ranking and the curve are those of one process."""
    script = tmp_path / "rank_worker.py"
    script.write_text(RANK_WORKER)
    two = tmp_path / "two.json"
    launch([str(script), str(two)], 2, device="cpu", module=None)
    got = json.loads(two.read_text())
    assert got["size"] == 2
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path / "one.json")])
    exec(compile(RANK_WORKER, str(script), "exec"), {"__name__": "__main__"})
    want = json.loads((tmp_path / "one.json").read_text())
    assert got["pixel"][:10] == want["pixel"][:10]
    np.testing.assert_allclose(got["relevance"], want["relevance"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got["curve"], want["curve"], rtol=1e-4, atol=1e-5)
    assert [s[0] for s in got["seeds"]] == [3, 4] and [s[2] for s in got["seeds"]] == [s[2] for s in want["seeds"]]


def test_local_training_is_scoped_to_its_block_and_thread(monkeypatch):
    """The "train alone" switch is a context variable: set inside the block only, and only for this thread."""
    import threading

    import stellar_relevance.nn.distributed as distributed

    monkeypatch.setattr(distributed, "world", lambda: (0, 2))  # as under a process group of two
    assert batch_plan(8, 2).size == 2
    seen = {}
    with distributed.local_training():
        assert batch_plan(8, 2).size == 1
        thread = threading.Thread(target=lambda: seen.update(size=batch_plan(8, 2).size))
        thread.start()
        thread.join()
        with distributed.local_training():  # nested: still alone, and alone after the inner block
            pass
        assert batch_plan(8, 2).size == 1
    assert seen == {"size": 2} and batch_plan(8, 2).size == 2
    with pytest.raises(RuntimeError), distributed.local_training():
        raise RuntimeError("the switch is reset on the way out of an error")
    assert batch_plan(8, 2).size == 2
