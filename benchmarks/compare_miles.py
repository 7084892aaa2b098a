"""MILES [Fe/H]: every ranker on the same cross-validation folds, judged by retrained models.

Protocol (issue 13, item 6):

- ``KFold(n_splits=5, shuffle=True, random_state=--split-seed)``: the same
  five folds for every ranker; each ranker runs with ``--seeds`` random
  states on every fold (its training randomness; the folds do not move).
- Rankers: the spectral net (one training, ``ranking_``), the spectral net
  pruned in stages and fine-tuned (the library's ``select``), LassoNet,
  dense net + Integrated Gradients / saliency / permutation, stochastic
  gates (STG), ANOVA F, mutual information, the Cannon's sensitivity
  spectrum on the stored and on continuum-normalised fluxes (``cannon.py``),
  variance, random.
- Judged at k = 10, 30, 100 by the test-fold MAE of ``ExtraTreesRegressor(50)``
  and of a spectral net (``SpectralRelevanceRegressor``, 200-50-50, MAE)
  retrained on the top-k pixels alone; paired differences against the F-test
  ranking per fold (mean over seeds) with a 95 % interval: Student t over
  the folds with the Nadeau & Bengio (2003) correction for overlapping
  training sets (variance x (1/n + n_test/n_train)); the plain t interval is
  in the JSON too.
- Errors per Teff band of the test stars (hot > 7000 K, FGK 4000-7000 K,
  M < 4000 K), pooled over the folds, ExtraTrees at each k.
- Agreement: Spearman correlation between each ranking (as rank positions)
  and the Cannon sensitivity spectrum fitted on the same training fold;
  share of the top-30 pixels inside the central bands of the ``optical``
  index catalogue (air wavelengths, as MILES), against the share of all
  pixels there (chance).
- Stability: top-30 overlap between seeds on the same fold.
- Masked protocol: the spectral net (and the pruned one) scored on the test
  fold with all but its top-k pixels replaced by the training mean.
- The Cannon as a predictor: its label inference on the test fold, all
  pixels, stored and normalised fluxes.

Usage::

    python benchmarks/compare_miles.py --quick            # CI smoke (< 60 s), numbers mean nothing
    python benchmarks/compare_miles.py                     # full: 5 folds x 3 seeds, all pixels
    python benchmarks/compare_miles.py --pixel-step 4 --net-seeds 1 ...   # reduced (see docs/compare.md)
    python benchmarks/compare_miles.py --race --quick     # the fair race (race_miles.py), CI smoke
    python benchmarks/compare_miles.py --race --pixel-step 4   # the fair race, docs/compare.md
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings

from pathlib import Path

import numpy as np
from stellar_relevance.io.provenance import jsonable

import cannon as cannon_peer
import peers as peer_methods
from _common import add_common_args, data_dir, environment, markdown_table, write_json

logger = logging.getLogger("benchmarks.compare_miles")

RANKERS = ("spectral", "spectral_pruned", "lassonet", "integrated_gradients", "saliency", "permutation", "stg",
           "f_test", "mutual_info", "cannon", "cannon_norm", "variance", "random")
BANDS = {"hot": (7000.0, np.inf), "FGK": (4000.0, 7000.0), "M": (-np.inf, 4000.0)}
KS = (10, 30, 100)


def load(pixel_step=1, max_stars=None):
    """MILES stars with Teff, log g and [Fe/H]: X, labels (n, 3: TEFF, LOGG, FEH), wavelength [A]."""
    from stellar_relevance import load_miles

    folder = data_dir("miles", "STELREL_MILES_DIR")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reader's DataWarnings are documented there
        spectra = load_miles(folder).with_label("FEH")
    X, y = spectra.to_xy("FEH")
    labels = np.column_stack([np.asarray(spectra.labels[c], dtype=float) for c in ("TEFF", "LOGG")] + [y])
    ok = np.all(np.isfinite(labels), axis=1)
    X, labels = np.asarray(X, dtype=np.float32)[ok][:, ::pixel_step], labels[ok]
    if max_stars is not None and len(X) > max_stars:
        rows = np.sort(np.random.default_rng(0).choice(len(X), max_stars, replace=False))
        X, labels = X[rows], labels[rows]
    wave = np.asarray(spectra.wavelength.value, dtype=float)[::pixel_step]
    return X, labels, wave


def in_index_bands(wave, catalogue="optical"):
    """Boolean per pixel: inside the central band of any index of ``catalogue``."""
    from stellar_relevance import load_catalog

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = load_catalog(catalogue)
    inside = np.zeros(len(wave), dtype=bool)
    for lo, hi in zip(np.asarray(table["band_lower"], float), np.asarray(table["band_upper"], float)):
        inside |= (wave >= lo) & (wave <= hi)
    return inside


def paired_interval(diffs, n_train, n_test):
    """Mean and 95 % intervals (plain t; Nadeau-Bengio corrected t) of per-fold paired differences."""
    from scipy.stats import t

    diffs = np.asarray(diffs, dtype=float)
    n = len(diffs)
    mean = float(diffs.mean())
    if n < 2:
        return {"mean": mean, "n": n}
    var = float(diffs.var(ddof=1))
    q = float(t.ppf(0.975, n - 1))
    plain = q * np.sqrt(var / n)
    corrected = q * np.sqrt(var * (1.0 / n + n_test / n_train))
    return {"mean": mean, "n": n, "ci95": [mean - corrected, mean + corrected],
            "ci95_plain": [mean - plain, mean + plain], "excludes_zero": bool(abs(mean) > corrected)}


# ------------------------------------------------------------------ one fold, one seed
class Fold:
    def __init__(self, X, labels, train, test):
        self.X_train, self.X_test = X[train], X[test]
        self.L_train, self.L_test = labels[train], labels[test]
        self.y_train, self.y_test = labels[train, 2], labels[test, 2]
        self.test = test
        self.cannon = {}


def rank_all(fold, methods, seed, cfg):
    """Every ranking of one (fold, seed); returns {name: PeerResult}, extras (masked scores, Cannon predictions)."""
    from stellar_relevance import SpectralRelevanceRegressor
    from stellar_relevance.ranking.evaluation import mask_features
    from stellar_relevance.estimators._selection import pruning_schedule

    out, extra = {}, {}
    Xtr, ytr = fold.X_train, fold.y_train
    if "spectral" in methods or "spectral_pruned" in methods:
        t0, c0 = time.perf_counter(), time.process_time()
        model = SpectralRelevanceRegressor(**cfg["spectral"], random_state=seed).fit(Xtr, ytr)
        res = peer_methods.PeerResult("spectral", ranking=np.asarray(model.ranking_),
                                      scores=np.asarray(model.relevance_), seconds=time.perf_counter() - t0,
                                      cpu_seconds=time.process_time() - c0)
        out["spectral"] = res
        extra["masked_spectral"] = {
            k: float(np.mean(np.abs(model.predict(mask_features(fold.X_test, res.ranking[:k], model.feature_means_))
                                    - fold.y_test))) for k in KS}
        extra["spectral_all_pixels"] = float(np.mean(np.abs(model.predict(fold.X_test) - fold.y_test)))
        if "spectral_pruned" in methods:
            # the library's select, chained down the ks: each call prunes from the last one's support
            # (one longer pruning, and the test-fold masked score of every stop); ranking = elimination order
            masked, schedule, pruned = {}, [], model
            t0, c0 = time.perf_counter(), time.process_time()
            for k in sorted(KS, reverse=True):
                schedule += pruning_schedule(pruned, k)
                pruned = pruned.select(Xtr, ytr, k, max_epochs=cfg["prune_epochs"])
                # the pruned inputs contribute nothing: the prediction on full inputs is the masked protocol
                masked[k] = float(np.mean(np.abs(pruned.predict(fold.X_test) - fold.y_test)))
            out["spectral_pruned"] = peer_methods.PeerResult(
                "spectral_pruned", ranking=np.asarray(pruned.ranking_), seconds=res.seconds + time.perf_counter() - t0,
                cpu_seconds=res.cpu_seconds + time.process_time() - c0, details={"schedule": schedule})
            extra["masked_pruned"] = masked
    names = [m for m in methods if m in peer_methods.PEERS and (m != "lassonet" or seed < cfg["lassonet_seeds"])]
    for r in peer_methods.run_peers(Xtr, ytr, "regression", names, random_state=seed, lassonet=cfg["lassonet"],
                                    dense=cfg["dense"], max_attribution_rows=None, n_repeats=cfg["n_repeats"]):
        out[r.name] = r
    for name, normalise in (("cannon", False), ("cannon_norm", True)):
        if name in methods or name == "cannon":  # the stored-flux Cannon is the agreement reference
            if name not in fold.cannon:  # deterministic: fitted once per fold, shared by the seeds
                res, cm = cannon_peer.rank_cannon(Xtr, fold.L_train, 2, backend=cfg["cannon_backend"],
                                                  normalise=normalise)
                Xte = cannon_peer.continuum_normalise(fold.X_test) if normalise else fold.X_test
                fold.cannon[name] = (res, cm.predict(Xte)[:, 2])
            out[name], extra[f"{name}_predict"] = fold.cannon[name]
    return {k: v for k, v in out.items() if k in methods or k == "cannon"}, extra


def judge_all(fold, rankings, seed, cfg, net_judge):
    """ExtraTrees (and retrained spectral net) test predictions at every k, per ranker."""
    from sklearn.ensemble import ExtraTreesRegressor
    from stellar_relevance import SpectralRelevanceRegressor

    preds = {}
    for name, res in rankings.items():
        if res.skipped is not None:
            continue
        for k in KS:
            top = np.asarray(res.ranking[:k])
            et = ExtraTreesRegressor(n_estimators=50, random_state=seed, n_jobs=1)
            et.fit(fold.X_train[:, top], fold.y_train)
            preds[(name, k, "trees")] = et.predict(fold.X_test[:, top])
            if net_judge and k in cfg["net_ks"]:
                net = SpectralRelevanceRegressor(**cfg["net_judge"], random_state=seed)
                net.fit(fold.X_train[:, top], fold.y_train)
                preds[(name, k, "net")] = net.predict(fold.X_test[:, top])
    return preds


# ------------------------------------------------------------------ the whole run
def settings(quick, args):
    spectral = dict(hidden_layer_sizes=(200, 50, 50), max_epochs=args.epochs, n_threads=args.threads)
    dense = dict(hidden_layer_sizes=(200, 50, 50), max_epochs=args.epochs, n_iter_no_change=50,
                 input_scaling="center")
    lassonet = dict(hidden_dims=(100,), lambda_start=1.0, path_multiplier=args.lassonet_multiplier,
                    n_iters=(100, 10), patience=(10, 3), input_scaling="center")
    net_judge = dict(hidden_layer_sizes=(200, 50, 50), max_epochs=args.net_epochs, n_threads=args.threads)
    if quick:
        dense.update(hidden_layer_sizes=(32,), n_iter_no_change=5)
        spectral.update(hidden_layer_sizes=(32,))
        net_judge.update(hidden_layer_sizes=(16,))
        lassonet.update(n_iters=(10, 5), patience=(3, 2), path_multiplier=2.0)
    return dict(spectral=spectral, dense=dense, lassonet=lassonet, net_judge=net_judge,
                prune_epochs=args.prune_epochs, lassonet_seeds=args.lassonet_seeds, n_repeats=args.n_repeats,
                cannon_backend=args.cannon_backend, net_ks=tuple(args.net_ks))


def run(args):
    from scipy.stats import spearmanr
    from sklearn.model_selection import KFold
    from stellar_relevance import topk_overlap

    X, labels, wave = load(args.pixel_step, args.max_stars)
    bands_mask = in_index_bands(wave)
    cfg = settings(args.quick, args)
    folds = list(KFold(n_splits=args.folds, shuffle=True, random_state=args.split_seed).split(X))
    n_seeds = args.seeds
    methods = list(args.methods)
    records = []  # one per (fold, seed)
    preds = {}  # (name, k, judge, seed) -> full-length prediction vector (pooled over folds)
    cannon_preds = {}
    # seed-major: after the first pass every fold has one seed, so an interrupted run is still a 5-fold result
    fold_data = [Fold(X, labels, train, test) for train, test in folds]
    for seed in range(n_seeds):
        for f, (train, test) in enumerate(folds):
            fold = fold_data[f]
            logger.info("fold %d seed %d: ranking", f, seed)
            rankings, extra = rank_all(fold, methods, seed, cfg)
            logger.info("fold %d seed %d: judging", f, seed)
            p = judge_all(fold, {k: v for k, v in rankings.items() if k in methods}, seed, cfg,
                          net_judge=seed < args.net_seeds)
            for (name, k, judge), values in p.items():
                preds.setdefault((name, k, judge, seed), np.full(len(X), np.nan))[test] = values
            for name in ("cannon", "cannon_norm"):
                if f"{name}_predict" in extra:
                    cannon_preds.setdefault((name, seed), np.full(len(X), np.nan))[test] = extra[f"{name}_predict"]
            reference = rankings["cannon"].scores
            rec = {"fold": f, "seed": seed, "n_train": len(train), "n_test": len(test), "rankers": {}}
            for name, res in rankings.items():
                if name not in methods:
                    continue
                if res.skipped is not None:
                    rec["rankers"][name] = {"skipped": res.skipped}
                    continue
                position = np.empty(len(res.ranking))
                position[res.ranking] = np.arange(len(res.ranking))
                entry = {"seconds": res.seconds, "cpu_seconds": res.cpu_seconds,
                         "top100": [int(i) for i in res.ranking[:100]],
                         "spearman_cannon": float(spearmanr(-position, reference)[0]),
                         "band_share_top30": float(bands_mask[res.ranking[:30]].mean())}
                for (pname, k, judge), values in p.items():
                    if pname == name:
                        entry[f"mae_{judge}_{k}"] = float(np.mean(np.abs(values - fold.y_test)))
                rec["rankers"][name] = entry
            rec.update({key: extra[key] for key in ("masked_spectral", "masked_pruned", "spectral_all_pixels")
                        if key in extra})
            for name in ("cannon", "cannon_norm"):
                if f"{name}_predict" in extra:
                    rec[f"{name}_predict_mae"] = float(np.mean(np.abs(extra[f"{name}_predict"] - fold.y_test)))
            records.append(rec)
            if args.output is not None and seed + 1 < n_seeds and f + 1 == len(folds):
                # partial results survive an interrupted run: every fold, the seeds done so far
                write_json(args.output.with_name(args.output.stem + ".partial.json"),
                           {"benchmark": "compare_miles", "partial": True, "seeds_done": seed + 1,
                            "command": "python benchmarks/compare_miles.py " + " ".join(sys.argv[1:]),
                            "summary": summarise(records, preds, cannon_preds, labels, bands_mask, methods,
                                                 seed + 1, folds, topk_overlap)})
    return summarise(records, preds, cannon_preds, labels, bands_mask, methods, n_seeds, folds, topk_overlap)


def summarise(records, preds, cannon_preds, labels, bands_mask, methods, n_seeds, folds, topk_overlap):
    n_folds = len(folds)
    n_test = np.mean([len(t) for _, t in folds])
    n_train = np.mean([len(tr) for tr, _ in folds])
    y, teff = labels[:, 2], labels[:, 0]

    def per_fold(name, key):
        """Mean over seeds per fold (None where missing)."""
        vals = []
        for f in range(n_folds):
            v = [r["rankers"][name][key] for r in records if r["fold"] == f
                 and key in r["rankers"].get(name, {})]
            vals.append(float(np.mean(v)) if v else None)
        return vals

    rows = []
    for name in methods:
        row = {"method": name}
        if all("skipped" in r["rankers"].get(name, {"skipped": "not run"}) for r in records):
            row["skipped"] = next((r["rankers"].get(name, {}).get("skipped") for r in records), "not run")
            rows.append(row)
            continue
        for judge in ("trees", "net"):
            for k in KS:
                key = f"mae_{judge}_{k}"
                vals = per_fold(name, key)
                if any(v is None for v in vals):
                    continue
                row[key] = float(np.mean(vals))
                row[key + "_folds"] = vals
                ref = per_fold("f_test", key)
                if name != "f_test" and all(v is not None for v in ref):
                    row[key + "_vs_f_test"] = paired_interval(np.subtract(vals, ref), n_train, n_test)
                seeds_with = sorted({s for (m, kk, j, s) in preds if m == name and kk == k and j == judge})
                bands = {}
                for band, (lo, hi) in BANDS.items():
                    sel = (teff > lo) & (teff <= hi)
                    bands[band] = float(np.mean([np.nanmean(np.abs(preds[(name, k, judge, s)][sel] - y[sel]))
                                                 for s in seeds_with]))
                row[key + "_bands"] = bands
        for key in ("spearman_cannon", "band_share_top30", "seconds", "cpu_seconds"):
            vals = [r["rankers"][name][key] for r in records if key in r["rankers"].get(name, {})]
            row[key] = float(np.mean(vals)) if vals else None
        overlaps = []
        for f in range(n_folds):
            tops = [r["rankers"][name]["top100"] for r in records if r["fold"] == f and "top100" in r["rankers"].get(name, {})]
            if len(tops) > 1:
                overlaps.append(topk_overlap([np.asarray(t) for t in tops], 30))
        row["seed_overlap_top30"] = float(np.mean(overlaps)) if overlaps else None
        rows.append(row)
    masked = {}
    for key in ("masked_spectral", "masked_pruned"):
        per_k = {}
        for k in KS:
            vals = [r[key][k] for r in records if key in r and k in r[key]]
            if vals:
                per_k[k] = float(np.mean(vals))
        masked[key] = per_k
    counts = {band: int(((teff > lo) & (teff <= hi)).sum()) for band, (lo, hi) in BANDS.items()}
    predictors = {}
    for name in ("cannon", "cannon_norm"):
        seeds = [s for (m, s) in cannon_preds if m == name]
        if seeds:
            p = cannon_preds[(name, seeds[0])]
            predictors[name] = {"mae": float(np.nanmean(np.abs(p - y))),
                                "bands": {b: float(np.nanmean(np.abs(p[(teff > lo) & (teff <= hi)]
                                                                  - y[(teff > lo) & (teff <= hi)])))
                                          for b, (lo, hi) in BANDS.items()}}
    all_pixels = [r["spectral_all_pixels"] for r in records if "spectral_all_pixels" in r]
    return {"rows": rows, "masked": masked, "band_counts": counts, "cannon_predictor": predictors,
            "spectral_net_all_pixels_mae": float(np.mean(all_pixels)) if all_pixels else None,
            "chance_band_share": float(bands_mask.mean()), "n_folds": n_folds, "n_seeds": n_seeds,
            "records": records}


def tables(summary):
    rows = []
    for row in summary["rows"]:
        if "skipped" in row:
            rows.append({"method": row["method"], "note": "skipped: " + str(row["skipped"])})
            continue
        out = {"method": row["method"]}
        for judge in ("trees", "net"):
            for k in KS:
                key = f"mae_{judge}_{k}"
                if key in row:
                    d = row.get(key + "_vs_f_test")
                    ci = f" ({d['mean']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}])" if d and "ci95" in d else ""
                    out[key] = f"{row[key]:.3f}{ci}"
        out.update(spearman=row["spearman_cannon"], share=row["band_share_top30"],
                   overlap=row["seed_overlap_top30"], seconds=row["seconds"])
        rows.append(out)
    cols = ["method"] + [(f"mae_trees_{k}", f"ET k={k} (vs F [95% CI])") for k in KS] \
        + [(f"mae_net_{k}", f"net k={k} (vs F)") for k in KS] \
        + [("spearman", "Spearman vs Cannon"), ("share", "top-30 in bands"), ("overlap", "top-30 seed overlap"),
           ("seconds", "wall [s]"), "note"]
    main = markdown_table(rows, cols)
    band_rows = []
    for row in summary["rows"]:
        if "skipped" in row:
            continue
        for k in KS:
            b = row.get(f"mae_trees_{k}_bands")
            if b:
                band_rows.append(dict(method=row["method"], k=k, **b))
    bands = markdown_table(band_rows, ["method", "k", "hot", "FGK", "M"])
    return main, bands


def targets_markdown(summary):
    """Issue 13's MILES targets, each met or not, with the numbers (Markdown bullets)."""
    rows = {r["method"]: r for r in summary["rows"] if "skipped" not in r}
    lines = []
    spectral_like = [m for m in ("spectral", "spectral_pruned") if m in rows]
    peers_ = [m for m in rows if m not in spectral_like and m not in ("random", "variance")]
    for judge, label in (("net", "retrained spectral net"), ("trees", "retrained ExtraTrees")):
        for k in (10, 30):
            key = f"mae_{judge}_{k}"
            have = {m: rows[m][key] for m in rows if key in rows[m]}
            if not have:
                continue
            best_peer = min((m for m in peers_ if m in have), key=have.get, default=None)
            for m in spectral_like:
                if m not in have or best_peer is None:
                    continue
                met = have[m] < min(have[p] for p in peers_ if p in have)
                d = rows[m].get(key + "_vs_f_test", {})
                ci = (f"; vs F-test {d['mean']:+.3f} dex, 95 % CI [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]"
                      + (" excludes 0" if d["excludes_zero"] else " includes 0")) if "ci95" in d else ""
                lines.append(f"- {label}, k = {k}, {m} {have[m]:.3f} dex vs best peer {best_peer} "
                             f"{have[best_peer]:.3f}: lower than every peer **{'met' if met else 'not met'}**{ci}")
    shares = {m: rows[m]["band_share_top30"] for m in rows}
    if shares:
        best_peer = max((m for m in peers_ if m in shares), key=shares.get, default=None)
        for m in spectral_like:
            if best_peer is not None:
                met = shares[m] > max(shares[p] for p in peers_)
                lines.append(f"- top-30 inside index bands, {m} {shares[m]:.2f} vs best peer {best_peer} "
                             f"{shares[best_peer]:.2f} (chance {summary['chance_band_share']:.2f}): "
                             f"**{'met' if met else 'not met'}**")
    masked = summary.get("masked", {})
    if "spectral" in rows and "mae_net_30" in rows["spectral"]:
        retrained = rows["spectral"]["mae_net_30"]
        for key, name in (("masked_spectral", "spectral"), ("masked_pruned", "spectral_pruned")):
            value = masked.get(key, {}).get(30, masked.get(key, {}).get("30"))
            if value is not None:
                ok = abs(value - retrained) <= 0.02
                lines.append(f"- masked top-30 ({name}) {value:.3f} dex vs retrained top-30 (spectral ranking, "
                             f"spectral net) {retrained:.3f}: within 0.02 **{'met' if ok else 'not met'}**")
    for m in spectral_like:
        if rows[m].get("seed_overlap_top30") is not None:
            v = rows[m]["seed_overlap_top30"]
            lines.append(f"- top-30 overlap across seeds, {m}: {v:.2f} (target 0.85: "
                         f"**{'met' if v >= 0.85 else 'not met'}**)")
    return "\n".join(lines)


