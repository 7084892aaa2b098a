"""The MNIST and peer-comparison benchmarks: peer rankers on small data, both scripts in --quick mode."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(BENCH))

import peers  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def linear_data(n=600, d=12, seed=0):
    """Two informative features (3 strong, 7 weaker), the rest noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (2.0 * X[:, 3] + 1.0 * X[:, 7] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    return X, y


# ---------------------------------------------------------------- peers.py
def test_ranking_from_scores_orders_and_handles_nan():
    ranking = peers.ranking_from_scores([0.5, np.nan, np.inf, 2.0, 0.5])
    assert ranking.tolist() == [2, 3, 0, 4, 1]


def test_univariate_and_baselines():
    X, y = linear_data()
    X0 = X.copy()
    f, mi = peers.rank_univariate(X, y, "classification", random_state=0)
    assert f.name == "f_test" and set(f.ranking[:2]) == {3, 7}
    assert mi.name == "mutual_info" and mi.ranking[0] == 3
    var = peers.rank_variance(X)
    assert sorted(var.ranking) == list(range(X.shape[1]))
    r1, r2 = peers.rank_random(12, random_state=5), peers.rank_random(12, random_state=5)
    assert r1.ranking.tolist() == r2.ranking.tolist()
    assert sorted(r1.ranking) == list(range(12))
    np.testing.assert_array_equal(X, X0)  # inputs untouched


def test_dense_attributions_find_the_signal():
    X, y = linear_data()
    results = peers.rank_dense_attributions(
        X, y, "classification", network=dict(hidden_layer_sizes=(16,), max_epochs=60, batch_size=100),
        ig_steps=8, n_repeats=2, max_attribution_rows=300, random_state=0,
    )
    assert [r.name for r in results] == ["integrated_gradients", "saliency", "permutation"]
    has_captum = importlib.util.find_spec("captum") is not None
    for r in results:
        if r.name != "permutation" and not has_captum:
            # without the bench extra the captum peers are skipped, with the reason
            assert r.ranking is None and "captum" in r.skipped
            continue
        assert r.skipped is None
        assert r.ranking[0] == 3, r.name
        assert 7 in r.ranking[:3], r.name
        assert r.seconds >= r.details["train_seconds"] > 0
    if has_captum:
        assert results[0].details["n_rows"] == 300


def test_dense_net_regression():
    pytest.importorskip("captum", reason="captum (bench extra) not installed")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 6)).astype(np.float32)
    y = 3.0 * X[:, 2] - X[:, 4]
    (ig,) = peers.rank_dense_attributions(X, y, "regression", methods=["integrated_gradients"],
                                          network=dict(hidden_layer_sizes=(16,), max_epochs=80, batch_size=100),
                                          ig_steps=8, random_state=0)
    assert ig.ranking[:2].tolist() == [2, 4]


def test_lassonet_short_path():
    pytest.importorskip("lassonet", reason="lassonet (bench extra) not installed")
    X, y = linear_data(n=400, d=8)
    res = peers.rank_lassonet(X, y, "classification", lambda_start=1.0, path_multiplier=1.5,
                              n_iters=(100, 20), patience=(10, 5), random_state=0)
    assert res.skipped is None
    assert sorted(res.ranking) == list(range(8))
    assert res.ranking[0] == 3
    assert res.details["path_length"] >= 2


def test_missing_package_is_a_skip_with_reason(monkeypatch):
    monkeypatch.setitem(peers.PEERS, "integrated_gradients", "no_such_package_xyz")
    X, y = linear_data(n=200)
    results = peers.run_peers(X, y, "classification", ["integrated_gradients", "f_test"], random_state=0)
    assert results[0].skipped and "no_such_package_xyz" in results[0].skipped
    assert results[0].ranking is None
    assert results[1].skipped is None
    with pytest.raises(ValueError, match="unknown peer"):
        peers.run_peers(X, y, "classification", ["shap"])
    with pytest.raises(ValueError, match="task"):
        peers.rank_univariate(X, y, "ranking")


def test_pruned_spectral_peer_is_the_library_select():
    """compare.py's ``spectral_pruned`` ranking is ``model.select``'s, the duplicate in peers.py is gone."""
    import compare
    from stellar_relevance import SpectralRelevanceClassifier

    assert not hasattr(peers, "prune_and_finetune") and not hasattr(peers, "prune_schedule")
    X, y = linear_data(n=600, d=12)
    clf = SpectralRelevanceClassifier(hidden_layer_sizes=(16, 8), max_epochs=40, random_state=0).fit(X, y)
    eig_before = clf.eigenvalues_.copy()
    ds = dict(task="classification", k=2, prune_epochs=5, X_train=X[:500], y_train=y[:500],
              X_test=X[500:], y_test=y[500:])
    spectral = peers.PeerResult("spectral", seconds=1.0, cpu_seconds=1.0)
    result = compare.rank_spectral_pruned(ds, spectral, clf)
    np.testing.assert_array_equal(clf.eigenvalues_, eig_before)  # the fitted net is not modified
    direct = clf.select(X[:500], y[:500], 2, max_epochs=5)
    np.testing.assert_array_equal(result.ranking, direct.ranking_)
    np.testing.assert_array_equal(result.scores, direct.relevance_)
    assert set(result.ranking[:2]) == {3, 7} and sorted(result.ranking) == list(range(12))
    assert result.details["schedule"] == [6, 3, 2] and result.details["n_selected"] == 2
    assert result.details["pruned_net_masked_test_score"] == pytest.approx(float(direct.score(X[500:], y[500:])))
    assert result.seconds > 1.0


