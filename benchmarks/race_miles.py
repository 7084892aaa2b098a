"""MILES [Fe/H]: a fair race of the spectral rankers against F-test, mutual information and the Cannon.

Protocol (``python benchmarks/compare_miles.py --race``):

- ``KFold(5, shuffle=True, random_state=--split-seed)``: the same folds for
  every ranker and representation; ``--train-seeds`` training seeds per fold
  (the random state of the networks, of mutual information and of the random
  ranking) and ``--judge-seeds`` ExtraTrees seeds per ranking.
- Representations: the stored flux and the continuum-normalised flux
  (``normalise_continuum(flux, wavelength, method="running", window=100 A,
  percentile=90)``); every ranker runs on both.
- Spectral rankers trained as ``stelrel rank`` trains: the estimator is built
  by the pipeline's own parameter function from ``rank_spectra``'s defaults
  (batch 128, at most 1000 epochs, ``min_epochs`` 300, patience 100, MAE loss,
  early stopping); ``spectral`` is its ``ranking_``, ``spectral_select`` the
  ``ranking_`` of ``estimator.select(X, y, k)`` (chained 30 -> 10 -> 5 -> 3,
  select's own epochs).
- Judges at k = 3, 5, 10, 30: ``ExtraTreesRegressor(100)`` on the top-k pixels
  alone (``pixels``: the selection claim) and on the top-k pixels plus Teff
  and log g (``given``: the conditional claim); test-fold MAE.
- Paired differences per fold (mean over training and judge seeds) with
  95 % intervals: Student t over the folds, Nadeau-Bengio corrected.
- Index hits: the top 30 pixels merged into distinct features (pixels within
  4 A), features touching an ``optical`` index band counted, one-sided
  circular-shift p-value (the feature set shifted along the grid).
- Sensitivity: the forward sensitivity of the spectral prediction given Teff
  and log g against the Cannon's ``|d flux / d[Fe/H]| / scatter`` fitted on
  the same representation (Spearman).
"""

from __future__ import annotations

import inspect
import logging
import time
import types

from pathlib import Path

import numpy as np

import cannon as cannon_peer
import peers as peer_methods
from compare_miles import in_index_bands, load, paired_interval

logger = logging.getLogger("benchmarks.race_miles")

KS = (3, 5, 10, 30)
REPRESENTATIONS = ("stored", "running")
RANKERS = ("spectral", "spectral_select", "f_test", "mutual_info", "cannon", "random")
PEERS = ("f_test", "mutual_info", "cannon")
JUDGES = ("pixels", "given")
MERGE_A = 4.0


# ------------------------------------------------------------------ library pieces (with the brief's signatures)
def continuum(flux, wavelength):
    """``normalise_continuum`` of the library; the benchmark's own running percentile until it exists."""
    import astropy.units as u

    try:
        from stellar_relevance.io.continuum import normalise_continuum
    except ImportError:
        step = float(np.median(np.diff(wavelength)))
        window = max(3, int(round(100.0 / step)) | 1)
        logger.warning("stellar_relevance.io.continuum missing: running 90th percentile over %d pixels", window)
        return cannon_peer.continuum_normalise(flux, window, 90).astype(np.float32), "benchmark fallback"
    out = normalise_continuum(flux, wavelength * u.AA, method="running", window=100 * u.AA, percentile=90.0)
    return np.asarray(out, dtype=np.float32), "stellar_relevance.io.continuum"


