"""Figures of sweep results: heat maps, lines with mean-field curves, onsets, rasters.

All functions take the xarray Dataset of a sweep (``results.nc``).  Values are
averaged over the ``seed`` dimension; error bars are the standard deviation
over seeds.  Grid dimensions that a figure does not show must be fixed with
``sel={"dim": value}`` (nearest value); otherwise their first value is used and
named in the title.

Figure specs (the ``[[plot]]`` tables of a sweep file, or :func:`plot_sweep`'s
``figures``) are dicts with a ``kind``:

``heatmap``  ``measure``, ``x``, ``y`` (default: the first two grid dims), ``logx``,
             ``logy``, ``sel``
``lines``    ``measure``, ``x`` (default ``g``), ``hue`` (a dim or none),
             ``meanfield`` (bool: WTA for global coupling, the approximate
             diffusion closure for sparse coupling; only for n_active and
             mean_rate_hz against g), ``logx``, ``minimum`` (report the minimum
             of each curve and ``at_min`` measures there), ``hline``, ``ylim``,
             ``sel``
``onset``    ``measure`` (default ``chi``), ``x`` (default ``g``), ``hue`` (default
             ``delay``), ``threshold``: the smallest x where the measure reaches
             the threshold, per seed, plotted against hue
``raster``   ``points``: a list of coordinate dicts (or ``point``: one); each point
             is simulated again from its config (deterministic) and drawn with
             :func:`snnkit.dynamics.plots.raster_figure`; ``show_ms``: time span shown

Each figure also yields a Markdown table of the numbers it shows
(:func:`plot_sweep` writes them to ``summary.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from snnkit.errors import SnnkitError
from snnkit.io import atomic_write, atomic_write_text

LABELS = {
    "g": "coupling g", "delay": "delay $t_d$ (ms)", "K": "in-degree K", "N": "N",
    "I_width": "heterogeneity width", "alpha": r"$\alpha$ (1/ms)", "tau_m": r"$\tau_m$ (ms)",
    "n_active": "active fraction $n_A$", "mean_rate_hz": "mean rate (Hz)",
    "mean_rate_active_hz": "mean rate of active neurons (Hz)", "cv_mean": "mean CV",
    "chi": r"synchrony $\chi$", "co_frequency_hz": "CO frequency (Hz)",
    "co_coherence": "CO coherence", "mean_inhibitory_current": "mean inhibition",
    "mu_max": r"max drive $\max_i \mu_i$", "drive_top": r"$I_{high} - \langle c\rangle$",
    "frac_supra": r"fraction with $\mu_i > 1$", "isi_free_ratio": "min ISI / free period",
    "frac_cv_above_1": "fraction with CV > 1", "sigma_shot": r"shot noise $\sigma$",
}


def label(name: str) -> str:
    return LABELS.get(name, name)


def grid_dims(ds: xr.Dataset) -> list[str]:
    return [d for d in ds[next(iter(_measures(ds)))].dims if d != "seed"]


def _measures(ds: xr.Dataset) -> list[str]:
    return [k for k in ds.data_vars if k != "completed"]


def _check(ds: xr.Dataset, measure: str, dims: Sequence[str]) -> None:
    if measure not in ds:
        raise SnnkitError(f"measure: expected one of {', '.join(_measures(ds))}, got {measure!r}")
    for d in dims:
        if d not in ds.dims:
            raise SnnkitError(f"dimension: expected one of {', '.join(grid_dims(ds))}, got {d!r}")


def _select(da: xr.DataArray, keep: Sequence[str], sel: Mapping[str, Any] | None
            ) -> tuple[xr.DataArray, str]:
    """Fix every grid dim not in ``keep`` (from ``sel`` or its first value)."""
    sel = dict(sel or {})
    fixed = []
    for dim in da.dims:
        if dim in keep or dim == "seed":
            continue
        value = sel.pop(dim, da[dim].values[0])
        da = da.sel({dim: value}, method="nearest") if np.issubdtype(
            da[dim].dtype, np.number) else da.sel({dim: value})
        fixed.append(f"{dim}={_fmt(da[dim].item())}")
    if sel:
        raise SnnkitError(f"sel: {', '.join(sel)} is not a dimension to fix")
    return da, ", ".join(fixed)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _is_log(values: np.ndarray) -> bool:
    v = np.asarray(values, dtype=float)
    return v.size > 2 and np.all(v > 0) and np.allclose(np.diff(np.log(v)), np.log(v[1] / v[0]))


def _finish(ax, xs: np.ndarray, logx: bool | None, xlabel: str, ylabel: str, title: str) -> None:
    """Log x axis when asked (or when the grid is geometric), labels and title."""
    if logx if logx is not None else _is_log(xs):
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)


# --------------------------------------------------------------------------- heat map

def heatmap(ds: xr.Dataset, measure: str, x: str | None = None, y: str | None = None, *,
            ax=None, sel: Mapping[str, Any] | None = None, logx: bool | None = None,
            logy: bool | None = None) -> tuple[Any, str]:
    """Seed-mean of ``measure`` over ``x`` and ``y``; returns (axes, Markdown table)."""
    dims = grid_dims(ds)
    if x is None or y is None:
        if len(dims) < 2:
            raise SnnkitError("heatmap: the sweep has fewer than two grid dimensions")
        x, y = x or dims[0], y or (dims[1] if dims[1] != x else dims[0])
    _check(ds, measure, [x, y])
    da, fixed = _select(ds[measure], [x, y], sel)
    mean = da.mean("seed").transpose(y, x)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.6), constrained_layout=True)
    xs, ys = da[x].values.astype(float), da[y].values.astype(float)
    mesh = ax.pcolormesh(_edges(xs, logx), _edges(ys, logy), mean.values, shading="flat",
                         cmap="viridis")
    cbar = ax.figure.colorbar(mesh, ax=ax)
    cbar.set_label(label(measure))
    if logy if logy is not None else _is_log(ys):
        ax.set_yscale("log")
    _finish(ax, xs, logx, label(x), label(y),
            f"{label(measure)} (mean of {ds.sizes['seed']} seeds)" + (f", {fixed}" if fixed
                                                                      else ""))
    rows = [f"| {y} \\ {x} | " + " | ".join(_fmt(float(v)) for v in xs) + " |",
            "|---" * (len(xs) + 1) + "|"]
    rows += [f"| {_fmt(float(yv))} | " + " | ".join(f"{v:.3g}" for v in mean.sel({y: yv}).values)
             + " |" for yv in ys]
    return ax, "\n".join(rows)


def _edges(values: np.ndarray, log: bool | None) -> np.ndarray:
    """Cell edges around grid values (geometric midpoints on log grids)."""
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return np.array([v[0] * 0.9, v[0] * 1.1]) if v[0] else np.array([-0.5, 0.5])
    use_log = log if log is not None else _is_log(v)
    w = np.log(v) if use_log else v
    mid = 0.5 * (w[1:] + w[:-1])
    edges = np.concatenate([[w[0] - (mid[0] - w[0])], mid, [w[-1] + (w[-1] - mid[-1])]])
    return np.exp(edges) if use_log else edges


# --------------------------------------------------------------------------- lines

def lines(ds: xr.Dataset, measure: str, x: str = "g", hue: str | None = None, *, ax=None,
          sel: Mapping[str, Any] | None = None, meanfield: bool = False,
          logx: bool | None = None, minimum: bool = False, at_min: Sequence[str] = (),
          hline: float | None = None, ylim: Sequence[float] | None = None) -> tuple[Any, str]:
    """``measure`` against ``x``, one curve per ``hue`` value, mean ± s.d. over seeds."""
    dims = [x] + ([hue] if hue else [])
    _check(ds, measure, dims)
    da, fixed = _select(ds[measure], dims, sel)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
    hue_values = da[hue].values if hue else [None]
    xs = da[x].values.astype(float)
    rows = [f"| {hue or ''} | {x} | {measure} mean | s.d. |", "|---|---|---|---|"]
    min_rows = []
    cmap = plt.get_cmap("viridis" if len(hue_values) > 4 else "tab10")
    curves = []
    for k, hv in enumerate(hue_values):
        sub = da.sel({hue: hv}) if hue else da
        mean, sd = sub.mean("seed").values, sub.std("seed").values
        color = cmap(k / max(1, len(hue_values) - 1)) if len(hue_values) > 4 else cmap(k)
        name = f"{hue} = {_fmt(hv.item() if hasattr(hv, 'item') else hv)}" if hue else "simulation"
        ax.errorbar(xs, mean, yerr=sd, fmt="o-", ms=3.5, lw=1, capsize=2, color=color,
                    label=name)
        rows += [f"| {_fmt(hv.item()) if hue else ''} | {_fmt(float(xv))} | {m:.4g} | {s:.2g} |"
                 for xv, m, s in zip(xs, mean, sd, strict=True)]
        if meanfield:
            curve = _meanfield_curve(ds, measure, x, hue, hv, xs)
            if curve is not None:
                curves.append((*curve, color))
        if minimum and np.any(np.isfinite(mean)):
            j = int(np.nanargmin(mean))
            extra = []
            for other in at_min:
                o, _ = _select(ds[other], dims, sel)
                o = o.sel({hue: hv}) if hue else o
                vals = o.isel({x: j}).values
                extra.append(f"{np.nanmean(vals):.4g} ± {np.nanstd(vals):.2g}")
            min_rows.append(f"| {_fmt(hv.item()) if hue else ''} | {_fmt(float(xs[j]))} | "
                            f"{mean[j]:.4g} ± {sd[j]:.2g} | " + " | ".join(extra) + " |")
    if curves:  # one black curve when the hue dimension does not change the theory
        shared = all(np.allclose(c[1], curves[0][1], equal_nan=True) for c in curves)
        for g_line, y, name, color in curves[:1] if shared else curves:
            ax.plot(g_line, y, "--", color="k" if shared else color, lw=1.2,
                    label=name if shared or color is curves[0][3] else None)
    if hline is not None:
        ax.axhline(hline, color="0.5", ls=":", lw=1)
    if ylim is not None:
        ax.set_ylim(*ylim)
    _finish(ax, xs, logx, label(x), label(measure),
            f"mean ± s.d. over {ds.sizes['seed']} seeds" + (f"; {fixed}" if fixed else ""))
    ax.legend(fontsize=7)
    table = "\n".join(rows)
    if min_rows:
        head = f"| {hue or ''} | {x} at minimum | {measure} at minimum | " + " | ".join(
            at_min) + " |"
        table = "\n".join([head, "|---" * (3 + len(at_min)) + "|", *min_rows]) + "\n\n" + table
    return ax, table


def _meanfield_curve(ds, measure, x, hue, hv, xs):
    """Mean-field prediction (g, y, label) for n_active / mean_rate_hz against g, or None."""
    from snnkit.dynamics.meanfield import sparse_meanfield, wta_solution
    from snnkit.dynamics.sweep.store import spec_of

    if x != "g" or measure not in ("n_active", "mean_rate_hz"):
        return None
    spec = spec_of(ds)
    point = {**({hue: hv.item() if hasattr(hv, "item") else hv} if hue else {})}
    cfg = spec.base.replace(**point) if point else spec.base
    g_line = np.geomspace(max(xs.min(), 1e-3), xs.max(), 60) if _is_log(xs) else np.linspace(
        xs.min(), xs.max(), 60)
    to_hz = 1000.0 / cfg.tau_m
    if cfg.coupling == "global":
        sols = [wta_solution(g, cfg.I_low, cfg.I_high) for g in g_line]
        y = [s.n_active if measure == "n_active" else s.nu_bar * to_hz for s in sols]
        return g_line, np.array(y), "WTA mean field"
    sols = [sparse_meanfield(g, cfg.K, cfg.I_low, cfg.I_high,
                             T_window=cfg.duration / cfg.tau_m) for g in g_line]
    y = [s.n_active_window if measure == "n_active" else s.nu_bar * to_hz for s in sols]
    return g_line, np.array(y), "diffusion closure (approx.)"


# --------------------------------------------------------------------------- onset

def onset(ds: xr.Dataset, measure: str = "chi", x: str = "g", hue: str = "delay", *,
          threshold: float = 0.2, sel: Mapping[str, Any] | None = None, ax=None
          ) -> tuple[Any, str]:
    """Onset x_c(hue): smallest ``x`` with ``measure >= threshold``, per seed (NaN: never)."""
    _check(ds, measure, [x, hue])
    da, fixed = _select(ds[measure], [x, hue], sel)
    xs = da[x].values.astype(float)
    reached = (da >= threshold).transpose(hue, "seed", x).values
    first = np.where(reached.any(-1), xs[np.argmax(reached, axis=-1)], np.nan)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    hv = da[hue].values.astype(float)
    with np.errstate(all="ignore"), _quiet():
        mean, sd = np.nanmean(first, axis=1), np.nanstd(first, axis=1)
    found = np.isfinite(first).sum(axis=1)
    ax.errorbar(hv, mean, yerr=sd, fmt="o-", capsize=3, color="C0")
    ax.set_xlabel(label(hue))
    ax.set_ylabel(f"onset {x}$_c$ ({label(measure)} $\\geq$ {threshold:g})")
    if _is_log(xs):
        ax.set_yscale("log")
    ax.set_title("mean ± s.d. over seeds that reach it" + (f"; {fixed}" if fixed else ""),
                 fontsize=9)
    rows = [f"| {hue} | {x}_c mean | s.d. | seeds reaching {threshold:g} |", "|---|---|---|---|"]
    rows += [f"| {_fmt(float(h))} | {m:.4g} | {s:.2g} | {n}/{first.shape[1]} |"
             for h, m, s, n in zip(hv, mean, sd, found, strict=True)]
    return ax, "\n".join(rows)


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


# --------------------------------------------------------------------------- rasters

def raster_of(ds: xr.Dataset, progress: bool = False, show_ms: float = 500.0, **coords: Any):
    """Simulate one point of the sweep again (same config, same seed) and draw its raster
    (the last ``show_ms`` of the window)."""
    from snnkit.dynamics.simulate import simulate
    from snnkit.dynamics.sweep.store import spec_of

    spec = spec_of(ds)
    coords = dict(coords)
    coords.setdefault("seed", spec.seeds[0])
    unknown = set(coords) - set(spec.dims)
    if unknown:
        raise SnnkitError(f"raster: {sorted(unknown)[0]} is not a dimension of this sweep "
                          f"({', '.join(spec.dims)})")
    for dim in spec.grid:
        coords.setdefault(dim, spec.grid[dim][0])
    cfg = spec.base.replace(**coords)
    return simulate(cfg, progress=progress).raster(show_ms=show_ms)


# --------------------------------------------------------------------------- driver

def default_figures(ds: xr.Dataset) -> list[dict[str, Any]]:
    """Heat maps (two or more grid dims) or lines (one dim) of the main measures."""
    dims = grid_dims(ds)
    main = [m for m in ("n_active", "mean_rate_hz", "cv_mean", "chi") if m in ds]
    if len(dims) >= 2:
        return [{"kind": "heatmap", "measure": m, "x": dims[0], "y": dims[1]} for m in main]
    return [{"kind": "lines", "measure": m, "x": dims[0], "meanfield": True} for m in main]


def draw(ds: xr.Dataset, spec: Mapping[str, Any]):
    """One figure from a figure spec; returns (figure, Markdown table)."""
    spec = dict(spec)
    kind = spec.pop("kind", "lines")
    spec.pop("name", None)
    title = spec.pop("title", None)
    if kind == "raster":
        return raster_of(ds, show_ms=spec.get("show_ms", 500.0), **spec.get("point", {})), ""
    funcs = {"heatmap": heatmap, "lines": lines, "onset": onset}
    if kind not in funcs:
        raise SnnkitError(f"plot.kind: expected one of heatmap, lines, onset, raster, got {kind!r}")
    ax, table = funcs[kind](ds, **spec)
    if title:
        ax.figure.suptitle(title, fontsize=10)
    return ax.figure, table


def figure_name(spec: Mapping[str, Any], k: int) -> str:
    if "name" in spec:
        return str(spec["name"])
    parts = [spec.get("kind", "lines"), spec.get("measure", "")]
    parts += [spec[key] for key in ("x", "y", "hue") if spec.get(key)]
    return f"{k:02d}_" + "_".join(str(p) for p in parts if p)


def plot_sweep(ds: xr.Dataset, out_dir: str | Path, fmt: str = "png",
               figures: Sequence[Mapping[str, Any]] | None = None,
               results_path: str | Path | None = None,
               figures_file: str | Path | None = None) -> list[Path]:
    """Draw ``figures`` (default: the sweep's ``[[plot]]`` entries, else
    :func:`default_figures`) into ``out_dir``; write their tables to ``summary.md``.

    ``results_path`` (the ``results.nc`` the dataset came from) lets the summary
    name the commands that regenerate the figures and the data (with
    ``--figures figures_file`` when the figure specs came from a file).
    """
    if fmt not in ("png", "svg", "pdf"):
        raise SnnkitError(f"--format: expected png, svg or pdf, got {fmt!r}")
    if figures is None:
        from snnkit.dynamics.sweep.store import spec_of

        figures = list(spec_of(ds).plots) or default_figures(ds)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written, summary = [], [f"# {ds.attrs.get('title', 'sweep')}\n"]
    if results_path is not None:
        results = Path(results_path)
        option = f" --figures {figures_file}" if figures_file else ""
        summary.append(f"Figures: `snnkit plot {results}{option}`.  Data: `snnkit sweep "
                       f"{results.parent / 'sweep.toml'} --out NEW_FOLDER --plot` (the "
                       "resolved sweep; every point is deterministic in its seed).\n")
    expanded = []
    for fig_spec in figures:  # one figure per raster point
        if fig_spec.get("kind") == "raster" and "points" in fig_spec:
            for p in fig_spec["points"]:
                name = "raster_" + "_".join(f"{k}{_fmt(v)}" for k, v in p.items())
                expanded.append({"kind": "raster", "point": dict(p), "name": name,
                                 "show_ms": fig_spec.get("show_ms", 500.0)})
        else:
            expanded.append(fig_spec)
    for k, fig_spec in enumerate(expanded):
        fig, table = draw(ds, fig_spec)
        name = figure_name(fig_spec, k)
        path = out / f"{name}.{fmt}"
        atomic_write(path, lambda fh, f=fig: f.savefig(fh, format=fmt, dpi=130))
        plt.close(fig)
        written.append(path)
        if table:
            title = fig_spec.get("title", name)
            summary.append(f"## {title}\n\n![{name}]({path.name})\n\n{table}\n")
    atomic_write_text(out / "summary.md", "\n".join(summary))
    return written
