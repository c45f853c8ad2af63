"""The ``snnkit`` command line: thin wrappers, one public library function per command.

User errors (:class:`snnkit.errors.SnnkitError`) print one line and exit with
code 2; nothing half-written is left looking complete.
"""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from snnkit.errors import SnnkitError

app = typer.Typer(
    help="snnkit: spiking networks from dynamics studies to trained networks to hardware.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _run_training(out: Path, run: Callable[[], Any]) -> Any:
    """``run()`` for a training command: one-line user errors; Ctrl+C prints how to resume.

    Brian2 (imported with snnkit.dynamics) installs its own SIGINT handler, which fails outside
    a Brian2 run, so Python's default handler is restored first."""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run()
    except SnnkitError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        typer.echo(f"interrupted: continue with --resume (checkpoint in {out})", err=True)
        raise typer.Exit(130) from None


def _version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"snnkit {version('snnkit')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version_callback,
                                          is_eager=True, help="Show the version.")] = False,
) -> None:
    """snnkit command line."""


@app.command()
def simulate(
    config: Annotated[str | None, typer.Argument(
        help="Model TOML file or shipped model name (see `snnkit models`); default: default."
    )] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a config key, KEY=VALUE (repeatable), e.g. --set g=8."
    )] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Output folder (default: runs/<model name>)."
    )] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the realisation.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Simulate one network; write measures.json, spikes.npz, raster.png, config.toml."""
    from snnkit.dynamics.config import load_config
    from snnkit.dynamics.simulate import simulate as run_simulation
    from snnkit.io import ensure_writable_dir

    created = False
    try:
        cfg = load_config(config, set_ or [], seed=seed)
        if out is None:
            out = Path("runs") / (Path(config).stem if config else "default")
        out, created = ensure_writable_dir(out)
        result = run_simulation(cfg, progress=not quiet)
        result.save(out)
    except SnnkitError as exc:
        _cleanup_empty(out, created)
        _fail(str(exc))
    except KeyboardInterrupt:
        _cleanup_empty(out, created)
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    m = result.measures
    spent = sum(v for k, v in result.timings.items() if k != "binary_s")
    typer.echo(f"{cfg.name}: engine {result.engine}, {spent:.1f} s")
    for key in ("n_active", "mean_rate_hz", "mean_rate_active_hz", "cv_mean", "chi",
                "co_frequency_hz", "mean_inhibitory_current"):
        value = m.get(key, math.nan)
        typer.echo(f"  {key:<24} {'null' if not math.isfinite(value) else f'{value:.4g}'}")
    typer.echo(f"wrote {out}/")


def _cleanup_empty(out: Path | None, created: bool) -> None:
    """Remove an output folder this command created if it is still empty."""
    if created and out is not None and out.is_dir() and not any(out.iterdir()):
        shutil.rmtree(out, ignore_errors=True)


@app.command()
def models() -> None:
    """List the ready-to-run model files (usable by name in `snnkit simulate NAME`)."""
    from snnkit.dynamics.config import ModelConfig, available_models, read_toml

    for name, path in available_models().items():
        try:
            cfg = ModelConfig.from_mapping(read_toml(path), str(path))
            typer.echo(f"{name:<22} {cfg.description}")
        except SnnkitError as exc:
            typer.echo(f"{name:<22} (invalid: {exc})")


@app.command()
def sweep(
    config: Annotated[Path, typer.Argument(help="Sweep TOML file (see models/sweeps/).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder of the sweep.")],
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Workers of the local Dask cluster (default: one per core)."
    )] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Use an existing Dask cluster, e.g. tcp://host:8786."
    )] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted sweep.")
                      ] = False,
    plot: Annotated[bool, typer.Option("--plot", help="Draw the sweep's figures afterwards.")
                    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to reach --scheduler.")
                       ] = 10.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run a parameter sweep on Dask; store every point, then DIR/results.nc."""
    from snnkit.dynamics.sweep import run_sweep
    from snnkit.dynamics.sweep.plots import plot_sweep

    try:
        ds = run_sweep(config, out, workers=workers, scheduler=scheduler, resume=resume,
                       progress=not quiet, timeout=timeout)
        typer.echo(f"wrote {out}/results.nc ({ds.attrs.get('title', '')})")
        if ds.attrs.get("nan_summary"):
            typer.echo(f"NaN values stored: {ds.attrs['nan_summary']}")
        if plot:
            for path in plot_sweep(ds, out / "figures", results_path=out / "results.nc"):
                typer.echo(f"wrote {path}")
    except SnnkitError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("interrupted: finished points are stored; continue with --resume", err=True)
        raise typer.Exit(130) from None