def sensitivity(X, prediction, given):
    """``forward_sensitivity`` of the library; its stated form until it exists.

    Its absolute value (the library's is signed). Fallback: pixels and
    prediction residualised on a quadratic in the given labels;
    ``|cov(x, p)| / var(p)`` over the scatter of ``x`` left after the
    prediction.
    """
    try:
        from stellar_relevance.estimators import forward_sensitivity
    except ImportError:
        g = (given - given.mean(0)) / given.std(0)
        design = np.column_stack([np.ones(len(g)), g, g[:, :1] ** 2, g[:, 1:] ** 2, g[:, :1] * g[:, 1:]])
        coef = np.linalg.lstsq(design, np.column_stack([X, prediction]), rcond=None)[0]
        resid = np.column_stack([X, prediction]) - design @ coef
        rx, rp = resid[:, :-1], resid[:, -1]
        slope = rx.T @ rp / (rp @ rp)
        scatter = np.std(rx - np.outer(rp, slope), axis=0)
        return np.abs(slope) / np.maximum(scatter, 1e-12), "benchmark fallback"
    # signed in the library; the Cannon's reference is |d flux / d[Fe/H]| / scatter
    return np.abs(np.asarray(forward_sensitivity(X, prediction, given=given))), "stellar_relevance.estimators"


def rank_estimator(quick):
    """A SpectralRelevanceRegressor built exactly as ``rank_spectra`` builds it from its defaults."""
    from stellar_relevance import SpectralRelevanceRegressor
    from stellar_relevance.ranking import pipeline
    from stellar_relevance.ranking._train import network_params

    defaults = {n: p.default for n, p in inspect.signature(pipeline.rank_spectra).parameters.items()
                if p.default is not inspect.Parameter.empty}
    p = types.SimpleNamespace(**{**defaults, "progress": False})
    if quick:
        p.hidden_layer_sizes, p.max_epochs = (32,), 5
    p.min_epochs = min(300, int(p.max_epochs)) if p.min_epochs is None else p.min_epochs
    params = network_params(p)
    return SpectralRelevanceRegressor(**params), {k: v for k, v in params.items() if k != "verbose"}


# ------------------------------------------------------------------ scoring helpers
def feature_hits(ranking, wave, inside, top=30, n_shifts=1000, seed=0):
    """Distinct features of the top pixels, how many touch an index band, circular-shift p-value."""
    idx = np.sort(np.asarray(ranking[:top]))
    breaks = np.flatnonzero(np.diff(wave[idx]) > MERGE_A) + 1
    features = np.split(idx, breaks)
    hits = sum(bool(inside[f].any()) for f in features)
    n = len(wave)
    shifts = np.random.default_rng(seed).integers(1, n, n_shifts)
    null = np.zeros(n_shifts, int)
    for f in features:
        null += inside[(f[None, :] + shifts[:, None]) % n].any(axis=1)
    return {"features": len(features), "hits": int(hits), "p": float((1 + (null >= hits).sum()) / (1 + n_shifts))}


def judge(Xtr, Xte, Ltr, Lte, top, seed):
    """Test MAE of ExtraTrees on the top pixels (pixels) and on them plus Teff, log g (given)."""
    from sklearn.ensemble import ExtraTreesRegressor

    out = {}
    for name, extra_tr, extra_te in (("pixels", Ltr[:, :0], Lte[:, :0]), ("given", Ltr[:, :2], Lte[:, :2])):
        et = ExtraTreesRegressor(n_estimators=100, random_state=seed, n_jobs=1)
        et.fit(np.column_stack([Xtr[:, top], extra_tr]), Ltr[:, 2])
        out[name] = float(np.mean(np.abs(et.predict(np.column_stack([Xte[:, top], extra_te])) - Lte[:, 2])))
    return out


