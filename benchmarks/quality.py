"""Mode coverage on the 2D mixtures by the published protocol (ANCHORS.md section 2), and
class coverage on the 8x8 digits (section 3), for ganviz's presets.

Mixtures: for each preset and data set (ring of 8, grid of 25) and each seed, train with batch
512 (forced: the protocol's batch) for 25 000 iterations (the protocol's budget; a preset's
`protocol_iterations` attribute may ask for fewer; --iterations sets it for every preset),
then score 2500 samples with ganviz.core.evaluate.evaluate (high quality = within 3 sigma of
the nearest mode). Prints per-seed rows, mean +- std over seeds and the published rows beside
them.
Digits (--digits): the digits preset (else Config(dataset="digits", batch_size=64)) on 3 seeds;
classes covered out of 10 and the class-histogram KL of 1000 samples beside real data's own KL.
--digit-runs picks what runs on the digits, each NAME[@ITERATIONS]: "preset" (the above),
"preset:NAME" (that preset),
"default" (Config(dataset="digits")), and "concat", "projection", "acgan" (the defaults,
conditioned on the class that way). Every digits row shows coverage and density against held-out
real data's own (issue 13's goal for an unconditional run at its budget: both within 0.1 of
real), and for conditional runs how often the classifier names the asked-for digit, beside its
accuracy on real digits (goal: at least 95 % of it).

    python benchmarks/quality.py --no-mixtures --digits --digit-seeds 1 --workers 2 \
        --digit-runs preset@60,preset,default,concat,projection,acgan --digit-iterations 2000

    python benchmarks/quality.py --workers 2 --digits --json benchmarks/results.json \\
        --markdown benchmarks/results.md                                  # the full protocol
    python benchmarks/quality.py --iterations 200 --seeds 1 --datasets ring   # smoke test
    python benchmarks/quality.py --presets Stable --seeds 2 \
        --variants ";noise_clusters=0;noise_clusters=1000"       # a sweep: three settings, in parallel
    python benchmarks/quality.py --presets Stable --also-ema 0.99,0.995   # and G's average at two more decays

A preset named "default" means Config() itself. Wall times are per seed, in its own process
when --workers > 1 (parallel seeds share the CPUs, so their times are not speeds).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import time

import torch

from _common import (Config, changed_fields, digits_config, machine_info, mean_std, presets,
                     preset_config, print_machine)

PROTOCOL_BATCH = 512
PROTOCOL_ITERATIONS = 25_000
CHUNK = 250  # iterations per train() call
HELD = ("Modes counts the modes with at least one sample within 3 sigma, so a thin scatter "
        "touches many; modes held (the window's collapse count, metrics._crowding) counts the modes "
        "that hold at least half an even share (1/2M) of the samples lying within a quarter of a gap "
        "of a mode; a collapsed run holds few. Mode width is the high-quality samples' RMS distance "
        "from their mode as a percent of real data's: under 100, modes narrower than the data's, "
        "and high quality can then pass real data's 98.9 %.")
# ANCHORS.md section 2 (VEEGAN Table 1, GDPP Table 1): Metz setup, averages over 5 seeds.
PUBLISHED = [("GDPP-GAN", 8.0, 71.7, 24.8, 68.5), ("WGAN-GP", 6.8, 59.6, 24.2, 28.7),
             ("GAN", 1.0, 99.3, 3.3, 0.5)]


def run_job(job: dict) -> list[dict]:
    """Train one seed and score it; runs in a worker process when --workers > 1. With
    job["also_ema"], moving averages of G at those decays shadow the run, each updated after
    every G update as the trainer's own g_ema, and each is scored too (a row of its own):
    an average never feeds back into training, so each row is what the run with g_ema at
    that decay scores, bit for bit."""
    from ganviz.core.evaluate import evaluate
    from ganviz.core.trainer import Trainer, new_average, update_average

    torch.set_num_threads(job["threads"])
    config = Config.from_dict(job["config"])
    trainer = Trainer(config)
    shadows = {decay: new_average(trainer.generator) for decay in job.get("also_ema", ())}
    t0 = time.perf_counter()
    while trainer.iteration < job["iterations"]:
        if not shadows:
            trainer.train(min(CHUNK, job["iterations"] - trainer.iteration))
            continue
        trainer.step_iteration(fetch=False)
        for decay, (_, pairs) in shadows.items():
            update_average(pairs, decay, trainer.iteration)
        if trainer.iteration % CHUNK == 0:
            trainer.fetch_records()
    train_s = time.perf_counter() - t0
    rows = []
    for decay, net in [(None, trainer.generator_ema)] + [(d, net) for d, (net, _) in shadows.items()]:
        trainer.generator_ema = net   # the network generate() samples from
        t1 = time.perf_counter()
        scores = evaluate(trainer)
        scores.pop("histogram", None)
        rows.append({**{k: job[k] for k in ("kind", "preset", "dataset", "seed", "iterations")},
                     **scores, "train_s": train_s, "eval_s": time.perf_counter() - t1,
                     "it_per_s": job["iterations"] / train_s if train_s else float("nan")})
        if decay is not None:
            rows[-1]["preset"] += f" [g_ema={decay:g}]"
    return rows


def parse_variants(text: str) -> list[tuple[str, dict]]:
    """--variants "noise_clusters=200;noise_clusters=1000,lr_g=1e-3" -> [(label, changes), ...];
    each value is JSON (a bare word: a string). "" means the preset as it is."""
    out = []
    for part in (p.strip() for p in text.split(";")):
        changes = {}
        for pair in (q.strip() for q in part.split(",") if q.strip()):
            key, sep, value = pair.partition("=")
            if not sep:
                raise SystemExit(f"--variants: {pair!r} is not NAME=VALUE")
            try:
                changes[key.strip()] = json.loads(value)
            except json.JSONDecodeError:
                changes[key.strip()] = value.strip()
        out.append((part, changes))
    return out


def mixture_jobs(args) -> list[dict]:
    jobs = []
    for name in args.presets:
        base = Config() if name == "default" else preset_config(name)
        if base is None:
            continue  # preset_config printed why
        protocol = getattr(presets().get(name), "protocol_iterations", None)
        iterations = args.iterations or int(protocol or PROTOCOL_ITERATIONS)
        if base.batch_size != PROTOCOL_BATCH:
            print(f"note: {name} uses batch {base.batch_size}; forced to {PROTOCOL_BATCH} for the protocol")
        for variant, changes in args.variants:
            label = f"{name} + {variant}" if variant else name
            for dataset in args.datasets:
                config = base.replace(**changes).replace(dataset=dataset, batch_size=PROTOCOL_BATCH, device=args.device)
                print(f"{label} on {dataset}: {iterations} iterations; {changed_fields(config)}")
                jobs += [{"kind": "mixture", "preset": label, "dataset": dataset, "seed": seed,
                          "iterations": iterations, "threads": args.threads, "also_ema": args.also_ema,
                          "config": config.replace(seed=seed).to_dict()} for seed in args.seed_list]
    return jobs


CONDITIONED = ("concat", "projection", "acgan")


def digit_jobs(args) -> list[dict]:
    jobs = []
    for spec in args.digit_runs:
        name, _, at = spec.partition("@")
        iterations = int(at) if at else args.digit_iterations
        if name == "preset":
            label, config = digits_config()
        elif name.startswith("preset:"):
            label, config = f"preset {name[7:]!r}", preset_config(name[7:], Config(dataset="digits"))
            if config is None:
                raise SystemExit(f"--digit-runs: no preset named {name[7:]!r}")
        elif name == "default" or name in CONDITIONED:
            label = "Config(dataset='digits')" + (f", conditional {name}" if name in CONDITIONED else "")
            config = Config(dataset="digits", conditional=name if name in CONDITIONED else "none")
        else:
            raise SystemExit(f"--digit-runs: unknown run {name!r} (preset, default, {', '.join(CONDITIONED)})")
        config = config.replace(device=args.device)
        print(f"digits: {label}, {iterations} iterations, seeds 0..{args.digit_seeds - 1}; "
              f"{changed_fields(config)}")
        jobs += [{"kind": "digits", "preset": f"{label} @{iterations}", "dataset": "digits", "seed": seed,
                  "iterations": iterations, "threads": args.threads,
                  "config": config.replace(seed=seed).to_dict()} for seed in range(args.digit_seeds)]
    return jobs


def run_all(jobs, workers) -> list[dict]:
    """Results in job order; each row is printed as it finishes."""
    results = [None] * len(jobs)
    if workers <= 1:
        for i, job in enumerate(jobs):
            results[i] = run_job(job)
            for row in results[i]:
                print_row(row)
        return [row for rows in results for row in rows]
    ctx = multiprocessing.get_context("spawn")  # no fork after torch has started threads
    with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_exit_with_parent,
                                initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
        for f in cf.as_completed(futures):
            results[futures[f]] = f.result()
            for row in results[futures[f]]:
                print_row(row)
    return [row for rows in results for row in rows]


def _exit_with_parent(parent: int) -> None:
    """In each worker: end when the sweep that started it is gone (killed, or its terminal
    closed), instead of training on for minutes with no one to report to."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def print_row(r):
    if r["kind"] == "mixture":
        score = (f"modes {r['modes_covered']:2d}/{r['n_modes']:<2d}  high quality {r['high_quality']:5.1f} %  "
                 f"reverse KL {r['reverse_kl']:.3f}  held {r['modes_held']:2d}"
                 + (f"  width {r['width']:3.0f} %" if "width" in r else ""))
    else:
        real = r.get("real", {})
        score = (f"classes {r['classes_covered']:2d}/10  KL {r['kl']:.3f} (real {r['real_kl']:.3f})  "
                 f"coverage {r['coverage']:.2f} (real {real['coverage']:.2f})  density {r['density']:.2f} "
                 f"(real {real['density']:.2f})")
        if "label_accuracy" in r:
            score += f"  asked-for digit {r['label_accuracy']:.3f} (real {r['real_label_accuracy']:.3f})"
    print(f"  {r['preset'][:24]:24s} {r['dataset']:6s} seed {r['seed']}: {score}   "
          f"{r['train_s']:7.1f} s ({r['it_per_s']:.0f} it/s)", flush=True)