def _parse_point(text: str) -> dict[str, object]:
    from snnkit.dynamics.config import parse_override

    return dict(parse_override(item) for item in text.split(",") if item.strip())


@app.command()
def plot(
    results: Annotated[Path, typer.Argument(help="A sweep's results.nc (or its folder).")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for the figures (default: next to results.nc, figures/).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="png, svg or pdf.")] = "png",
    kind: Annotated[str | None, typer.Option(
        "--kind", help="heatmap, lines or onset (default: the sweep's [[plot]] figures).")
    ] = None,
    measure: Annotated[str | None, typer.Option("--measure", help="Measure to draw.")] = None,
    x: Annotated[str | None, typer.Option("--x", help="Dimension on the x axis.")] = None,
    y: Annotated[str | None, typer.Option("--y", help="Second dimension (heatmap).")] = None,
    hue: Annotated[str | None, typer.Option("--hue", help="One curve per value (lines).")
                   ] = None,
    raster: Annotated[list[str] | None, typer.Option(
        "--raster", help="Simulate and draw a point again, e.g. g=5,delay=2,seed=0.")] = None,
    show_ms: Annotated[float, typer.Option("--show-ms", help="Time span of rasters (ms).")
                       ] = 500.0,
    figures_file: Annotated[Path | None, typer.Option(
        "--figures", help="Take the [[plot]] figures from this sweep TOML instead.")] = None,
) -> None:
    """Draw heat maps, lines (with mean-field curves), onsets or rasters of a sweep."""
    from snnkit.dynamics.sweep import open_results
    from snnkit.dynamics.sweep.plots import plot_sweep

    try:
        ds = open_results(results)
        folder = results if results.is_dir() else results.parent
        target = out or folder / "figures"
        figures = None
        if figures_file is not None:
            from snnkit.dynamics.config import read_toml

            figures = read_toml(figures_file).get("plot", [])
        if kind or measure:
            fig = {"kind": kind or "lines", "measure": measure or "n_active"}
            fig.update({k: v for k, v in (("x", x), ("y", y), ("hue", hue)) if v})
            if fig["kind"] == "lines":
                fig.setdefault("x", "g")
                fig["meanfield"] = True
            figures = [fig]
        if raster:
            figures = (figures or []) + [{"kind": "raster", "show_ms": show_ms,
                                          "points": [_parse_point(r) for r in raster]}]
        results_file = results / "results.nc" if results.is_dir() else results
        for path in plot_sweep(ds, target, fmt=fmt, figures=figures, results_path=results_file,
                               figures_file=figures_file):
            typer.echo(f"wrote {path}")
    except SnnkitError as exc:
        _fail(str(exc))


train_app = typer.Typer(help="Train spiking networks (ST-RSBP, BPTT baseline, LMU).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")
data_app = typer.Typer(help="Data sets: download and check.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _train(method: str, config: Path, out: Path, resume: bool, device: str,
           set_: list[str] | None, data_dir: Path | None, quiet: bool) -> None:
    from snnkit.train.config import load_train_config
    from snnkit.train.parallel import init_distributed, is_main_process
    from snnkit.train.trainer import train

    def run() -> list[dict[str, Any]]:
        cfg = load_train_config(config, set_ or [], method=method)
        init_distributed(device)
        return train(cfg, out, resume=resume, device=device, progress=not quiet,
                     data_dir=data_dir)

    rows = _run_training(out, run)
    if rows and is_main_process():
        best = max(rows, key=lambda r: r["test_accuracy"])
        typer.echo(f"{method}: {len(rows)} epochs, last test accuracy "
                   f"{100 * rows[-1]['test_accuracy']:.2f}%, best "
                   f"{100 * best['test_accuracy']:.2f}% (epoch {best['epoch']}); wrote {out}/")


_CONFIG = typer.Option("--config", "-c",
                       help="Training config (TOML), e.g. models/strsbp_fmnist.toml.")