# ------------------------------------------------------------------ one fold, one representation, one seed
def rank_unit(Xtr, Ltr, seed, cfg, cache):
    """Rankings ({name: {k: ranking}}) and extras of one (fold, representation, training seed)."""
    from scipy.stats import spearmanr
    from sklearn.base import clone

    ytr = Ltr[:, 2]
    out, extra = {}, {}
    t0 = time.perf_counter()
    model = clone(cfg["estimator"]).set_params(random_state=seed).fit(Xtr, ytr)
    extra["spectral_seconds"] = time.perf_counter() - t0
    extra["epochs"] = int(model.n_epochs_)
    out["spectral"] = {k: np.asarray(model.ranking_) for k in KS}
    select, current = {}, model
    t0 = time.perf_counter()
    for k in sorted(KS, reverse=True):
        current = current.select(Xtr, ytr, k, max_epochs=cfg["select_epochs"])
        select[k] = np.asarray(current.ranking_)
    extra["select_seconds"] = time.perf_counter() - t0
    out["spectral_select"] = select
    if "cannon" not in cache:  # deterministic: once per fold and representation
        res, _ = cannon_peer.rank_cannon(Xtr, Ltr, 2, backend=cfg["cannon_backend"])
        cache["cannon"] = res
        uni = peer_methods.rank_univariate(Xtr, ytr, "regression", methods=("f_test",))
        cache["f_test"] = uni[0]
    out["cannon"] = {k: np.asarray(cache["cannon"].ranking) for k in KS}
    out["f_test"] = {k: np.asarray(cache["f_test"].ranking) for k in KS}
    mi = peer_methods.rank_univariate(Xtr, ytr, "regression", methods=("mutual_info",), random_state=seed)[0]
    out["mutual_info"] = {k: np.asarray(mi.ranking) for k in KS}
    out["random"] = {k: np.random.default_rng(seed).permutation(Xtr.shape[1]) for k in KS}
    sens, source = sensitivity(Xtr, model.predict(Xtr), Ltr[:, :2])
    extra["sensitivity_source"] = source
    extra["sensitivity_spearman_cannon"] = float(spearmanr(sens, cache["cannon"].scores)[0])
    extra["relevance_spearman_cannon"] = float(spearmanr(model.relevance_, cache["cannon"].scores)[0])
    return out, extra


def run(args):
    from sklearn.model_selection import KFold

    X, labels, wave = load(args.pixel_step, args.max_stars)
    inside = in_index_bands(wave)
    reps = {"stored": (X, "stored")}
    if "running" in args.representations:
        reps["running"] = continuum(X, wave)
    estimator, params = rank_estimator(args.quick)
    cfg = {"estimator": estimator.set_params(n_threads=args.threads), "select_epochs": args.select_epochs,
           "cannon_backend": args.cannon_backend}
    folds = list(KFold(n_splits=args.folds, shuffle=True, random_state=args.split_seed).split(X))
    records, caches = [], {}
    for seed in range(args.train_seeds):  # seed-major: one pass is a whole cross-validation
        for f, (train, test) in enumerate(folds):
            for rep in args.representations:
                Xr = reps[rep][0]
                logger.info("seed %d fold %d %s", seed, f, rep)
                rankings, extra = rank_unit(Xr[train], labels[train], seed, cfg, caches.setdefault((f, rep), {}))
                rec = {"seed": seed, "fold": f, "rep": rep, "n_train": len(train), "n_test": len(test), **extra,
                       "mae": {}, "hits": {}}
                for name, by_k in rankings.items():
                    rec["hits"][name] = feature_hits(by_k[30], wave, inside, seed=seed)
                    for k in KS:
                        for js in range(args.judge_seeds):
                            for j, v in judge(Xr[train], Xr[test], labels[train], labels[test], by_k[k][:k],
                                              js).items():
                                rec["mae"].setdefault(f"{name}|{k}|{j}", []).append(v)
                records.append(rec)
        if seed + 1 < args.train_seeds:  # an interrupted run keeps every whole cross-validation done
            from _common import write_json
            from stellar_relevance.io.provenance import jsonable

            partial = args.output.with_name(args.output.stem + ".partial.json")
            write_json(partial, jsonable({"partial": True, "train_seeds_done": seed + 1,
                                          "summary": summarise(records, folds, args)}))
    return summarise(records, folds, args), params, {r: reps[r][1] for r in reps}