def summarise(results) -> list[dict]:
    groups = {}
    for r in results:
        groups.setdefault((r["kind"], r["preset"], r["dataset"], r["iterations"]), []).append(r)
    out = []
    for (kind, preset, dataset, _), rs in groups.items():
        held = ("modes_held",) if all(r.get("modes_held") is not None for r in rs) else ()
        keys = (("modes_covered", "high_quality", "reverse_kl") + held if kind == "mixture"
                else ("classes_covered", "kl", "real_kl", "coverage", "density")
                + (("label_accuracy", "real_label_accuracy") if "label_accuracy" in rs[0] else ()))
        row = {"kind": kind, "preset": preset, "dataset": dataset, "seeds": len(rs),
               "iterations": rs[0]["iterations"], "n_modes": rs[0].get("n_modes")}
        for k in keys + ("train_s",):
            row[k], row[k + "_std"] = mean_std([r[k] for r in rs])
        if kind == "mixture":
            row["per_seed"] = {str(r["seed"]): {"high_quality": r["high_quality"], "modes_covered": r["modes_covered"],
                                                "reverse_kl": r["reverse_kl"], "modes_held": r.get("modes_held"),
                                                "width": r.get("width")}
                               for r in rs}
        if kind == "digits":
            row["goal_met"] = all(r["classes_covered"] == 10 and r["kl"] <= r["real_kl"] + 0.05 for r in rs)
            row["real_coverage"] = rs[0]["real"]["coverage"]
            row["real_density"] = rs[0]["real"]["density"]
            row["near_real"] = all(abs(r["coverage"] - r["real"]["coverage"]) <= 0.1
                                   and abs(r["density"] - r["real"]["density"]) <= 0.1 for r in rs)
            if "label_accuracy" in rs[0]:
                row["label_goal_met"] = all(r["label_accuracy"] >= 0.95 * r["real_label_accuracy"] for r in rs)
        out.append(row)
    return out