_OUT = typer.Option("--out", help="Output folder (metrics.csv, checkpoint.pt, model.pt, ...).")
_RESUME = typer.Option("--resume", help="Continue from DIR/checkpoint.pt.")
_DEVICE = typer.Option("--device", help="cpu or cuda.")
_SET = typer.Option("--set", help="Override a config key, TABLE.KEY=VALUE (repeatable).")
_DATA = typer.Option("--data-dir", help="Folder holding the data sets (else SNNKIT_DATA, ...).")
_QUIET = typer.Option("--quiet", "-q", help="No progress bar.")


@train_app.command("st-rsbp")
def train_strsbp(
    config: Annotated[Path, _CONFIG], out: Annotated[Path, _OUT],
    resume: Annotated[bool, _RESUME] = False, device: Annotated[str, _DEVICE] = "cpu",
    set_: Annotated[list[str] | None, _SET] = None,
    data_dir: Annotated[Path | None, _DATA] = None, quiet: Annotated[bool, _QUIET] = False,
) -> None:
    """Train with ST-RSBP (spike-train-level recurrent backprop, Zhang & Li 2019)."""
    _train("st-rsbp", config, out, resume, device, set_, data_dir, quiet)


@train_app.command("bptt")
def train_bptt(
    config: Annotated[Path, _CONFIG], out: Annotated[Path, _OUT],
    resume: Annotated[bool, _RESUME] = False, device: Annotated[str, _DEVICE] = "cpu",
    set_: Annotated[list[str] | None, _SET] = None,
    data_dir: Annotated[Path | None, _DATA] = None, quiet: Annotated[bool, _QUIET] = False,
) -> None:
    """Train the same network with BPTT and Norse's surrogate gradient (baseline)."""
    _train("bptt", config, out, resume, device, set_, data_dir, quiet)


@train_app.command("lmu")
def train_lmu(
    config: Annotated[Path, typer.Option(
        "--config", "-c", help="LMU training config (TOML), e.g. models/lmu_psmnist.toml.")],
    out: Annotated[Path, _OUT],
    resume: Annotated[bool, _RESUME] = False, device: Annotated[str, _DEVICE] = "cpu",
    set_: Annotated[list[str] | None, _SET] = None,
    data_dir: Annotated[Path | None, _DATA] = None, quiet: Annotated[bool, _QUIET] = False,
) -> None:
    """Train the (hybrid-spiking) Legendre Memory Unit on psMNIST."""
    from snnkit.train.lmu_config import load_lmu_config
    from snnkit.train.lmu_trainer import train_lmu as run_train_lmu

    rows = _run_training(out, lambda: run_train_lmu(
        load_lmu_config(config, set_ or []), out, resume=resume, progress=not quiet,
        data_dir=data_dir, device=device))
    if rows:
        best = max(rows, key=lambda r: r["val_accuracy"])
        typer.echo(f"lmu: {len(rows)} epochs, last test accuracy "
                   f"{100 * rows[-1]['test_accuracy']:.2f}%, best validation "
                   f"{100 * best['val_accuracy']:.2f}% (epoch {best['epoch']}); wrote {out}/")


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(
        help="A model file (model.pt, best.pt, models/trained/*.pt).")],
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="fashion-mnist, mnist or psmnist (default: the model's).")] = None,
    split: Annotated[str, typer.Option("--split", help="test, validation or train.")] = "test",
    n: Annotated[int | None, typer.Option("--n", help="Only the first N samples.")] = None,
    device: Annotated[str, _DEVICE] = "cpu",
    data_dir: Annotated[Path | None, _DATA] = None, quiet: Annotated[bool, _QUIET] = False,
) -> None:
    """Print one JSON line: accuracy, n, spikes per sample of a trained model."""
    import json

    from snnkit.train.evaluate import evaluate as run_evaluate

    try:
        result = run_evaluate(model, dataset, split, n, data_dir, device, progress=not quiet)
    except SnnkitError as exc:
        _fail(str(exc))
    typer.echo(json.dumps(result))


@app.command()
def average(
    models: Annotated[list[Path], typer.Argument(
        help="Model files of one run, e.g. runs/x/epochs/model_{47..52}.pt (train.keep_epochs).")],
    out: Annotated[Path, typer.Option("--out", help="The averaged model file to write.")],
) -> None:
    """Average the weights of several epochs of one run (Polyak averaging, SWA)."""
    from snnkit.train.average import average_models

    try:
        path = average_models(models, out)
    except SnnkitError as exc:
        _fail(str(exc))
    typer.echo(f"averaged {len(models)} models into {path}")