def summarise(records, folds, args):
    n_train = float(np.mean([len(a) for a, _ in folds]))
    n_test = float(np.mean([len(b) for _, b in folds]))
    out = {"mae": {}, "paired": {}, "hits": {}, "sensitivity": {}, "seconds": {}}
    for rep in args.representations:
        recs = [r for r in records if r["rep"] == rep]

        def per_fold(key):
            return [float(np.mean([v for r in recs if r["fold"] == f for v in r["mae"][key]]))
                    for f in range(len(folds))]

        for name in RANKERS:
            for k in KS:
                for j in JUDGES:
                    out["mae"][f"{rep}|{name}|{k}|{j}"] = float(np.mean(per_fold(f"{name}|{k}|{j}")))
            h = [r["hits"][name] for r in recs]
            out["hits"][f"{rep}|{name}"] = {"features": float(np.mean([x["features"] for x in h])),
                                            "hits": float(np.mean([x["hits"] for x in h])),
                                            "median_p": float(np.median([x["p"] for x in h]))}
        for mine in ("spectral", "spectral_select"):
            for k in KS:
                for j in JUDGES:
                    best = min(PEERS, key=lambda p: out["mae"][f"{rep}|{p}|{k}|{j}"])
                    for peer in PEERS + ("best",):
                        other = best if peer == "best" else peer
                        d = np.subtract(per_fold(f"{mine}|{k}|{j}"), per_fold(f"{other}|{k}|{j}"))
                        out["paired"][f"{rep}|{mine}|{peer}|{k}|{j}"] = {**paired_interval(d, n_train, n_test),
                                                                         "peer": other}
        for key in ("sensitivity_spearman_cannon", "relevance_spearman_cannon"):
            out["sensitivity"][f"{rep}|{key}"] = float(np.mean([r[key] for r in recs]))
        out["sensitivity"][f"{rep}|source"] = recs[0]["sensitivity_source"]
        for key in ("spectral_seconds", "select_seconds", "epochs"):
            out["seconds"][f"{rep}|{key}"] = float(np.mean([r[key] for r in recs]))
    out["records"] = records
    return out


# ------------------------------------------------------------------ reporting
def _ci(d):
    return f"{d['mean']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]" if "ci95" in d else f"{d['mean']:+.3f}"


def tables(summary, reps):
    """Markdown: MAE per ranker, k and judge; paired differences; index hits."""
    from _common import markdown_table

    rows = []
    for rep in reps:
        for name in RANKERS:
            row = {"rep": rep, "ranker": name}
            for j in JUDGES:
                for k in KS:
                    row[f"{j}{k}"] = f"{summary['mae'][f'{rep}|{name}|{k}|{j}']:.3f}"
            h = summary["hits"][f"{rep}|{name}"]
            row["hits"] = f"{h['hits']:.1f}/{h['features']:.1f} (p {h['median_p']:.3f})"
            rows.append(row)
    cols = ["rep", "ranker"] + [(f"{j}{k}", f"{j} k={k}") for j in JUDGES for k in KS] \
        + [("hits", "top-30 features in bands (median p)")]
    mae = markdown_table(rows, cols)
    prow = []
    for rep in reps:
        for mine in ("spectral", "spectral_select"):
            for peer in PEERS + ("best",):
                row = {"rep": rep, "ranker": mine, "against": peer}
                for j in JUDGES:
                    for k in KS:
                        row[f"{j}{k}"] = _ci(summary["paired"][f"{rep}|{mine}|{peer}|{k}|{j}"])
                prow.append(row)
    paired = markdown_table(prow, ["rep", "ranker", "against"] + [(f"{j}{k}", f"{j} k={k}") for j in JUDGES
                                                                  for k in KS])
    return mae, paired


