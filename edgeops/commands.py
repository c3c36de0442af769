"""One thin function per CLI command: parse nothing, call the workflow, render, return an int."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edgeops import ui, workflow
from edgeops.addresses import as_model_address
from edgeops.errors import EXIT_CHANGES, EXIT_OK, EXIT_USER_ERROR, EdgeopsError
from edgeops.plan import protection
from edgeops.plan.applier import raise_for_gates
from edgeops.plan.builder import live_drift
from edgeops.plan.render import render_drift, render_json, render_markdown, render_text
from edgeops.plan.stale import check_not_stale


def _session(args: argparse.Namespace, *, resolve: bool) -> workflow.Session:
    """The session of a read-only command (quiet progress)."""
    return workflow.open_session(
        workflow.config_file(args.file), ui.ConsoleReporter(quiet=True), resolve=resolve
    )


def cmd_init(args: argparse.Namespace) -> int:
    from edgeops import init

    request = init.Request(
        config=workflow.config_file(args.file),
        source=Path(args.source) if args.source else None,
        backend=args.backend,
        name=args.name,
        multi_label=args.multi_label,
        ci=args.ci,
        force=args.force,
    )
    ui.print_out(init.summary(init.scaffold(request, ui.ConsoleReporter())))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for file in args.files or [workflow.config_file(args.file)]:
        try:
            config = workflow.load_config(Path(file))
        except EdgeopsError as e:
            if not args.files:
                raise
            ui.error(str(e))
            failed += 1
            continue
        ui.print_out(
            f"{file}: valid ({len(config.datasets)} datasets, {len(config.models)} models, "
            f"{sum(len(p.targets) for p in config.publish)} publish targets)\n"
        )
    return EXIT_USER_ERROR if failed else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from edgeops.config.schema import load_schema

    ui.print_out(json.dumps(load_schema(), indent=2) + "\n")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    reporter = ui.ConsoleReporter()
    session = workflow.open_session(workflow.config_file(args.file), reporter)
    plan = session.plan(allow_destroy=args.allow_destroy, train=args.train)
    if args.format == "json":
        ui.print_out(render_json(plan))
    elif args.format == "markdown":
        ui.print_out(render_markdown(plan))
    else:
        ui.print_out(render_text(plan, color=ui.out.is_terminal, width=ui.out.width))
    protection.check(plan)  # after showing the plan, so the refusal has its context
    if args.out:
        workflow.save_plan(plan, Path(args.out))
        ui.note(f"Saved the plan to {args.out}. Apply exactly it with `edgeops apply {args.out}`.")
    if args.detailed_exitcode and (not plan.empty or plan.drift):
        return EXIT_CHANGES
    return EXIT_OK


def cmd_apply(args: argparse.Namespace) -> int:
    reporter = ui.ConsoleReporter()
    saved = workflow.load_plan(Path(args.plan_file)) if args.plan_file else None
    session = workflow.open_session(workflow.config_file(args.file, saved=saved), reporter)
    allow_destroy = args.allow_destroy or (saved is not None and saved.allow_destroy)
    with session.backend.lock("apply"):
        plan = session.plan(allow_destroy=allow_destroy)
        if saved is not None:
            check_not_stale(saved, plan)
        else:
            ui.print_out(render_text(plan, color=ui.out.is_terminal, width=ui.out.width))
            if plan.empty:
                return EXIT_OK
        protection.check(plan)
        if saved is None and not args.auto_approve and not _confirm():
            ui.note("Apply cancelled; nothing changed.")
            return EXIT_USER_ERROR
        if plan.empty:
            ui.print_out("No changes.\n")
            return EXIT_OK
        result = session.apply(plan)
    ui.print_out(
        f"Apply complete: {len(result.done)} change(s) made"
        + (f", {len(result.skipped)} skipped" if result.skipped else "")
        + ".\n"
    )
    for line in result.skipped:
        ui.note(f"  skipped: {line}")
    raise_for_gates(result)
    return EXIT_OK


def _confirm() -> bool:
    if not sys.stdin.isatty():
        raise EdgeopsError(
            "apply needs confirmation but stdin is not a terminal; "
            "pass --auto-approve, or apply a saved plan: `edgeops apply plan.json`"
        )
    ui.out.print("\nDo you want to apply these changes? Only 'yes' is accepted: ", end="")
    return input().strip() == "yes"


def cmd_drift(args: argparse.Namespace) -> int:
    session = _session(args, resolve=False)
    drift = live_drift(session.backend.read())
    if args.json:
        items = [{"address": a, "what": w} for a, w in drift]
        ui.print_out(json.dumps({"drift": items}, indent=2) + "\n")
    else:
        ui.print_out(render_drift(drift))
    return EXIT_CHANGES if drift else EXIT_OK


def cmd_ci(args: argparse.Namespace) -> int:
    from edgeops.ci.comment import comment_command

    assert args.ci_command == "comment"
    return comment_command(args)


def cmd_show(args: argparse.Namespace) -> int:
    from edgeops.views.show import live_to_dict, render_live

    session = _session(args, resolve=False)
    live = session.backend.read()
    if args.json:
        ui.print_out(json.dumps(live_to_dict(live), indent=2) + "\n")
    else:
        ui.print_out(render_live(live, width=ui.out.width if ui.out.is_terminal else 140))
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from edgeops.evaluation import apply_gate, render_html
    from edgeops.evaluation.compare import stored_comparison, with_vs_published
    from edgeops.files import atomic_write
    from edgeops.views.evaluation import render_evaluation

    session = _session(args, resolve=True)
    address = as_model_address(args.model)
    assert session.desired is not None
    desired = next((m for m in session.desired.models if m.address == address), None)
    live = session.backend.read().models.get(address)
    if desired is None or live is None or live.latest() is None:
        known = ", ".join(m.address for m in session.desired.models) or "none"
        raise EdgeopsError(
            f"{address}: no trained version (models in {session.config.path.name}: {known}); "
            "run `edgeops apply` first"
        )
    if args.version is not None:
        version = live.by_version(args.version)
        if version is None or version.status != "ready":
            have = ", ".join(f"v{v.version}" for v in live.versions if v.status == "ready")
            raise EdgeopsError(f"{address}: no version {args.version} (trained: {have})")
    else:
        version = live.by_fingerprint(desired.fingerprint) or live.latest()
    assert version is not None and version.threshold is not None
    evaluation, thumbs = session.backend.evaluation_of(address, version.version)
    gate = apply_gate(evaluation, version.threshold, desired.spec.gate)
    comparison = stored_comparison(version.metrics)
    title = f"{address} v{version.version}"
    if comparison is not None:
        gate = with_vs_published(gate, comparison, desired.spec.gate)
        champion = version.metrics["comparison"].get("champion")
        title += f" (compared with v{champion}, served when it was trained)" if champion else ""
    ui.print_out(
        render_evaluation(title, evaluation, version.threshold, gate, comparison=comparison)
    )
    if args.html:
        page = render_html(
            evaluation,
            title=title,
            threshold=version.threshold,
            gate=gate,
            thumbnails=thumbs,
            comparison=comparison,
        )
        atomic_write(Path(args.html), page.encode())
        ui.note(f"Wrote {args.html}")
    return EXIT_OK


def cmd_unlock(args: argparse.Namespace) -> int:
    from edgeops.backends.holder import describe

    session = _session(args, resolve=False)
    holder = session.backend.force_unlock()
    if holder is None:
        ui.print_out("Not locked.\n")
    else:
        ui.print_out(f"Removed the lock held by {describe(holder)}.\n")
    return EXIT_OK


def cmd_migrate_state(args: argparse.Namespace) -> int:
    from edgeops.backends import migrate_local_state

    config = workflow.load_config(workflow.config_file(args.file))
    done = migrate_local_state(
        config,
        args.source,
        endpoint_url=args.endpoint_url,
        force=args.force,
        reporter=ui.ConsoleReporter(),
    )
    ui.print_out(
        f"Copied the state from {done.source} to {done.destination}: {done.images} images and "
        f"{done.versions} model versions. `edgeops plan` now reads it there; the old copy is "
        "untouched (delete it once you are done).\n"
    )
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    from edgeops.review.server import serve

    def ready(url: str, session: object) -> None:
        ui.print_out(f"Reviewing {args.address} at {url} (Ctrl-C to stop)\n")

    serve(
        workflow.load_config(workflow.config_file(args.file)),
        args.address,
        port=args.port,
        open_browser=not args.no_browser,
        on_ready=ready,
    )
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace) -> int:
    from edgeops.health.render import render_health
    from edgeops.health.report import inspect_dataset
    from edgeops.resolve import cache_path
    from edgeops.review.server import find_dataset

    session = workflow.open_session(
        workflow.config_file(args.file), ui.ConsoleReporter(quiet=args.json), resolve=False
    )
    spec = find_dataset(session.config, args.address)
    doc = inspect_dataset(
        spec,
        root=session.config.root,
        cache_path=cache_path(session.config),
        backend=session.backend,
        reporter=session.reporter,
    )
    ui.print_out(json.dumps(doc, indent=2) + "\n" if args.json else render_health(doc))
    return EXIT_USER_ERROR if doc["errors"] else EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from edgeops.views.models import collect, render_models

    session = _session(args, resolve=False)
    data = collect(session.backend)
    if args.json:
        ui.print_out(json.dumps(data, indent=2) + "\n")
    else:
        ui.print_out(render_models(data, width=ui.out.width if ui.out.is_terminal else 140))
    return EXIT_OK


def _keep_in_sync(backend: Any, registry_db: Path, every: float = 10.0) -> None:
    """With state in a bucket, what apply publishes from any machine reaches this server:
    every ``every`` seconds the working copy is brought up to date (one request when nothing
    changed), and the server reads a replaced registry on its next request."""
    if getattr(backend, "remote", None) is None:
        return
    import threading

    def sync() -> None:
        while not stop.wait(every):
            try:
                backend.prepare_serving()
            except EdgeopsError as e:
                ui.note(f"could not read the state from the bucket ({e}); serving what it had")

    stop = threading.Event()
    threading.Thread(target=sync, name="edgeops-state-sync", daemon=True).start()


def cmd_serve(args: argparse.Namespace) -> int:
    from edgeops.backends.base import ModelRegistry
    from edgeops.serve.app import serve, settings_for

    settings = settings_for(
        workflow.load_config(workflow.config_file(args.file)),
        host=args.host,
        token=args.token,
        insecure=args.insecure,
        max_body_mb=args.max_body_mb,
        interpreters=args.interpreters,
    )
    backend = _session(args, resolve=False).backend
    if isinstance(backend, ModelRegistry):
        backend.prepare_serving()
        _keep_in_sync(backend, settings.registry_db)
    ui.note(
        f"Serving published models on http://{args.host}:{args.port}/v1/models"
        + (" (bearer token required)" if settings.token else "")
        + ". Ctrl-C stops."
    )
    serve(settings, args.host, args.port, access_log=not args.no_access_log)
    return EXIT_OK