@data_app.command("download")
def data_download(
    name: Annotated[str, typer.Argument(help="mnist or fashion-mnist.")],
    dest: Annotated[Path | None, typer.Option(
        "--dest", help="Folder to put NAME/ in (default: SNNKIT_DATA, else the cache).")] = None,
    quiet: Annotated[bool, _QUIET] = False,
) -> None:
    """Download a data set from its official mirror and verify its checksums."""
    from snnkit.train.data import download

    try:
        folder = download(name, dest, progress=not quiet)
    except SnnkitError as exc:
        _fail(str(exc))
    typer.echo(f"{name}: verified files in {folder}/")


hardware_app = typer.Typer(help="Run and verify exported networks (emulator, Lava).",
                           no_args_is_help=True)
app.add_typer(hardware_app, name="hardware")


@app.command()
def export(
    model: Annotated[Path, typer.Argument(help="A trained model file (model.pt, best.pt).")],
    fmt: Annotated[str, typer.Option(
        "--format", help="netx (Loihi fixed point), nir (float graph), events (the model's "
        "encoded test inputs) or nengo (an LMU model as a pickled nengo.Network).")] = "netx",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Output file (default net.net for netx, net.nir for nir, net.pkl for "
        "nengo).")] = None,
    target: Annotated[str, typer.Option("--target", help="Target profile (hardware/*.toml); "
                                        "netx only.")] = "loihi",
    clip: Annotated[float, typer.Option("--clip-percentile",
                                        help="Weight magnitude mapped to the top mantissa; "
                                        "netx only.")] = 100.0,
    drop_refractory: Annotated[bool, typer.Option(
        "--drop-refractory", help="Export neurons with a refractory period without it.")
    ] = False,
    prune: Annotated[float, typer.Option("--prune", help="Fraction of smallest weights to zero; "
                                         "netx only.")] = 0.0,
    n: Annotated[int, typer.Option("--n", help="Test images to encode; events only.")] = 100,
) -> None:
    """Export a trained network: NetX (fixed point, with a quantization report), NIR, the
    model's inputs as events, or an LMU model as a nengo network."""
    if fmt != "netx" and (prune or clip != 100.0 or target != "loihi"):
        _fail(f"--target, --clip-percentile and --prune apply to --format netx only, not "
              f"{fmt} (no quantization)")
    if fmt == "nengo":
        _export_nengo(model, out or Path("net.pkl"))
        return
    from snnkit.hardware.api import export_netx, export_nir, report_table

    try:
        if fmt not in ("netx", "nir", "events"):
            raise SnnkitError(f"--format: expected netx, nir, events or nengo, got {fmt!r}")
        if fmt == "events":
            from snnkit.hardware.api import export_inputs as write_inputs

            out = out or Path("inputs.events")
            ev = write_inputs(out, None, n, model)
            typer.echo(f"wrote {out}: {ev.n_samples} test samples encoded as {model} was "
                       f"trained, {ev.n_steps} steps, {len(ev)} events")
            return
        if fmt == "nir":
            out = out or Path("net.nir")
            desc = export_nir(model, out, drop_refractory=drop_refractory)
        else:
            out = out or Path("net.net")
            report = export_netx(model, out, target, clip_percentile=clip,
                                 drop_refractory=drop_refractory, prune=prune)
    except SnnkitError as exc:
        _fail(str(exc))
    if fmt == "nir":
        sizes = "-".join(str(n) for n in [desc.n_in, *(layer.n_out for layer in desc.layers)])
        rec = sum(layer.weight_rec is not None for layer in desc.layers)
        dropped = desc.meta.get("dropped_refractory")
        typer.echo(f"wrote {out}: NIR graph (float CubaLIF, dt = 1 ms per step), layers "
                   f"{sizes}, {rec} recurrent"
                   + (f", refractory {dropped} steps dropped" if dropped else ""))
        return
    typer.echo(report_table(report))
    typer.echo(f"wrote {out} and {out}.report.json")