def render(payload):
    """Print the tables and target verdicts of a (possibly partial) result JSON."""
    summary = payload["summary"]
    main_table, band_table = tables(summary)
    print(main_table, band_table, targets_markdown(summary), sep="\n\n")
    print(f"\nmasked: {summary['masked']}\nCannon predictor: {summary['cannon_predictor']}"
          f"\nspectral net, all pixels: {summary['spectral_net_all_pixels_mae']}"
          f"\nTeff band counts: {summary['band_counts']}; chance share in bands: {summary['chance_band_share']:.3f}")


def main(argv=None):
    if "--race" in (sys.argv[1:] if argv is None else argv):
        import race_miles  # the fair race of issue 19 (docs/compare.md); its own options

        return race_miles.main(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser, "benchmarks/results/compare_miles.json", default_seeds=3)
    parser.add_argument("--methods", nargs="+", default=list(RANKERS), choices=RANKERS)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--pixel-step", type=int, default=1, help="keep every n-th pixel (default 1: all 4300)")
    parser.add_argument("--max-stars", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=500, help="spectral / dense / STG training epochs")
    parser.add_argument("--prune-epochs", type=int, default=60)
    parser.add_argument("--net-epochs", type=int, default=300, help="epochs of the retrained judge net")
    parser.add_argument("--net-seeds", type=int, default=None,
                        help="seeds on which the retrained spectral net judges (default: all)")
    parser.add_argument("--net-ks", type=int, nargs="+", default=list(KS), choices=KS,
                        help="k at which the retrained spectral net judges (default 10 30 100)")
    parser.add_argument("--lassonet-seeds", type=int, default=None, help="seeds LassoNet runs on (default: all)")
    parser.add_argument("--lassonet-multiplier", type=float, default=1.1)
    parser.add_argument("--n-repeats", type=int, default=5, help="permutation-importance repeats")
    parser.add_argument("--cannon-backend", choices=("thecannon", "lstsq"), default=None,
                        help="default: the TheCannon package when installed, else lstsq")
    parser.add_argument("--render", type=Path, default=None, metavar="JSON",
                        help="print the tables and target verdicts of an existing (or .partial) result JSON and exit")
    args = parser.parse_args(argv)
    if args.render is not None:
        render(json.loads(args.render.read_text()))
        return 0
    if args.quick:
        args.seeds = args.seeds or 2
        args.folds, args.pixel_step, args.max_stars = min(args.folds, 2), max(args.pixel_step, 20), args.max_stars or 200
        args.epochs, args.prune_epochs, args.net_epochs, args.n_repeats = 5, 2, 5, 1
        args.cannon_backend = args.cannon_backend or "lstsq"
    args.seeds = args.seeds or 3
    args.net_seeds = args.seeds if args.net_seeds is None else args.net_seeds
    args.lassonet_seeds = args.seeds if args.lassonet_seeds is None else args.lassonet_seeds
    if args.cannon_backend is None:
        args.cannon_backend = "thecannon" if cannon_peer.cannon_available() else "lstsq"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("stellar_relevance").setLevel(logging.WARNING)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    started = time.perf_counter()
    summary = run(args)
    main_table, band_table = tables(summary)
    payload = {"benchmark": "compare_miles",
               "command": "python benchmarks/compare_miles.py " + " ".join(sys.argv[1:] if argv is None else argv),
               "settings": {k: (str(v) if k == "output" else v) for k, v in vars(args).items()},
               "environment": environment(), "summary": summary, "table_markdown": main_table,
               "bands_markdown": band_table, "seconds": time.perf_counter() - started}
    render(json.loads(json.dumps(jsonable(payload))))
    write_json(args.output, payload)
    partial = args.output.with_name(args.output.stem + ".partial.json")
    if partial.exists():
        partial.unlink()
    print(f"wrote {args.output} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