def width_range(per_seed) -> str:
    """'; mode width 78-85 % of real' (metrics.mode_quality's width), or '' for rows without it."""
    widths = [v.get("width") for v in per_seed]
    if any(w is None or w != w for w in widths):
        return ""
    return f"; mode width {min(widths):.0f}-{max(widths):.0f} % of real"


def summary_lines(summary) -> list[str]:
    """The results as a markdown table (also printed to the terminal)."""
    pm = lambda r, k, f: f"{r[k]:{f}} ± {r[k + '_std']:{f}}"  # noqa: E731
    mixtures = [s for s in summary if s["kind"] == "mixture"]
    lines = ["| method | data | seeds | iterations | modes | % high quality | reverse KL | modes held | "
             "train s/seed |", "|---|---|---|---|---|---|---|---|---|"] if mixtures else []
    for r in mixtures:
        lines.append(f"| ganviz {r['preset']} | {r['dataset']} | {r['seeds']} | {r['iterations']} | "
                     f"{pm(r, 'modes_covered', '.1f')} / {r['n_modes']} | {pm(r, 'high_quality', '.1f')} | "
                     f"{pm(r, 'reverse_kl', '.3f')} | {pm(r, 'modes_held', '.1f') if 'modes_held' in r else ''} | "
                     f"{pm(r, 'train_s', '.0f')} |")
    for name, rm, rq, gm, gq in PUBLISHED if mixtures else []:
        lines.append(f"| {name} (published, Metz setup) | ring | 5 | 25000 | {rm} / 8 | {rq} | | | |")
        lines.append(f"| {name} (published, Metz setup) | grid | 5 | 25000 | {gm} / 25 | {gq} | | | |")
    if mixtures:
        lines += ["", HELD, ""]
    for r in mixtures:   # the goal of issue 15 is on every seed, so every seed is shown
        seeds = ", ".join(f"{v['high_quality']:.1f}" for v in r["per_seed"].values())
        lines.append(f"Per seed ({', '.join(r['per_seed'])}), % high quality, {r['preset']} on {r['dataset']}, {r['iterations']} iterations: "
                     f"{seeds} (lowest {min(v['high_quality'] for v in r['per_seed'].values()):.1f}; "
                     f"modes {min(v['modes_covered'] for v in r['per_seed'].values())}-"
                     f"{max(v['modes_covered'] for v in r['per_seed'].values())} / {r['n_modes']}; "
                     f"reverse KL at most {max(v['reverse_kl'] for v in r['per_seed'].values()):.3f}"
                     + (f"; modes held {min(v['modes_held'] for v in r['per_seed'].values())}-"
                        f"{max(v['modes_held'] for v in r['per_seed'].values())}" if "modes_held" in r else "")
                     + width_range(r["per_seed"].values()) + ")")
    digits = [s for s in summary if s["kind"] == "digits"]
    if digits:
        lines += [""] if lines else []
        lines += ["| digits | seeds | iterations | classes covered / 10 | class KL | real data KL | "
                  "goal (10/10, KL <= real + 0.05) | coverage (real) | density (real) | both within 0.1 "
                  "of real | asked-for digit (classifier on real) | >= 95 % of real | train s/seed |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in digits:
            asked = (f"{pm(r, 'label_accuracy', '.3f')} ({r['real_label_accuracy']:.3f}) | "
                     f"{'met' if r['label_goal_met'] else 'NOT met'}") if "label_accuracy" in r else "| "
            lines.append(f"| {r['preset']} | {r['seeds']} | {r['iterations']} | {pm(r, 'classes_covered', '.1f')} | "
                         f"{pm(r, 'kl', '.3f')} | {r['real_kl']:.3f} | {'met' if r['goal_met'] else 'NOT met'} | "
                         f"{pm(r, 'coverage', '.2f')} ({r['real_coverage']:.2f}) | "
                         f"{pm(r, 'density', '.2f')} ({r['real_density']:.2f}) | "
                         f"{'yes' if r['near_real'] else 'no'} | {asked} | {pm(r, 'train_s', '.0f')} |")
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default="Stable,Vanilla GAN", help='comma-separated; "default" = Config()')
    p.add_argument("--datasets", default="ring,grid")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (from --first-seed)")
    p.add_argument("--first-seed", type=int, default=0, help="the first seed (e.g. 5: seeds a setting was not chosen on)")
    p.add_argument("--iterations", type=int, help=f"iterations per run (default: the protocol's "
                   f"{PROTOCOL_ITERATIONS}, or a preset's protocol_iterations where it names fewer)")
    p.add_argument("--digits", action="store_true", help="also run the digits check")
    p.add_argument("--digit-iterations", type=int, default=3000)
    p.add_argument("--digit-seeds", type=int, default=3)
    p.add_argument("--digit-runs", default="preset", help="comma-separated NAME[@ITERATIONS]: preset, "
                   "default, concat, projection, acgan (see above)")
    p.add_argument("--no-mixtures", action="store_true", help="only the digits check")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--variants", default="", help='a sweep: settings changed on top of each preset, '
                   'variants separated by ";", e.g. "noise_clusters=200;noise_clusters=1000,lr_g=1e-3" '
                   '(an empty variant: the preset as it is)')
    p.add_argument("--also-ema", default="", metavar="DECAYS",
                   help='mixtures: also score moving averages of G at these decays (comma-separated, '
                        'e.g. "0.99,0.995"), each a row of its own: what the run with g_ema at that decay '
                        'scores, from the same training')
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                   help="runs trained in parallel processes (default: every usable core)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--markdown", metavar="PATH")
    args = p.parse_args()
    args.presets = [s.strip() for s in args.presets.split(",") if s.strip()]
    args.variants = parse_variants(args.variants)
    try:
        args.also_ema = [float(s) for s in args.also_ema.split(",") if s.strip()]
    except ValueError:
        p.error(f"--also-ema: {args.also_ema!r} is not a list of numbers")
    if any(not 0 < d < 1 for d in args.also_ema):
        p.error("--also-ema: each decay must be between 0 and 1")
    args.datasets = [s.strip() for s in args.datasets.split(",") if s.strip()]
    args.digit_runs = [s.strip() for s in args.digit_runs.split(",") if s.strip()]
    args.seed_list = list(range(args.first_seed, args.first_seed + args.seeds))
    torch.set_num_threads(args.threads)
    machine = machine_info(args.device)
    print_machine(machine)
    print(f"workers {args.workers} x {args.threads} torch thread(s); seeds {args.seed_list}")

    jobs = ([] if args.no_mixtures else mixture_jobs(args)) + (digit_jobs(args) if args.digits else [])
    t0 = time.perf_counter()
    results = run_all(jobs, args.workers)
    wall = time.perf_counter() - t0
    summary = summarise(results)
    lines = summary_lines(summary)
    print(f"\nall done in {wall:.0f} s\n" + "\n".join(lines))

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "settings": {k: v for k, v in vars(args).items()},
                       "protocol": {"batch_size": PROTOCOL_BATCH, "samples": 2500, "high_quality": "3 sigma"},
                       "wall_s": wall, "runs": results, "summary": summary,
                       "published": [dict(zip(("method", "ring_modes", "ring_hq", "grid_modes", "grid_hq"), row))
                                     for row in PUBLISHED]}, f, indent=2)
        print(f"wrote {args.json}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("# ganviz quality results\n\n"
                    f"{machine['date']}; {machine['cpu']} ({machine['cpu_count']} CPUs), python {machine['python']}, "
                    f"torch {machine['torch']}, {args.workers} worker(s) x {args.threads} thread(s), "
                    f"device {args.device}. Seeds {args.seed_list}; batch {PROTOCOL_BATCH} (forced); "
                    "2500 samples, high quality = within 3 sigma of the nearest mode. "
                    "Published rows: ANCHORS.md section 2 (different networks: 2x128 tanh MLPs, z in R^256).\n\n"
                    + "\n".join(lines) + "\n")
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