def _export_nengo(model: Path, out: Path) -> None:
    from snnkit.train.nengo_export import export_nengo

    try:
        info = export_nengo(model, out)
    except SnnkitError as exc:
        _fail(str(exc))
    kind = "spiking" if info["spiking"] else "rate"
    typer.echo(f"wrote {out}: pickled nengo.Network ({info['neurons']} {kind} hidden neurons, "
               f"{info['neuron_type']}); run it with nengo.Simulator(net, dt={info['dt']:g})")


@app.command("export-inputs")
def export_inputs(
    out: Annotated[Path, typer.Option("--out", help="Event file to write.")],
    dataset: Annotated[str, typer.Option("--dataset", help="fashion-mnist or mnist.")
                       ] = "fashion-mnist",
    n: Annotated[int, typer.Option("--n", help="Number of test images.")] = 100,
    model: Annotated[Path | None, typer.Option(
        "--model", help="Encode as this model's training did (T, rate, seed).")] = None,
) -> None:
    """Write encoded test images as a canonical event file (with labels)."""
    from snnkit.hardware.api import export_inputs as run_export

    try:
        ev = run_export(out, dataset, n, model)
    except SnnkitError as exc:
        _fail(str(exc))
    typer.echo(f"wrote {out}: {ev.n_samples} samples, {ev.n_steps} steps, {len(ev)} events")


_NET = typer.Argument(help="A NetX .net file.")
_INPUTS = typer.Option("--inputs", help="Input event file (snnkit export-inputs).")


@hardware_app.command("run")
def hardware_run(
    net: Annotated[Path, _NET], inputs: Annotated[Path, _INPUTS],
    backend: Annotated[str, typer.Option("--backend", help="emulator or lava.")] = "emulator",
    out: Annotated[Path | None, typer.Option("--out", help="Folder for output.events.")
                   ] = None,
    n: Annotated[int | None, typer.Option("--n", help="Only the first N samples.")] = None,
    quiet: Annotated[bool, _QUIET] = False,
) -> None:
    """Run an exported network on the bit-accurate emulator or on Lava."""
    import json

    from snnkit.hardware.api import run_network

    try:
        summary = run_network(net, inputs, backend, out, n, progress=not quiet)
    except SnnkitError as exc:
        _fail(str(exc))
    typer.echo(json.dumps(summary))


@hardware_app.command("finetune")
def hardware_finetune(
    model: Annotated[Path, typer.Argument(help="A trained ST-RSBP model file.")],
    out: Annotated[Path, _OUT],
    target: Annotated[str, typer.Option("--target", help="Target profile (hardware/*.toml).")
                      ] = "loihi",
    resume: Annotated[bool, _RESUME] = False,
    set_: Annotated[list[str] | None, _SET] = None,
    data_dir: Annotated[Path | None, _DATA] = None, quiet: Annotated[bool, _QUIET] = False,
) -> None:
    """Quantization-aware fine-tuning: ST-RSBP through the target's integer dynamics."""
    from snnkit.hardware.qat import finetune

    rows = _run_training(out, lambda: finetune(
        model, out, target=target, overrides=set_ or [], resume=resume, progress=not quiet,
        data_dir=data_dir))
    if rows:
        last = rows[-1]
        val = f", validation {100 * last['val_accuracy']:.2f}%" if "val_accuracy" in last else ""
        typer.echo(f"fine-tuned {len(rows)} epochs on {target}'s integer dynamics: test "
                   f"{100 * last['test_accuracy']:.2f}%{val}; wrote {out}/")


@hardware_app.command("verify")
def hardware_verify(
    net: Annotated[Path, _NET], inputs: Annotated[Path, _INPUTS],
    n: Annotated[int | None, typer.Option("--n", help="Only the first N samples.")] = None,
    quiet: Annotated[bool, _QUIET] = False,
) -> None:
    """Emulator vs Lava, spike for spike; exit 0 only on zero mismatches."""
    from snnkit.hardware.api import verify

    try:
        res = verify(net, inputs, n, progress=not quiet)
    except SnnkitError as exc:
        _fail(str(exc))
    typer.echo(f"compared {res['compared']} output entries ({res['output_spikes']} spikes, "
               f"{res['samples']} samples): {res['mismatches']} mismatches")
    if not res["identical"]:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SnnkitError as exc:  # errors raised outside a command's own handler
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
