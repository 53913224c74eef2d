"""``stalwart replay``: compare selection strategies offline on a table of instances.

Examples
--------
::

    stalwart replay cct.csv --filter dt_len=10000 --strategy halving --warmup 5 \\
        --criterion mean --direction maximize --repeats 200
    stalwart replay cct.csv --filter dt_len=10000 --strategy racing --param test=welch \\
        --criterion mean --direction maximize --order 3,0,7,... --trace

    stalwart replay big.csv --strategy racing --param sided=two --budget-seconds 36000 \
        --tolerance 0.005 --direction maximize --format json > replays.json

    stalwart replay results.csv --strategy halving --warmup 3 --criterion worst \
        --criterion-param near_optimal_relative=0.05 --direction minimize

Nothing is adjusted silently: settings that cannot apply are refused (one line, exit 2)
and settings that make the replay uninformative (a warm-up that covers every instance, a
table with ``inf`` cells, a table of a study that never trained some instances, rows
with the same hyperparameters, a TPE search space that is no grid) give a one-line
``stalwart: warning:`` on standard error, printed once the replay has run so that a
refusal stays a single line. A long replay shows its progress on standard error when
that is a terminal (or with ``--progress``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from stalwart.analysis.outcome import Reference, ReplayOutcome, ReplaySummary
from stalwart.analysis.replay import (
    check_order,
    random_orders,
    reference_for,
    replay,
    replay_many,
    strategy_names,
)
from stalwart.analysis.table import ResultTable, read_table
from stalwart.checks import first, integer, number
from stalwart.errors import UserError

DEFAULT_REPEATS = 100
DEFAULT_TOP_K = 3

# The strategy parameter that counts instances per config, and so must fit the table.
INSTANCE_PARAMS: dict[str, str] = {"halving": "warmup", "racing": "start"}
# Their smallest valid values (the strategies refuse less).
LOWEST: dict[str, int] = {"warmup": 1, "start": 2}


def register(subparsers: Any) -> None:
    """Add the ``replay`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "replay",
        help="replay a selection strategy on a table of per-instance results",
        description="Replay a selection strategy (or a baseline) on a wide CSV of "
        "per-instance results, over random instance orders, and compare its pick with "
        "the exhaustive search over the whole table.",
    )
    p.add_argument("table", help="wide CSV: one row per config, one column per instance")
    p.add_argument("--strategy", required=True, help=f"one of: {', '.join(strategy_names())}")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a strategy parameter, e.g. test=welch, alpha=0.05 (repeatable)",
    )
    p.add_argument("--warmup", type=int, help="halving: instances before the first cut")
    p.add_argument(
        "--n-instances", type=int, help="most instances per config (default: all columns)"
    )
    p.add_argument("--criterion", default="mean", help="mean, median, std, pd, ... (default mean)")
    p.add_argument(
        "--criterion-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a criterion parameter, e.g. upper=90 for pd, or near_optimal=EPS / "
        "near_optimal_relative=R to score each config on its instances whose training loss "
        "is within EPS (R times) of its best (needs training-loss columns) (repeatable)",
    )
    p.add_argument("--direction", required=True, choices=("maximize", "minimize"))
    p.add_argument("--failures", default="worst", choices=("worst", "ignore"))
    p.add_argument(
        "--repeats",
        type=int,
        help=f"random instance orders (default {DEFAULT_REPEATS}; not with --order)",
    )
    p.add_argument("--seed", type=int, default=0, help="seeds the instance orders")
    p.add_argument("--budget", type=int, help="most trainings per replay")
    p.add_argument(
        "--budget-seconds",
        type=float,
        metavar="S",
        help="most training time per replay, in the table's seconds (needs time columns); "
        "no training starts once S are spent",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        metavar="T",
        help="report P(regret <= T), T in the metric's units (e.g. 0.005 for an accuracy)",
    )
    p.add_argument(
        "--param-columns",
        metavar="A,B,...",
        help="the hyperparameter columns (the TPE baselines search them; rows with the "
        "same values are warned about); default: every non-instance column",
    )
    p.add_argument(
        "--progress",
        action="store_true",
        help="show progress on standard error (default: only when it is a terminal)",
    )
    p.add_argument(
        "--order",
        help="replay one instance order: a permutation of 0..n-1 (column positions)",
    )
    p.add_argument(
        "--trace", action="store_true", help="print the models kept/removed at each step"
    )
    p.add_argument("--top-k", type=int, help=f"k of P(top-k) (default {DEFAULT_TOP_K})")
    p.add_argument("--value-pattern", help="instance value columns, e.g. 'ValAccuracy_{i}'")
    p.add_argument("--time-pattern", help="instance time columns, e.g. 'TrainingTime_{i}'")
    p.add_argument(
        "--train-loss-pattern",
        help="instance training-loss columns, e.g. 'TrainLoss_{i}' (default: train_loss_{i} "
        "when present); a near_optimal criterion needs them",
    )
    p.add_argument("--id-column", help="column holding the config id")
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="COL=VALUE",
        help="keep rows whose COL equals VALUE (repeatable)",
    )
    p.add_argument(
        "--format",
        default="table",
        choices=("table", "json"),
        help="json: the summary, every replay's pick, verdict, cost and survivors per "
        "instance count (\"replays\"), and the single replay with --order/--trace",
    )
    p.set_defaults(func=run)


# ---- flag parsing --------------------------------------------------------------------


def _scalar(text: str) -> Any:
    """``3`` -> int, ``0.05`` -> float, ``true``/``false`` -> bool, else the text."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def _pairs(items: list[str], flag: str, *, typed: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{flag} {item!r}: expected KEY=VALUE")
        if key.strip() in out:
            # The last one would win silently; the user meant one of them.
            raise UserError(f"{flag} {key.strip()}: given twice")
        out[key.strip()] = _scalar(value) if typed else value.strip()
    return out


def _parse_order(text: str, n: int) -> list[int]:
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise UserError(f"--order {text!r}: expected comma-separated integers") from None
    try:
        return check_order(values, n)
    except UserError as exc:
        raise UserError(f"--order: {exc}") from None


def _criterion(args: argparse.Namespace) -> Any:
    from stalwart.selection import get_criterion

    try:
        return get_criterion(args.criterion, **_pairs(args.criterion_param, "--criterion-param"))
    except ValueError as exc:
        raise UserError(f"--criterion: {exc}") from None


def _strategy_params(args: argparse.Namespace) -> dict[str, Any]:
    params = _pairs(args.param, "--param")
    if args.warmup is not None:
        if args.strategy != "halving":
            raise UserError(f"--warmup applies to halving, not {args.strategy}")
        if "warmup" in params:
            raise UserError("--warmup and --param warmup=...: give one of them")
        params["warmup"] = args.warmup
    return params


def _load(args: argparse.Namespace, notes: list[str]) -> ResultTable:
    """The table, restricted to the instances every config has (with a note)."""
    table = read_table(
        args.table,
        value_pattern=args.value_pattern,
        time_pattern=args.time_pattern,
        train_loss_pattern=args.train_loss_pattern,
        id_column=args.id_column,
        filter=_pairs(args.filter, "--filter", typed=False) or None,
    )
    notes.extend(table.notes)
    if table.n_missing == 0:
        return table
    # A study's own table: eliminated configs never ran their later instances. A replay
    # can only look up what every config has, so it replays those columns, all configs
    # kept; never-trained cells are not failures and are not guessed.
    full = table
    table = full.complete(args.table)
    notes.append(
        f"{args.table}: {full.n_missing} of {full.values.size} cells were never trained "
        f"(empty); replaying the {table.n_instances} instance(s) every config has "
        f"({_labels(table.instance_labels)}), {table.n_configs} configs; a replay of all "
        f"{full.n_instances} needs an exhaustive study's table"
    )
    return table


def _labels(labels: list[int]) -> str:
    if labels == list(range(labels[0], labels[0] + len(labels))) and len(labels) > 2:
        return f"columns {labels[0]}..{labels[-1]}"
    return "column" + ("s " if len(labels) > 1 else " ") + ",".join(map(str, labels))


def _strategy_default(strategy: str, param: str) -> Any:
    import inspect

    from stalwart.selection import STRATEGIES

    return inspect.signature(STRATEGIES[strategy]).parameters[param].default


def _check_fit(
    args: argparse.Namespace, table: ResultTable, params: dict[str, Any], notes: list[str]
) -> None:
    """Refuse settings the table cannot honour; note those that make the replay moot."""
    first(
        [
            *([] if args.n_instances is None else integer(
                "--n-instances", args.n_instances, low=1, high=table.n_instances)),
            *([] if args.top_k is None else integer(
                "--top-k", args.top_k, low=1, high=table.n_configs)),
        ],
        UserError,
    )
    n = table.n_instances if args.n_instances is None else args.n_instances
    key = INSTANCE_PARAMS.get(args.strategy)
    if key is None:
        return
    value = params.get(key)
    if value is None:
        # The default is the strategy's own (a study's default too), not one picked per
        # table: a replay should evaluate the strategy a study would run. On a small
        # table that default may cover every instance, which the user must hear about.
        default = _strategy_default(args.strategy, key)
        if default >= n:
            flag = "--warmup K" if key == "warmup" else f"--param {key}=K"
            hint = (f"pass {flag} with K < {n}" if n > LOWEST[key]
                    else "too few instances per config for anything else")
            notes.append(
                f"{args.strategy}'s default {key} of {default} instances covers all {n} "
                f"instances per config of the table: the replay is an exhaustive search "
                f"({hint})"
            )
        return
    flag = "--warmup" if args.warmup is not None else f"--param {key}"
    if isinstance(value, int) and not isinstance(value, bool):
        if value > n:
            raise UserError(
                f"{flag} {value}: the table has {n} instances per config (use at most {n})"
            )
        if value == n:
            notes.append(
                f"{flag} {value} covers all {n} instances per config: the replay is an "
                "exhaustive search"
            )


def _param_columns(args: argparse.Namespace, table: ResultTable) -> list[str] | None:
    """The ``--param-columns`` list, each checked against the table's columns."""
    if args.param_columns is None:
        return None
    names = [c.strip() for c in args.param_columns.split(",") if c.strip()]
    if not names:
        raise UserError("--param-columns: expected column names, e.g. lr,batch_size")
    if len(set(names)) != len(names):
        dup = next(c for c in names if names.count(c) > 1)
        raise UserError(f"--param-columns {dup}: given twice")
    keys: list[str] = []
    for hp in table.params:
        keys.extend(k for k in hp if k not in keys)
    for name in names:
        if name not in keys:
            raise UserError(
                f"--param-columns: no column {name!r} among the table's non-instance "
                f"columns ({', '.join(keys) or 'none'})"
            )
    return names


def _duplicate_notes(
    table: ResultTable, columns: list[str] | None, filtered: bool
) -> list[str]:
    """A warning when several rows share their hyperparameters: a ``--filter`` is
    probably missing (the rows differ in a setting such as the dataset size), or the
    table holds the same configs twice under different ids."""
    keys: list[str] = []
    for hp in table.params:
        keys.extend(k for k in hp if k not in keys)
    cols = keys if columns is None else columns
    if not cols:
        return []  # no hyperparameter columns at all: nothing to compare
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, hp in enumerate(table.params):
        groups.setdefault(tuple(repr(hp.get(c)) for c in cols), []).append(i)
    shared = [g for g in groups.values() if len(g) > 1]
    if not shared:
        return []
    n_rows = sum(len(g) for g in shared)
    a, b = shared[0][:2]
    pa, pb = table.params[a], table.params[b]
    differ = [k for k in keys if k not in cols and pa.get(k) != pb.get(k)]
    what = "hyperparameters" if columns is None else f"values of {', '.join(cols)}"
    text = (
        f"{n_rows} rows share their {what} with another row (e.g. "
        f"{table.config_ids[a]!r} and {table.config_ids[b]!r}"
    )
    if differ:
        # The setting to filter on: the one with the fewest values (a dataset size, not
        # a batch label).
        col = min(differ, key=lambda k: len({repr(hp.get(k)) for hp in table.params}))
        text += (
            f", which differ only in {', '.join(differ)}): a --filter is probably "
            f"missing (e.g. --filter {col}={pa.get(col)})"
        )
    else:
        text += "): the table may hold the same configs twice"
        if not filtered:
            text += " or need a --filter"
    return [text]


class _Progress:
    """``replay 37/200`` on standard error, rewritten in place on a terminal."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tty = sys.stderr.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        pct = 100 * done // total
        if self.tty:
            print(f"\r{self.name}: replay {done}/{total} ({pct}%)", end="", file=sys.stderr,
                  flush=True)
        elif pct // 10 > self.shown or done == total:
            self.shown = pct // 10
            print(f"{self.name}: replay {done}/{total} ({pct}%)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr, flush=True)


# ---- the command ---------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Handle ``stalwart replay``; returns the exit status."""
    names = strategy_names()
    if args.strategy not in names:
        raise UserError(f"--strategy {args.strategy!r} is unknown; valid: {', '.join(names)}")
    if args.order is not None and args.repeats is not None:
        raise UserError("--repeats does not apply with --order (one replay of that order)")
    first(
        [
            *([] if args.repeats is None else integer("--repeats", args.repeats, low=1)),
            *([] if args.top_k is None else integer("--top-k", args.top_k, low=1)),
            *([] if args.budget is None else integer("--budget", args.budget, low=1)),
            *([] if args.budget_seconds is None else number(
                "--budget-seconds", args.budget_seconds, low=0, low_open=True)),
            *([] if args.tolerance is None else number("--tolerance", args.tolerance, low=0)),
        ],
        UserError,
    )
    notes: list[str] = []
    table = _load(args, notes)
    if args.budget_seconds is not None and table.times is None:
        raise UserError(
            f"--budget-seconds: {args.table} has no time columns (pass --time-pattern)"
        )
    param_columns = _param_columns(args, table)
    notes.extend(_duplicate_notes(table, param_columns, bool(args.filter)))
    if args.strategy.startswith("tpe"):
        from stalwart.analysis.baselines import SearchSpace

        space = SearchSpace(table, param_columns)
        if space.warning:
            notes.append(f"{args.strategy}: {space.warning}")
    crit = _criterion(args)
    params = _strategy_params(args)
    _check_fit(args, table, params, notes)
    repeats = DEFAULT_REPEATS if args.repeats is None else args.repeats
    top_k = min(DEFAULT_TOP_K, table.n_configs) if args.top_k is None else args.top_k
    try:
        ref = reference_for(
            table, criterion=crit, direction=args.direction, failures=args.failures,
            top_k=top_k,
        )
    except UserError as exc:
        raise UserError(f"{args.table}: {exc}") from None
    common: dict[str, Any] = dict(
        criterion=crit,
        direction=args.direction,
        budget=args.budget,
        n_instances=args.n_instances,
        failures=args.failures,
        budget_seconds=args.budget_seconds,
        param_columns=param_columns,
        **params,
    )
    single: ReplayOutcome | None = None
    if args.order is not None or args.trace:
        order = (
            _parse_order(args.order, table.n_instances)
            if args.order is not None
            else random_orders(table.n_instances, 1, args.seed)[0]
        )
        single = replay(table, args.strategy, order=order, seed=args.seed, **common)
    summary: ReplaySummary | None = None
    if args.order is None:
        progress = _Progress(args.strategy) if args.progress or sys.stderr.isatty() else None
        summary = replay_many(
            table,
            args.strategy,
            repeats=repeats,
            seed=args.seed,
            top_k=top_k,
            reference=ref,
            report_tolerance=args.tolerance,
            progress=progress,
            **common,
        )
        if progress is not None:
            progress.close()
    # Only now, with every refusal behind us, so that an error stays one line.
    for note in notes:
        print(f"stalwart: warning: {note}", file=sys.stderr)
    if args.format == "json":
        doc: dict[str, Any] = {"notes": notes}
        if summary is not None:
            full = summary.to_dict(replays=True)
            doc["replays"] = full.pop("replays")
            doc["summary"] = full
        if single is not None:
            verdict = ref.judge(single.selection, args.tolerance)
            doc["replay"] = {**single.to_dict(), **vars(verdict)}
        print(json.dumps(_jsonable(doc), indent=2, allow_nan=False))
        return 0
    console = _console()
    if summary is not None:
        _print_summary(console, summary)
    if single is not None:
        _print_outcome(console, single, ref, args.tolerance)
        if args.trace:
            _print_trace(console, single)
    return 0


def _jsonable(value: Any) -> Any:
    """Strict JSON: NaN becomes null and infinities the strings ``inf``/``-inf``."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


# ---- rendering -----------------------------------------------------------------------


def _console() -> Any:
    from stalwart.cli.output import make_console

    # Wide enough for a trace row (ids, p-values, reasons) on one line, even when piped.
    return make_console(file=sys.stdout, width=max(140, make_console().width), highlight=False)


def _num(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return f"{value:.{digits}g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _kv_table(title: str, rows: list[tuple[str, str]]) -> Any:
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    return table


def _print_summary(console: Any, s: ReplaySummary) -> None:
    params = ", ".join(f"{k}={v}" for k, v in s.params.items())
    title = f"{s.strategy}" + (f" ({params})" if params else "")
    rows = [
        ("criterion", f"{s.criterion}, {s.direction}"),
        ("repeats (seed)", f"{s.repeats} ({s.seed})"),
        ("table", f"{s.n_configs} configs x {s.n_instances} instances"),
        ("exhaustive best", f"{s.best} ({_num(s.best_value)} +- {_num(s.best_se, 2)} SE)"),
        ("trainings", f"{s.trainings_mean:.1f} of {s.exhaustive_trainings} "
                      f"({_pct(s.trainings_fraction)}), max {s.trainings_max}"),
        ("training time", "-" if s.time_mean is None else
            f"{s.time_mean:.0f} s of {s.exhaustive_time:.0f} s ({_pct(s.time_fraction)})"
            + ("" if s.budget_seconds is None else
               f", budget {s.budget_seconds:g} s, max {s.time_max:.0f} s")),
        ("P(best)", _pct(s.p_best)),
        ("P(near-best)", _pct(s.p_near_best)),
        *([] if s.tolerance is None else [
            (f"P(regret <= {s.tolerance:g})", _pct(s.p_within_tolerance))]),
        (f"P(top-{s.top_k})", _pct(s.p_top_k)),
        ("regret median / p90", f"{_num(s.regret_median)} / {_num(s.regret_p90)}"),
        ("most frequent picks", ", ".join(f"{k} x{v}" for k, v in list(s.picks.items())[:3])),
    ]
    console.print(_kv_table(title, rows))


def _print_outcome(
    console: Any, o: ReplayOutcome, ref: Reference, tolerance: float | None = None
) -> None:
    v = ref.judge(o.selection, tolerance)
    rows = [
        ("order", ",".join(map(str, o.order))),
        ("selection", str(o.selection)),
        ("trainings", f"{o.trainings} of {ref.trainings} ({_pct(o.trainings / ref.trainings)})"),
        ("training time", "-" if o.time is None or not ref.time else
            f"{o.time:.0f} s ({_pct(o.time / ref.time)})"),
        ("exhaustive best", ref.best),
        ("best / near-best / top-k", f"{v.is_best} / {v.near_best} / {v.in_top_k}"),
        ("regret", _num(v.regret)
            + ("" if tolerance is None else f" (<= {tolerance:g}: {v.within_tolerance})")),
        ("survivors after 1, 2, ... instances",
            ", ".join(str(n) for _, n in o.survivors())),
    ]
    console.print(_kv_table(f"{o.strategy}: one replay", rows))


def _print_trace(console: Any, o: ReplayOutcome) -> None:
    """Step by step: survivors left and the removals with their evidence."""
    from rich.table import Table

    table = Table(title=f"{o.strategy}: trace", title_justify="left")
    for col in ("step", "survivors", "config", "action", "value", "vs", "n", "reason"):
        table.add_column(col)
    alive = o.n_configs
    for d in o.decisions:
        if d.action == "removed":
            alive -= 1
        if d.p_value is not None:
            vs = f"p={_num(d.p_value, 3)}"
        elif d.threshold is not None:
            vs = f"thr={_num(d.threshold)}"
        else:
            vs = "-"
        table.add_row(
            str(d.step), str(alive), d.config_id, d.action, _num(d.value), vs,
            "-" if d.n_instances is None else str(d.n_instances), d.reason,
        )
    console.print(table)