# ---------------------------------------------------------- scripts, --quick
def run_script(args, tmp_path, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_mnist_benchmark_quick(tmp_path, mnist_dir):
    out = tmp_path / "mnist.json"
    proc = run_script(["benchmarks/mnist.py", "--quick", "--data", str(mnist_dir), "--output", str(out)], tmp_path)
    assert "internal split of the MNIST t10k set" in proc.stdout
    assert "| experiment |" in proc.stdout
    data = json.loads(out.read_text())
    split = data["split"]
    assert split["random_state"] == 0 and split["n_train"] + split["n_test"] == split["n_images_used"]
    assert data["quick"] is True and "stratified" in data["split_text"]
    assert set(data["results"]) == {"0v1", "5v9", "all"}
    for name, res in data["results"].items():
        assert 0.0 <= res["test_accuracy"] <= 1.0
        assert len(res["relevance"]) == 784 and min(res["relevance"]) >= 0
        kinds = {(r["protocol"], r["selection"]) for r in res["curve"]}
        assert kinds == {("masked", "ranked"), ("masked", "random"), ("retrained", "ranked"), ("retrained", "random")}
        assert any(r["k"] == res["claim"]["k"] for r in res["curve"])
        stages = res["pruned"]["stages"]
        assert stages[-1]["k"] == res["claim"]["k"]
        assert [s["k"] for s in stages] == sorted([s["k"] for s in stages], reverse=True)
        assert len(res["pruned"]["final_pixels"]) == res["claim"]["k"]
        assert res["pruned"]["keep"] == 0.5 and res["pruned"]["schedule"][-1] == res["claim"]["k"]
        trees = res["extra_trees"]
        assert trees["k"] == res["claim"]["k"] and [r["seed"] for r in trees["per_seed"]] == [0]
        assert 0.0 <= trees["one_training"] <= 1.0 and 0.0 <= trees["selected"] <= 1.0
        assert res["sparsity"]["n_for_90pct_of_total"] >= 1
    # even the quick run separates 0 from 1
    assert data["results"]["0v1"]["test_accuracy"] > 0.95
    for fig in data["figures"]:
        assert Path(fig).stat().st_size > 10_000


@pytest.mark.parametrize("option", [["--prune-keep", "1.5"], ["--prune-keep", "0"], ["--prune-epochs", "0"],
                                    ["--seeds", "0"]])
def test_mnist_benchmark_bad_options_exit_2(option, capsys):
    import mnist

    with pytest.raises(SystemExit) as stop:
        mnist.main(option)
    assert stop.value.code == 2
    assert option[0] in capsys.readouterr().err


def test_compare_benchmark_quick(tmp_path):
    # the two synthetic sets with ground truth keep this under a minute; the
    # MNIST path of compare.py is the same code with another loader
    out = tmp_path / "compare.json"
    proc = run_script(["benchmarks/compare.py", "--quick", "--datasets", "correlated", "xor512",
                       "--output", str(out)], tmp_path)
    assert "| dataset | method |" in proc.stdout
    data = json.loads(out.read_text())
    assert data["quick"] is True and data["n_seeds"] == 2
    by_name = {r["name"]: r for r in data["results"]}
    assert set(by_name) == {"correlated", "xor512"}
    for name, res in by_name.items():
        rows = {row["method"]: row for row in res["summary"]}
        assert set(rows) == {"spectral", "spectral_pruned", "spectral_early", *peers.PEERS}
        for method, row in rows.items():
            if "skipped" in row:
                assert row["skipped"], method  # a reason, never silence
                continue
            assert 0.0 <= row["score"] <= 1.0
            assert row["seconds"] >= 0 and row["time_ratio"] is not None
            assert len(row["top_k"][0]) == res["k"]
        assert rows["spectral"]["time_ratio"] == pytest.approx(1.0)
        assert rows["spectral"]["n_seeds"] == 2 and rows["spectral"]["stability"] is not None
        assert 0.0 <= res["all_features_score"] <= 1.0
    assert "seed 0" in by_name["correlated"]["split"]
    # ground truth is known: recall is reported for every ranking that ran
    for res in by_name.values():
        assert all(0.0 <= r["recall"] <= 1.0 for r in res["summary"] if "skipped" not in r)
    correlated = {r["method"]: r for r in by_name["correlated"]["summary"]}
    # the paired features carry the label; even the quick spectral run finds all 8
    assert correlated["spectral"]["recall"] == 1.0
    assert correlated["spectral_pruned"]["details"][0]["schedule"] == [8]
    assert "skipped" in {r["method"]: r for r in by_name["xor512"]["summary"]}["spectral_pruned"]
    assert Path(data["figure"]).stat().st_size > 10_000