def targets(summary, reps):
    """The issue's targets, met or not, with the numbers (Markdown bullets)."""
    lines = []
    for rep in reps:
        p = summary["paired"]
        best = p[f"{rep}|spectral_select|best|5|pixels"]
        lines.append(f"- **figure of merit ({rep})**: select - best peer ({best['peer']}) at k = 5, pixels judge: "
                     f"{_ci(best)} dex")
        f_, mi, cn = (p[f"{rep}|spectral_select|{x}|5|pixels"] for x in PEERS)
        beats = all("ci95" in d and d["ci95"][1] < 0 for d in (f_, mi))
        not_worse = "ci95" in cn and cn["ci95"][0] <= 0
        lines.append(f"- k = 5, pixels ({rep}): select vs F {_ci(f_)}, vs MI {_ci(mi)} (both below zero: "
                     f"**{'met' if beats else 'not met'}**); vs Cannon {_ci(cn)} (not worse: "
                     f"**{'met' if not_worse else 'not met'}**)")
        g = p[f"{rep}|spectral_select|best|10|given"]
        lines.append(f"- k = 10, Teff and log g given ({rep}): select - best peer ({g['peer']}) {_ci(g)} "
                     f"(within 0.01: **{'met' if g['mean'] <= 0.01 else 'not met'}**)")
        s = summary["sensitivity"][f"{rep}|sensitivity_spearman_cannon"]
        lines.append(f"- sensitivity vs Cannon ({rep}, {summary['sensitivity'][f'{rep}|source']}): Spearman "
                     f"{s:.2f} (relevance: {summary['sensitivity'][f'{rep}|relevance_spearman_cannon']:.2f}; "
                     f">= 0.85: **{'met' if s >= 0.85 else 'not met'}**)")
    return "\n".join(lines)


def render(paths):
    """Print the tables and verdicts of one or more result JSONs (their representations merged)."""
    import json

    merged, reps = {}, []
    for path in paths:
        payload = json.loads(Path(path).read_text())
        summary = payload["summary"]
        reps += [r for r in REPRESENTATIONS if f"{r}|spectral|5|pixels" not in merged.get("mae", {})
                 and f"{r}|spectral|5|pixels" in summary["mae"]]
        for key in ("mae", "paired", "hits", "sensitivity", "seconds"):
            merged.setdefault(key, {}).update(summary[key])
        print(f"{path}: {payload.get('train_seeds_done', 'all')} training seed(s) done")
    mae, paired = tables(merged, reps)
    print(mae, paired, targets(merged, reps), sep="\n\n")
    print(f"\nseconds per training: {merged['seconds']}")


def main(argv=None):
    import argparse
    import json
    import sys

    from _common import environment, write_json
    from stellar_relevance.io.provenance import jsonable

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--race", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="CI plumbing check (< 1 min); numbers mean nothing")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/race_miles.json"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--train-seeds", type=int, default=3)
    parser.add_argument("--judge-seeds", type=int, default=2)
    parser.add_argument("--pixel-step", type=int, default=1, help="keep every n-th pixel (1: all 4300)")
    parser.add_argument("--max-stars", type=int, default=None)
    parser.add_argument("--representations", nargs="+", default=list(REPRESENTATIONS), choices=REPRESENTATIONS)
    parser.add_argument("--select-epochs", type=int, default=None, help="select's max_epochs (default: its own)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cannon-backend", choices=("thecannon", "lstsq"), default="lstsq")
    parser.add_argument("--render", type=Path, nargs="+", default=None, metavar="JSON",
                        help="print the tables and verdicts of result JSONs (.partial too; one per representation "
                             "is merged) and exit")
    args = parser.parse_args(argv)
    if args.render:
        render(args.render)
        return 0
    if args.quick:
        args.folds, args.train_seeds, args.judge_seeds = 2, 1, 1
        args.pixel_step, args.max_stars, args.select_epochs = max(args.pixel_step, 20), args.max_stars or 200, 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("stellar_relevance").setLevel(logging.WARNING)
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    summary, params, sources = run(args)
    mae, paired = tables(summary, args.representations)
    verdicts = targets(summary, args.representations)
    payload = {"benchmark": "race_miles", "command": "python benchmarks/compare_miles.py --race "
               + " ".join(a for a in (sys.argv[1:] if argv is None else argv) if a != "--race"),
               "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
               "estimator": params, "continuum": sources, "environment": environment(), "summary": summary,
               "seconds": time.perf_counter() - started}
    print(mae, paired, verdicts, sep="\n\n")
    print(f"\nseconds per training: {summary['seconds']}; continuum: {sources}")
    write_json(args.output, json.loads(json.dumps(jsonable(payload))))
    partial = args.output.with_name(args.output.stem + ".partial.json")
    if partial.exists():
        partial.unlink()
    print(f"wrote {args.output} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
